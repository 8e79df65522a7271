//! The audit trail's reading of a change: the fields a write changed, from
//! the object before and after it that the write recorded.

use serde_json::Value;
use updraft_protocol::api::FieldChange;

/// Fields that change on every write or only restate another: not shown.
const NOISE: &[&str] = &["updated_at", "created_at", "bundle_id", "revision"];

/// The fields that differ between the payload's `before` and `after`
/// objects (by name, then fields only `before` had); empty when the payload
/// has not both.
pub fn field_changes(payload: &Value) -> Vec<FieldChange> {
    let (Some(before), Some(after)) = (
        payload.get("before").and_then(Value::as_object),
        payload.get("after").and_then(Value::as_object),
    ) else {
        return Vec::new();
    };
    let mut out: Vec<FieldChange> = after
        .iter()
        .filter(|(k, v)| !NOISE.contains(&k.as_str()) && before.get(*k) != Some(*v))
        .map(|(k, v)| FieldChange {
            field: k.clone(),
            before: before.get(k).cloned().unwrap_or(Value::Null),
            after: v.clone(),
        })
        .collect();
    out.extend(
        before
            .iter()
            .filter(|(k, v)| {
                !NOISE.contains(&k.as_str()) && !after.contains_key(*k) && !v.is_null()
            })
            .map(|(k, v)| FieldChange {
                field: k.clone(),
                before: v.clone(),
                after: Value::Null,
            }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_fields_that_changed_are_listed() {
        let p = json!({
            "channel": "production",
            "before": {"public": false, "bundle_version": "1.0.1", "updated_at": 1, "target": {"country": ["FR"]}},
            "after": {"public": true, "bundle_version": "1.0.1", "updated_at": 2, "critical": true},
        });
        let got = field_changes(&p);
        let fields: Vec<&str> = got.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            ["critical", "public", "target"],
            "by name, then fields only before had"
        );
        assert_eq!(got[1].before, json!(false));
        assert_eq!(got[0].before, Value::Null);
        assert_eq!(got[2].after, Value::Null);
        assert!(field_changes(&json!({"channel": "x"})).is_empty());
        assert!(field_changes(&json!({"before": null, "after": {"a": 1}})).is_empty());
    }
}
