//! `device list|get|set-channel|pin|unset|unblock`.

use serde_json::{json, Value};
use updraft_protocol::api::{Device, DeviceOverride, Page, SetOverride};

use crate::args::DeviceCommand;
use crate::error::CliResult;
use crate::output::{table, when};
use crate::Ctx;

fn override_text(d: &Device) -> String {
    match &d.device_override {
        Some(DeviceOverride::Channel { channel }) => format!("channel {channel}"),
        Some(DeviceOverride::Bundle { version }) => format!("pinned to {version}"),
        None => "-".into(),
    }
}

/// The bundle the device runs: `builtin` when it reports its native version
/// as its bundle (what the plugin sends on the builtin bundle, and what the
/// server records), else the bundle's version name.
fn bundle(d: &Device) -> Option<String> {
    match (&d.version_name, &d.version_build) {
        (Some(name), Some(native)) if name == native => Some("builtin".into()),
        (name, _) => name.clone(),
    }
}

/// The device as the server returns it, plus `bundle` (see [`bundle`]).
fn device_json(d: &Device) -> Value {
    let mut v = json!(d);
    v["bundle"] = json!(bundle(d));
    v
}

/// A page of devices as the server returns it, each with `bundle`.
fn list_json(page: &Page<Device>) -> Value {
    let mut v = json!({"items": page.items.iter().map(device_json).collect::<Vec<_>>()});
    if let Some(c) = &page.next_cursor {
        v["next_cursor"] = json!(c);
    }
    v
}

fn show(d: &Device) -> String {
    let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    format!(
        "device     {}\ncustom id  {}\nplatform   {}\nbundle     {}\nnative     {}\nplugin     {}\nchannel    {}\noverride   {}\nfailed     {}\nlast seen  {}",
        d.device_id,
        o(&d.custom_id),
        o(&d.platform),
        o(&bundle(d)),
        o(&d.version_build),
        o(&d.plugin_version),
        o(&d.default_channel),
        override_text(d),
        if d.failed_bundles.is_empty() { "-".into() } else { d.failed_bundles.join(", ") },
        d.last_seen.map(when).unwrap_or_else(|| "-".into()),
    )
}

pub async fn run(ctx: &Ctx, c: DeviceCommand) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    match c {
        DeviceCommand::List { search, limit } => {
            let page = client
                .list_devices(&app, search.as_deref(), None, Some(limit))
                .await?;
            let rows: Vec<Vec<String>> = page
                .items
                .iter()
                .map(|d| {
                    vec![
                        d.device_id.clone(),
                        d.platform.clone().unwrap_or_default(),
                        bundle(d).unwrap_or_default(),
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
                list_json(&page),
            );
        }
        DeviceCommand::Get { device_id } => {
            let d = client.get_device(&app, &device_id).await?;
            ctx.out.result(|| show(&d), device_json(&d));
        }
        DeviceCommand::SetChannel { device_id, channel } => {
            let o = SetOverride {
                channel: Some(channel),
                bundle: None,
            };
            let d = client.set_override(&app, &device_id, &o).await?;
            ctx.out.result(
                || format!("Device {} is now on {}.", d.device_id, override_text(&d)),
                device_json(&d),
            );
        }
        DeviceCommand::Pin { device_id, version } => {
            let o = SetOverride {
                channel: None,
                bundle: Some(version),
            };
            let d = client.set_override(&app, &device_id, &o).await?;
            ctx.out.result(
                || format!("Device {} is now {}.", d.device_id, override_text(&d)),
                device_json(&d),
            );
        }
        DeviceCommand::Unset { device_id } => {
            client.remove_override(&app, &device_id).await?;
            ctx.out.result(
                || format!("Removed the override of device {device_id}: it follows its channels again."),
                json!({"app_id": app, "device_id": device_id, "override": null}),
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
