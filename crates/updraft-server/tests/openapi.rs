//! The management API's contract: every error reply is the JSON envelope
//! `{"error","message","moreInfo"}` (axum's own rejections included), and the
//! OpenAPI document served at `/api/v1/openapi.json` is generated from the
//! code, matches a reviewed snapshot, and documents every route.

use serde_json::Value;
use updraft_test_support::*;

/// Sends `method path` with the admin key and `body` (raw text), and returns
/// the status, the content type and the body parsed as JSON (or the raw text).
async fn raw(
    s: &Server,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, String, Value, reqwest::header::HeaderMap) {
    let mut req = s
        .http
        .request(method.parse().unwrap(), s.url(path))
        .header("authorization", format!("Bearer {ADMIN}"));
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if !body.is_empty() {
        req = req.body(body.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = res.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, ct, v, headers)
}

#[track_caller]
fn assert_envelope(
    got: &(u16, String, Value, reqwest::header::HeaderMap),
    status: u16,
    code: &str,
) {
    let (st, ct, v, _) = got;
    assert_eq!(*st, status, "status of {v}");
    assert!(
        ct.starts_with("application/json"),
        "content type {ct:?} of {v}"
    );
    assert_eq!(v["error"], code, "{v}");
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message of {v}"
    );
    assert!(v["moreInfo"].is_object(), "moreInfo of {v}");
}

#[tokio::test]
async fn axum_rejections_are_the_json_error_envelope() {
    let s = Server::start().await;
    s.with_app().await;

    // A path parameter of the wrong type.
    let r = raw(&s, "DELETE", "/api/v1/keys/not-a-number", None, "").await;
    assert_envelope(&r, 400, "invalid_path_parameter");

    // A query string the handler cannot read: unknown field, wrong type.
    let r = raw(
        &s,
        "GET",
        &format!("/api/v1/apps/{APP}/devices?limit=many"),
        None,
        "",
    )
    .await;
    assert_envelope(&r, 400, "invalid_query");
    let r = raw(
        &s,
        "GET",
        &format!("/api/v1/apps/{APP}/devices?colour=red"),
        None,
        "",
    )
    .await;
    assert_envelope(&r, 400, "invalid_query");
    let r = raw(
        &s,
        "GET",
        &format!("/api/v1/apps/{APP}/events?limit=many"),
        None,
        "",
    )
    .await;
    assert_envelope(&r, 400, "invalid_query");
    let r = raw(
        &s,
        "POST",
        &format!("/api/v1/apps/{APP}/bundles"),
        None,
        "zip",
    )
    .await;
    assert_envelope(&r, 400, "invalid_query");

    // JSON bodies: not JSON, wrong shape, a wrong content type (JSON is read
    // whatever the content type says, so `curl -d` works; a non-JSON body is refused).
    let r = raw(&s, "POST", "/api/v1/apps", Some("application/json"), "{").await;
    assert_envelope(&r, 400, "invalid_json_body");
    let r = raw(
        &s,
        "POST",
        "/api/v1/apps",
        Some("application/json"),
        r#"{"app_id":1}"#,
    )
    .await;
    assert_envelope(&r, 400, "invalid_json_body");
    // serde reads a struct from an array too; the API takes objects only.
    let r = raw(
        &s,
        "PATCH",
        &format!("/api/v1/apps/{APP}"),
        Some("application/json"),
        "[null, null]",
    )
    .await;
    assert_envelope(&r, 400, "invalid_json_body");
    let r = raw(&s, "POST", "/api/v1/apps", Some("text/plain"), "app_id=x").await;
    assert_envelope(&r, 400, "invalid_json_body");
    let r = raw(
        &s,
        "POST",
        "/api/v1/apps",
        Some("application/x-www-form-urlencoded"),
        r#"{"app_id":"com.example.form"}"#,
    )
    .await;
    assert_eq!(r.0, 201, "{:?}", r.2);

    // A method the path does not take: 405 with Allow kept.
    let r = raw(&s, "PUT", "/api/v1/apps", None, "").await;
    assert_envelope(&r, 405, "method_not_allowed");
    let allow = r.3.get("allow").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow:?}"
    );
    let r = raw(&s, "PATCH", "/updates", None, "").await;
    assert_envelope(&r, 405, "method_not_allowed");

    // Bodies over the limit (64 KiB in tests): JSON routes and the device routes.
    let big = format!(r#"{{"app_id":"{}"}}"#, "a".repeat(70 * 1024));
    let r = raw(&s, "POST", "/api/v1/apps", Some("application/json"), &big).await;
    assert_envelope(&r, 413, "payload_too_large");
    let r = raw(&s, "POST", "/updates", Some("application/json"), &big).await;
    assert_envelope(&r, 413, "payload_too_large");
    let r = raw(&s, "POST", "/stats", Some("application/json"), &big).await;
    assert_envelope(&r, 413, "payload_too_large");

    // Unknown paths, inside and outside the API.
    let r = raw(&s, "GET", "/api/v1/nothing", None, "").await;
    assert_envelope(&r, 404, "not_found");
    let r = raw(&s, "GET", "/nothing", None, "").await;
    assert_envelope(&r, 404, "not_found");

    // None of the refused requests changed anything.
    let (_, apps) = s.api("GET", "/apps", None).await;
    let ids: Vec<&str> = apps
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["app_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(
        ids.contains(&APP) && ids.contains(&"com.example.form"),
        "{ids:?}"
    );
}

/// The generated document, as a reviewer sees it: any change to an operation,
/// a parameter or a wire type shows up in this snapshot's diff.
#[test]
fn the_document_matches_its_reviewed_snapshot() {
    let doc: Value = serde_json::from_str(updraft_server::openapi::document_json()).unwrap();
    insta::assert_json_snapshot!("openapi", doc);
}

#[tokio::test]
async fn the_served_document_is_the_generated_one_and_every_operation_exists() {
    let s = Server::start().await;
    s.with_app().await;
    let res = s
        .http
        .get(s.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let served: Value = res.json().await.unwrap();
    let generated: Value = serde_json::from_str(updraft_server::openapi::document_json()).unwrap();
    assert_eq!(served, generated);
    assert_eq!(served["servers"][0]["url"], "/api/v1");

    // What schemathesis found: `GET /keys` replies with an array, and says so.
    let keys = &served["paths"]["/keys"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert_eq!(keys["type"], "array", "{keys}");

    // Every documented operation is routed, and every one that needs a key
    // refuses a request without one with the envelope (so none is open by mistake).
    let mut count = 0;
    for (path, item) in served["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let concrete = path
                .replace("{app_id}", APP)
                .replace("{version}", "1.0.0")
                .replace("{name}", "production")
                .replace("{device_id}", DEV)
                .replace("{id}", "1");
            let res = s
                .http
                .request(
                    method.to_uppercase().parse().unwrap(),
                    s.url(&format!("/api/v1{concrete}")),
                )
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let open = op["security"] == serde_json::json!([{}]);
            if open {
                assert_eq!(status, 200, "{method} {path}");
            } else {
                assert_eq!(status, 401, "{method} {path} without a key");
                let v: Value = res.json().await.unwrap();
                assert_eq!(v["error"], "no_key_provided", "{method} {path}");
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path} documents 401"
                );
            }
            count += 1;
        }
    }
    assert_eq!(count, 61, "operations documented");
}

/// Found by schemathesis: a channel could be renamed to "" (the schema said
/// a name is not blank, the server took it).
#[tokio::test]
async fn a_channel_name_is_never_blank() {
    let s = Server::start().await;
    s.with_app().await;
    let path = format!("/apps/{APP}/channels");
    let (st, v) = s
        .api("POST", &path, Some(serde_json::json!({"name": " "})))
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_name")),
        "{v}"
    );
    let (st, _) = s
        .api("POST", &path, Some(serde_json::json!({"name": "beta"})))
        .await;
    assert_eq!(st, 201);
    let (st, v) = s
        .api(
            "PATCH",
            &format!("{path}/beta"),
            Some(serde_json::json!({"name": ""})),
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_name")),
        "{v}"
    );
    let (st, v) = s.api("GET", &format!("{path}/beta"), None).await;
    assert_eq!(
        (st, v["name"].as_str()),
        (200, Some("beta")),
        "unchanged: {v}"
    );
}
