//! `device list|get|set-channel|pin|unset|explain|unblock`.

use std::collections::HashSet;

use serde_json::{json, Value};
use updraft_client::Client;
use updraft_protocol::api::{Device, DeviceOverride, Page, SetOverride};

use crate::args::DeviceCommand;
use crate::error::CliResult;
use crate::output::{table, when};
use crate::render::{explain::explanation, Paint};
use crate::Ctx;

fn override_text(d: &Device) -> String {
    match &d.device_override {
        Some(DeviceOverride::Channel { channel }) => format!("channel {channel}"),
        Some(DeviceOverride::Bundle { version }) => format!("pinned to {version}"),
        None => "-".into(),
    }
}

/// The app's bundle versions, to tell a device on its builtin bundle from one
/// on a downloaded bundle named like its native version.
type Versions = HashSet<String>;

/// The bundle the device runs, as far as its record says. The plugin reports
/// its native version as its bundle while on the builtin one, so that is
/// [`Running::Builtin`] unless the app has a bundle of that name too; then it
/// cannot be told apart ([`Running::MaybeBuiltin`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Running {
    Builtin,
    MaybeBuiltin(String),
    Bundle(String),
}

fn running(d: &Device, versions: &Versions) -> Option<Running> {
    let name = d.version_name.clone()?;
    Some(match &d.version_build {
        Some(native) if *native == name && versions.contains(&name) => Running::MaybeBuiltin(name),
        Some(native) if *native == name => Running::Builtin,
        _ => Running::Bundle(name),
    })
}

/// The bundle column: `builtin`, `1.2.0 (or builtin)` or `1.2.0`.
fn bundle_text(d: &Device, versions: &Versions) -> Option<String> {
    running(d, versions).map(|r| match r {
        Running::Builtin => "builtin".into(),
        Running::MaybeBuiltin(v) => format!("{v} (or builtin)"),
        Running::Bundle(v) => v,
    })
}

/// The device as the server returns it, plus `bundle` (`builtin` or the
/// version) and `maybe_builtin` (the version is also the native version).
fn device_json(d: &Device, versions: &Versions) -> Value {
    let mut v = json!(d);
    let r = running(d, versions);
    v["bundle"] = match &r {
        None => Value::Null,
        Some(Running::Builtin) => json!("builtin"),
        Some(Running::MaybeBuiltin(v) | Running::Bundle(v)) => json!(v),
    };
    v["maybe_builtin"] = json!(matches!(r, Some(Running::MaybeBuiltin(_))));
    v
}

/// A page of devices as the server returns it, each with `bundle`.
fn list_json(page: &Page<Device>, versions: &Versions) -> Value {
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|d| device_json(d, versions))
        .collect();
    let mut v = json!({ "items": items });
    if let Some(c) = &page.next_cursor {
        v["next_cursor"] = json!(c);
    }
    v
}

fn show(d: &Device, versions: &Versions) -> String {
    let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    format!(
        "device     {}\ncustom id  {}\nplatform   {}\nbundle     {}\nnative     {}\nplugin     {}\nchannel    {}\noverride   {}\nfailed     {}\nlast seen  {}",
        d.device_id,
        o(&d.custom_id),
        o(&d.platform),
        o(&bundle_text(d, versions)),
        o(&d.version_build),
        o(&d.plugin_version),
        o(&d.default_channel),
        override_text(d),
        if d.failed_bundles.is_empty() { "-".into() } else { d.failed_bundles.join(", ") },
        d.last_seen.map(when).unwrap_or_else(|| "-".into()),
    )
}

/// The app's bundle versions (one request).
async fn versions(client: &Client, app: &str) -> CliResult<Versions> {
    Ok(client
        .list_bundles(app)
        .await?
        .into_iter()
        .map(|b| b.version)
        .collect())
}

/// The bundle versions when the result is JSON (the text does not show the bundle).
async fn json_versions(ctx: &Ctx, client: &Client, app: &str) -> CliResult<Versions> {
    if ctx.out.json {
        versions(client, app).await
    } else {
        Ok(Versions::new())
    }
}

pub(crate) async fn run(ctx: &Ctx, c: DeviceCommand) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    match c {
        DeviceCommand::List { search, limit } => {
            let page = client
                .list_devices(&app, search.as_deref(), None, Some(limit))
                .await?;
            let versions = versions(&client, &app).await?;
            let rows: Vec<Vec<String>> = page
                .items
                .iter()
                .map(|d| {
                    vec![
                        d.device_id.clone(),
                        d.platform.clone().unwrap_or_default(),
                        bundle_text(d, &versions).unwrap_or_default(),
                        override_text(d),
                        d.last_seen.map(when).unwrap_or_default(),
                    ]
                })
                .collect();
            ctx.out.result(
                || {
                    table(
                        &[
                            "DEVICE",
                            "PLATFORM",
                            "BUNDLE",
                            "OVERRIDE",
                            "LAST SEEN (UTC)",
                        ],
                        &rows,
                    )
                },
                list_json(&page, &versions),
            );
        }
        DeviceCommand::Get { device_id } => {
            let d = client.get_device(&app, &device_id).await?;
            let versions = versions(&client, &app).await?;
            ctx.out
                .result(|| show(&d, &versions), device_json(&d, &versions));
        }
        DeviceCommand::SetChannel { device_id, channel } => {
            let o = SetOverride {
                channel: Some(channel),
                bundle: None,
            };
            let d = client.set_override(&app, &device_id, &o).await?;
            let versions = json_versions(ctx, &client, &app).await?;
            ctx.out.result(
                || format!("Device {} is now on {}.", d.device_id, override_text(&d)),
                device_json(&d, &versions),
            );
        }
        DeviceCommand::Pin { device_id, version } => {
            let o = SetOverride {
                channel: None,
                bundle: Some(version),
            };
            let d = client.set_override(&app, &device_id, &o).await?;
            let versions = json_versions(ctx, &client, &app).await?;
            ctx.out.result(
                || format!("Device {} is now {}.", d.device_id, override_text(&d)),
                device_json(&d, &versions),
            );
        }
        DeviceCommand::Unset { device_id } => {
            client.remove_override(&app, &device_id).await?;
            ctx.out.result(
                || format!("Removed the override of device {device_id}: it follows its channels again."),
                json!({"app_id": app, "device_id": device_id, "override": null}),
            );
        }
        DeviceCommand::Explain { device_id } => {
            let e = client
                .explain_device(&app, &device_id)
                .await
                .map_err(|e| {
                    let missing = e.status() == Some(404);
                    let err = crate::error::CliError::from(e);
                    if missing {
                        err.hint("it explains the last update check a device made: this one has not checked in with this app yet")
                    } else {
                        err
                    }
                })?;
            ctx.out.result(
                || explanation(&device_id, &e, Paint::for_stdout()),
                json!(e),
            );
        }
        DeviceCommand::Unblock { device_id, version } => {
            let cleared = client
                .clear_blocks(&app, &device_id, version.as_deref())
                .await?;
            ctx.out.result(
                || match cleared {
                    0 => format!("Device {device_id} had no rollback block to clear."),
                    n => format!("Cleared {n} rollback block(s) of device {device_id}: it may be offered those bundles again."),
                },
                json!({"app_id": app, "device_id": device_id, "cleared": cleared}),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(name: &str, native: &str) -> Device {
        serde_json::from_value(json!({
            "app_id": "com.example.app",
            "device_id": "00000000-0000-4000-8000-0000000000aa",
            "version_name": name,
            "version_build": native,
        }))
        .unwrap()
    }

    #[test]
    fn a_bundle_named_like_the_native_version_may_be_builtin() {
        let none = Versions::new();
        let named: Versions = ["1.2.0".to_string()].into();
        let d = device("1.2.0", "1.2.0");
        assert_eq!(bundle_text(&d, &none).as_deref(), Some("builtin"));
        assert_eq!(
            bundle_text(&d, &named).as_deref(),
            Some("1.2.0 (or builtin)")
        );
        let j = device_json(&d, &named);
        assert_eq!(
            (j["bundle"].clone(), j["maybe_builtin"].clone()),
            (json!("1.2.0"), json!(true))
        );
        let j = device_json(&d, &none);
        assert_eq!(
            (j["bundle"].clone(), j["maybe_builtin"].clone()),
            (json!("builtin"), json!(false))
        );
        let other = device("1.2.1", "1.2.0");
        assert_eq!(bundle_text(&other, &named).as_deref(), Some("1.2.1"));
    }
}
