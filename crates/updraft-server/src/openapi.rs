//! The OpenAPI document of the management API, generated from the handlers'
//! `#[utoipa::path]` annotations and the wire types' `ToSchema` derives, so it
//! cannot drift from the code. Served at `/api/v1/openapi.json`; its paths are
//! relative to the server `/api/v1`.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    api, bundle_upload, changes, channels, cohorts, devices, explain, hooks, keys, manifest_files,
    revoke, rollouts, schedules, webhooks,
};

/// The document's definition: every `/api/v1` operation.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Updraft management API",
        version = "1",
        description = "Management API of updraft-server. Authenticate with `Authorization: Bearer <key>` (Capgo's raw `authorization: <key>` and `capgkey: <key>` also work). Every error reply is `{\"error\",\"message\",\"moreInfo\"}` with a stable `error` code. Key modes: read < upload < write < all (the mode each operation needs is its security requirement's role); a key may be limited to some apps. JSON request bodies are read whatever their content type."
    ),
    servers((url = "/api/v1")),
    paths(
        api::list_apps, api::create_app, api::get_app, api::update_app, api::delete_app,
        api::list_bundles, bundle_upload::upload_bundle, bundle_upload::register_external,
        api::get_bundle, api::update_bundle, api::delete_bundle, revoke::revoke_bundle,
        manifest_files::missing_files, manifest_files::upload_file, manifest_files::set_manifest,
        channels::list_channels, channels::create_channel, channels::get_channel, channels::update_channel,
        channels::delete_channel, channels::channel_history, channels::rollback_channel,
        cohorts::list_cohorts, cohorts::put_cohort, cohorts::delete_cohort,
        schedules::create_schedule, schedules::list_schedules, schedules::cancel_schedule,
        devices::list_devices, devices::get_device, devices::set_override, devices::remove_override,
        devices::clear_blocks, devices::list_events, devices::list_offers, devices::check_counts, explain::explain,
        explain::explain_device,
        rollouts::start_rollout, rollouts::rollout_status, rollouts::rollout_action,
        rollouts::list_rollouts, rollouts::metrics,
        changes::list_changes, changes::audit,
        webhooks::list_webhooks, webhooks::create_webhook, webhooks::get_webhook,
        webhooks::update_webhook, webhooks::delete_webhook, webhooks::rotate_secret,
        webhooks::test_webhook, webhooks::list_deliveries,
        hooks::create_hook, hooks::list_hooks, hooks::delete_hook,
        keys::me, keys::list_keys, keys::create_key, keys::delete_key, api::openapi,
    ),
    components(schemas(
        updraft_protocol::error::ErrorBody,
        updraft_protocol::api::RolloutVerb,
        updraft_protocol::api::Target,
        updraft_protocol::api::CustomIdRule,
    )),
    modifiers(&ErrorReplies),
)]
pub(crate) struct ApiDoc;

/// Adds the bearer scheme, the shared `Error` reply, and to every operation
/// that needs a key the error statuses it can answer.
struct ErrorReplies;

impl Modify for ErrorReplies {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.responses.insert(
            "Error".into(),
            RefOr::T(
                ResponseBuilder::new()
                    .description("The error envelope.")
                    .content(
                        "application/json",
                        utoipa::openapi::content::Content::new(Some(Ref::from_schema_name(
                            "ErrorBody",
                        ))),
                    )
                    .build(),
            ),
        );
        for item in doc.paths.paths.values_mut() {
            let ops = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Patch, &mut item.patch),
                (HttpMethod::Delete, &mut item.delete),
            ];
            for (method, op) in ops {
                if let Some(op) = op {
                    add_errors(&method, op);
                }
            }
        }
    }
}

/// The statuses an operation can answer with the envelope.
fn add_errors(method: &HttpMethod, op: &mut Operation) {
    let needs_key = op
        .security
        .as_ref()
        .is_some_and(|s| !s.is_empty() && s.iter().any(|r| r != &Default::default()));
    if !needs_key {
        return;
    }
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let has_body = op.request_body.is_some();
    let mut statuses = Vec::new();
    if has_params || has_body {
        statuses.push(("400", "Bad request: a malformed path parameter, query string or body, or a value the server refuses."));
    }
    statuses.push(("401", "No API key, or an invalid or expired one."));
    let scoped = op.security.iter().flatten().any(|r| {
        serde_json::to_value(r).is_ok_and(|v| {
            v.as_object().is_some_and(|o| {
                o.values()
                    .any(|s| s.as_array().is_some_and(|a| !a.is_empty()))
            })
        })
    });
    if scoped {
        statuses.push((
            "403",
            "The key's mode or app allow-list does not allow this.",
        ));
    }
    if has_params {
        statuses.push(("404", "The app, or the object named in the path, does not exist (or is out of the key's reach)."));
    }
    if *method != HttpMethod::Get {
        statuses.push((
            "409",
            "Conflicts with the current state (a name taken, an object in use).",
        ));
    }
    if has_body {
        statuses.push(("413", "The body is larger than the server's limit."));
    }
    statuses.push(("500", "Internal error; details are in the server log."));
    for (status, description) in statuses {
        op.responses
            .responses
            .entry(status.into())
            .or_insert_with(|| RefOr::T(Response::new(description).tap_content()));
    }
}

/// An error reply with the envelope as its body.
trait TapContent {
    fn tap_content(self) -> Self;
}

impl TapContent for Response {
    fn tap_content(mut self) -> Self {
        self.content.insert(
            "application/json".into(),
            utoipa::openapi::content::Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        );
        self
    }
}

/// A raw zip body (`type: string, format: binary`).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct ZipBody(#[allow(dead_code, reason = "only its schema is used")] Vec<u8>);

/// The document as JSON text, built once.
pub fn document_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc =
            serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
        merge_flattened(&mut doc);
        require_channel_name(&mut doc);
        serde_json::to_string_pretty(&doc).expect("the OpenAPI document serialises")
    })
}

/// A struct with a `#[serde(flatten)]` field comes out of utoipa as `allOf`
/// of the parts; when a part has `additionalProperties: false` (serde's
/// `deny_unknown_fields`), no object can satisfy every part. What serde reads
/// is one object with the union of the fields: say exactly that.
fn merge_flattened(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
    else {
        return;
    };
    for (name, schema) in &schemas {
        let Some(parts) = schema.get("allOf").and_then(Value::as_array) else {
            continue;
        };
        let mut properties = Map::new();
        let mut required = Vec::new();
        let mut closed = false;
        for part in parts {
            let part = match part.get("$ref").and_then(Value::as_str) {
                Some(r) => match r
                    .strip_prefix("#/components/schemas/")
                    .and_then(|n| schemas.get(n))
                {
                    Some(p) => p,
                    None => return,
                },
                None => part,
            };
            if part.get("type") != Some(&json!("object")) {
                // Not a plain object part: leave this schema as utoipa made it.
                properties.clear();
                break;
            }
            if let Some(p) = part.get("properties").and_then(Value::as_object) {
                properties.extend(p.clone());
            }
            if let Some(r) = part.get("required").and_then(Value::as_array) {
                required.extend(r.iter().cloned());
            }
            closed |= part.get("additionalProperties") == Some(&json!(false));
        }
        if properties.is_empty() {
            continue;
        }
        let mut merged = json!({"type": "object", "properties": properties});
        if !required.is_empty() {
            merged["required"] = Value::Array(required);
        }
        if closed {
            merged["additionalProperties"] = json!(false);
        }
        if let Some(d) = schema.get("description") {
            merged["description"] = d.clone();
        }
        doc["components"]["schemas"][name] = merged;
    }
}

/// Creating a channel takes the same fields as changing one, but `name` is
/// required (the store refuses a channel without one).
fn require_channel_name(doc: &mut Value) {
    let pointer =
        "/paths/~1apps~1{app_id}~1channels/post/requestBody/content/application~1json/schema";
    if let Some(schema) = doc.pointer_mut(pointer) {
        *schema = json!({
            "allOf": [schema.take()],
            "required": ["name"],
            "properties": {"name": {"type": "string"}},
        });
    }
}
