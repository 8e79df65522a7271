//! The body of a webhook delivery, one shape for queued events and test
//! deliveries: `{"type", "timestamp", "data"}` as Standard Webhooks
//! suggests, `timestamp` in RFC 3339 (UTC, milliseconds).

use serde_json::{Map, Value};

/// Epoch milliseconds as RFC 3339 UTC with milliseconds; the epoch for a
/// time out of range.
pub fn rfc3339(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The body of an event of type `kind` at `at_ms` carrying `data`.
pub fn body(kind: &str, at_ms: i64, data: Map<String, Value>) -> Value {
    let mut body = Map::new();
    body.insert("type".into(), kind.into());
    body.insert("timestamp".into(), rfc3339(at_ms).into());
    body.insert("data".into(), Value::Object(data));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_names_its_type_and_time() {
        let mut data = Map::new();
        data.insert("app_id".into(), "com.example.app".into());
        assert_eq!(
            body("bundle.created", 1_764_990_000_123, data),
            json!({"type": "bundle.created", "timestamp": "2025-12-06T03:00:00.123Z",
                   "data": {"app_id": "com.example.app"}})
        );
        assert_eq!(rfc3339(i64::MAX), "1970-01-01T00:00:00.000Z");
    }
}
