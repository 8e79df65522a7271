//! Unit tests of targeting rules: each kind, the combinators, the facts a
//! device lacks, the explain text and the limits.

use super::*;
use serde_json::json;

const DEVICE: &str = "00000000-0000-4000-8000-000000000001";

fn rule(v: serde_json::Value) -> Target {
    serde_json::from_value(v).expect("a rule")
}

fn native(v: &str) -> semver::Version {
    semver::Version::parse(v).unwrap()
}

fn subject<'a>(
    native: &'a semver::Version,
    country: Option<&'a str>,
    custom: Option<&'a str>,
) -> Subject<'a> {
    Subject {
        device_id: DEVICE,
        custom_id: custom,
        platform: Platform::Android,
        native,
        country,
    }
}

fn hit(r: serde_json::Value, s: &Subject<'_>) -> bool {
    matches(&rule(r), s, &HashMap::new())
}

#[test]
fn each_kind_matches_what_it_names() {
    let v = native("2.3.0");
    let s = subject(&v, Some("FR"), Some("qa-7"));
    assert!(hit(json!({"platform": ["ios", "android"]}), &s));
    assert!(!hit(json!({"platform": ["ios"]}), &s));
    assert!(hit(json!({"native": ">=2.0.0, <3"}), &s));
    assert!(!hit(json!({"native": "<2"}), &s));
    assert!(
        hit(json!({"country": ["de", "fr"]}), &s),
        "codes compare in any case"
    );
    assert!(!hit(json!({"country": ["DE"]}), &s));
    assert!(hit(json!({"custom_id": {"equals": "qa-7"}}), &s));
    assert!(
        !hit(json!({"custom_id": {"equals": "QA-7"}}), &s),
        "custom ids are exact"
    );
    assert!(hit(json!({"custom_id": {"in": ["x", "qa-7"]}}), &s));
    assert!(hit(json!({"custom_id": {"prefix": "qa-"}}), &s));
    assert!(!hit(json!({"custom_id": {"prefix": "qb-"}}), &s));
    assert!(
        hit(json!({"device_id": [DEVICE.to_uppercase()]}), &s),
        "device ids in any case"
    );
    assert!(!hit(
        json!({"device_id": ["00000000-0000-4000-8000-000000000002"]}),
        &s
    ));
}

#[test]
fn a_missing_fact_matches_no_rule_about_it_and_not_inverts_that() {
    let v = native("1.0.0");
    let s = subject(&v, None, None);
    assert!(!hit(json!({"country": ["FR"]}), &s));
    assert!(hit(json!({"not": {"country": ["FR"]}}), &s));
    assert!(!hit(json!({"custom_id": {"prefix": ""}}), &s));
    assert!(!hit(json!({"cohort": "nobody-made-this"}), &s));
}

#[test]
fn all_and_any_combine_and_empty_lists_mean_every_and_no_device() {
    let v = native("1.0.0");
    let s = subject(&v, Some("FR"), None);
    assert!(hit(
        json!({"all": [{"country": ["FR"]}, {"platform": ["android"]}]}),
        &s
    ));
    assert!(!hit(
        json!({"all": [{"country": ["FR"]}, {"platform": ["ios"]}]}),
        &s
    ));
    assert!(hit(
        json!({"any": [{"country": ["DE"]}, {"platform": ["android"]}]}),
        &s
    ));
    assert!(!hit(
        json!({"any": [{"country": ["DE"]}, {"platform": ["ios"]}]}),
        &s
    ));
    assert!(hit(json!({"all": []}), &s));
    assert!(!hit(json!({"any": []}), &s));
}

#[test]
fn a_cohort_matches_by_device_id_or_custom_id() {
    let v = native("1.0.0");
    let cohorts = cohorts_of(&[NamedCohort {
        name: "beta".into(),
        device_ids: vec![DEVICE.to_uppercase()],
        custom_ids: vec!["tester".into()],
        updated_at: 0,
    }]);
    let by_id = subject(&v, None, None);
    assert!(matches(&rule(json!({"cohort": "beta"})), &by_id, &cohorts));
    let other = Subject {
        device_id: "00000000-0000-4000-8000-000000000009",
        ..subject(&v, None, Some("tester"))
    };
    assert!(matches(&rule(json!({"cohort": "beta"})), &other, &cohorts));
    let stranger = Subject {
        custom_id: None,
        ..other
    };
    assert!(!matches(
        &rule(json!({"cohort": "beta"})),
        &stranger,
        &cohorts
    ));
}

#[test]
fn explain_reads_the_rule_and_the_facts_it_used() {
    let r = rule(json!({"all": [
        {"any": [{"country": ["FR", "DE"]}, {"custom_id": {"equals": "vip"}}]},
        {"not": {"platform": ["ios"]}},
        {"native": ">=2"}
    ]}));
    assert_eq!(
        describe(&r),
        "(country in FR, DE or custom id vip) and not platform in ios and native >=2"
    );
    let v = native("2.0.0");
    assert_eq!(
        facts(&r, &subject(&v, None, Some("vip"))),
        "platform android, native 2.0.0, country unknown, custom id vip"
    );
    let ids: Vec<String> = (0..7)
        .map(|i| format!("00000000-0000-4000-8000-00000000000{i}"))
        .collect();
    assert!(describe(&Target::DeviceId(ids)).ends_with("and 2 more"));
}

#[test]
fn validation_names_what_is_wrong() {
    let err = |v: serde_json::Value| validate(&rule(v)).unwrap_err();
    assert!(err(json!({"platform": ["web"]})).contains("\"web\" is not ios"));
    assert!(err(json!({"native": "two"})).contains("not a semver range"));
    assert!(err(json!({"country": ["FRA"]})).contains("two-letter"));
    assert!(err(json!({"country": []})).contains("empty"));
    assert!(err(json!({"device_id": ["nope"]})).contains("not a UUID"));
    assert!(err(json!({"custom_id": {"prefix": ""}})).contains("empty"));
    assert!(err(json!({"cohort": "a b"})).contains("cohort name"));
    let mut deep = json!({"country": ["FR"]});
    for _ in 0..MAX_DEPTH {
        deep = json!({"not": deep});
    }
    assert!(err(deep).contains("nests at most"));
    let wide: Vec<_> = (0..=MAX_NODES)
        .map(|_| json!({"country": ["FR"]}))
        .collect();
    assert!(err(json!({"any": wide})).contains("at most"));
    let many: Vec<String> = (0..=MAX_IDS).map(|i| format!("c{i}")).collect();
    assert!(err(json!({"custom_id": {"in": many}})).contains("ids in all"));
    assert!(validate(&rule(
        json!({"all": [{"country": ["fr"]}, {"cohort": "beta-1"}]})
    ))
    .is_ok());
}

#[test]
fn unknown_rule_kinds_and_extra_keys_are_refused() {
    assert!(serde_json::from_value::<Target>(json!({"region": ["EU"]})).is_err());
    assert!(
        serde_json::from_value::<Target>(json!({"country": ["FR"], "platform": ["ios"]})).is_err()
    );
    assert!(serde_json::from_value::<Target>(json!({"custom_id": {"suffix": "x"}})).is_err());
}

#[test]
fn cohorts_named_lists_each_once() {
    let r = rule(json!({"any": [{"cohort": "a"}, {"not": {"cohort": "b"}}, {"cohort": "a"}]}));
    assert_eq!(cohorts_named(&r), vec!["a", "b"]);
}
