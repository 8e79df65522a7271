//! `channel add|list|set|delete|history`, `promote` and `rollback`.

use serde_json::json;
use updraft_protocol::api::{Channel, ChannelPatch, ChannelWrite, DisableAutoUpdate, Target};

use crate::args::{ChannelCommand, ChannelFlags, Policy, PromoteArgs, RollbackArgs};
use crate::error::{CliError, CliResult};
use crate::output::{table, when};
use crate::Ctx;

fn tri(yes: bool, no: bool) -> Option<bool> {
    match (yes, no) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// A targeting rule given as JSON text or as `@FILE`.
fn read_rule(text: &str) -> CliResult<Target> {
    let json = match text.strip_prefix('@') {
        Some(path) => {
            let path = std::path::Path::new(path);
            std::fs::read_to_string(path).map_err(|e| CliError::io("read", path, &e))?
        }
        None => text.to_string(),
    };
    serde_json::from_str(&json).map_err(|e| {
        CliError::usage("invalid_target", format!("--target is not a targeting rule: {e}"))
            .hint(r#"a rule is one key: {"country":["FR"]}, {"platform":["ios"]}, {"native":">=2.0.0"}, {"custom_id":{"prefix":"qa-"}}, {"device_id":[..]}, {"cohort":"beta"}, {"all":[..]}, {"any":[..]}, {"not":{..}}"#)
    })
}

/// The patch the flags describe; only given flags are set.
fn patch(f: &ChannelFlags, bundle: Option<String>) -> CliResult<ChannelPatch> {
    let target = match (&f.target, f.no_target) {
        (Some(t), _) => Some(Some(read_rule(t)?)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    Ok(ChannelPatch {
        name: None,
        bundle: bundle.map(|b| Some(b).filter(|b| b != "builtin")),
        public: tri(f.public, f.no_public),
        ios: tri(f.ios, f.no_ios),
        android: tri(f.android, f.no_android),
        electron: tri(f.electron, f.no_electron),
        allow_device_self_set: tri(f.self_assign, f.no_self_assign),
        allow_emulator: tri(f.emulator, f.no_emulator),
        allow_device: tri(f.device, f.no_device),
        allow_dev: tri(f.dev, f.no_dev),
        allow_prod: tri(f.prod, f.no_prod),
        disable_auto_update: f.disable_auto_update.map(|p| match p {
            Policy::Major => DisableAutoUpdate::Major,
            Policy::Minor => DisableAutoUpdate::Minor,
            Policy::Patch => DisableAutoUpdate::Patch,
            Policy::VersionNumber => DisableAutoUpdate::VersionNumber,
            Policy::None => DisableAutoUpdate::None,
        }),
        disable_auto_update_under_native: tri(f.no_downgrade, f.downgrade),
        target,
        critical: None,
    })
}

fn describe(c: &Channel) -> String {
    let mut flags = Vec::new();
    if c.public {
        flags.push("public".to_string());
    }
    if c.allow_device_self_set {
        flags.push("self-assign".into());
    }
    for (on, name) in [
        (c.ios, "ios"),
        (c.android, "android"),
        (c.electron, "electron"),
    ] {
        if !on {
            flags.push(format!("no-{name}"));
        }
    }
    for (on, name) in [
        (c.allow_emulator, "emulator"),
        (c.allow_device, "device"),
        (c.allow_dev, "dev"),
        (c.allow_prod, "prod"),
    ] {
        if !on {
            flags.push(format!("no-{name}"));
        }
    }
    if !c.disable_auto_update_under_native {
        flags.push("downgrade".into());
    }
    flags.push(format!("policy={}", c.disable_auto_update.as_str()));
    if let Some(t) = &c.target {
        flags.push(format!("for {}", updraft_core::target::describe(t)));
    }
    flags.join(" ")
}

fn written(ctx: &Ctx, verb: &str, w: &ChannelWrite) {
    for other in &w.unpublished {
        ctx.out.warn(format!(
            "channel {other} is no longer public: {} took its place (one public channel per platform)",
            w.channel.name
        ));
    }
    let c = &w.channel;
    ctx.out.result(
        || {
            format!(
                "{verb} channel {}: bundle {}, {}",
                c.name,
                c.bundle_version,
                describe(c)
            )
        },
        json!(w),
    );
}

pub(crate) async fn run(ctx: &Ctx, c: ChannelCommand) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    match c {
        ChannelCommand::Add {
            name,
            bundle,
            flags,
        } => {
            let mut p = patch(&flags, bundle)?;
            p.name = Some(name);
            let w = client.create_channel(&app, &p).await?;
            written(ctx, "Created", &w);
        }
        ChannelCommand::List => {
            let channels = client.list_channels(&app).await?;
            let rows: Vec<Vec<String>> = channels
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        c.bundle_version.clone(),
                        describe(c),
                        when(c.updated_at),
                    ]
                })
                .collect();
            ctx.out.result(
                || {
                    if channels.is_empty() {
                        format!("No channels in {app}: `updraft channel add production --public` creates one.")
                    } else {
                        table(&["CHANNEL", "BUNDLE", "FLAGS", "UPDATED (UTC)"], &rows)
                    }
                },
                json!(channels),
            );
        }
        ChannelCommand::Set {
            name,
            bundle,
            flags,
        } => {
            let p = patch(&flags, bundle)?;
            if p == ChannelPatch::default() {
                return Err(CliError::usage(
                    "nothing_to_change",
                    "give a --bundle or at least one flag to change",
                )
                .hint(format!("`updraft channel set {name} --help` lists them")));
            }
            let w = client.update_channel(&app, &name, &p).await?;
            written(ctx, "Updated", &w);
        }
        ChannelCommand::Delete { name } => {
            client.delete_channel(&app, &name).await?;
            ctx.out.result(
                || format!("Deleted channel {name}."),
                json!({"app_id": app, "deleted": name}),
            );
        }
        ChannelCommand::History { name } => {
            let h = client.channel_history(&app, &name).await?;
            let rows: Vec<Vec<String>> = h
                .iter()
                .map(|d| vec![when(d.deployed_at), d.bundle_version.clone()])
                .collect();
            ctx.out
                .result(|| table(&["DEPLOYED (UTC)", "BUNDLE"], &rows), json!(h));
        }
    }
    Ok(())
}

pub(crate) async fn promote(ctx: &Ctx, a: PromoteArgs) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    let p = ChannelPatch {
        bundle: Some(Some(a.version.clone()).filter(|v| v != "builtin")),
        ..Default::default()
    };
    let w = client.update_channel(&app, &a.channel, &p).await?;
    written(ctx, "Promoted to", &w);
    Ok(())
}

pub(crate) async fn rollback(ctx: &Ctx, a: RollbackArgs) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    let w = client.rollback_channel(&app, &a.channel).await?;
    written(ctx, "Rolled back", &w);
    Ok(())
}
