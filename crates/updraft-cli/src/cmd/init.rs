//! `init`: the app and its default channels on the server, and the updater
//! block in the capacitor config. Safe to run again: it only adds what is missing.

use serde_json::json;
use updraft_client::Client;
use updraft_core::crypto::PublicKey;
use updraft_protocol::api::{App, AppPatch, ChannelPatch, NewApp};

use crate::args::{InitArgs, DEFAULT_CHANNEL};
use crate::error::CliResult;
use crate::project::{Project, PUBLIC_KEY_FILE};
use crate::Ctx;

pub(crate) async fn init(ctx: &Ctx, a: InitArgs) -> CliResult<()> {
    let mut project = ctx.project()?;
    let config = project.require_config()?.to_path_buf();
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    let base = match &a.device_url {
        Some(u) => crate::device_url::parse_base("--device-url", u)?,
        None => crate::device_url::parse("the server URL", client.base())?,
    };
    let warnings = device_url_warnings(&project, &base, a.device_url.is_some());
    for w in &warnings {
        // Each one means the app gets no updates: not silenced by --quiet.
        ctx.out.alert(w);
    }

    let (server_app, app_created) = match client.get_app(&app).await {
        Ok(a) => (a, false),
        Err(e) if e.status() == Some(404) => {
            let name = a.name.clone().or_else(|| project.app_name.clone());
            let created = client
                .create_app(&NewApp {
                    app_id: app.clone(),
                    name,
                })
                .await?;
            (created, true)
        }
        Err(e) => return Err(e.into()),
    };

    let existing: Vec<String> = client
        .list_channels(&app)
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let mut channels_created = Vec::new();
    for (name, public, self_assign) in [(DEFAULT_CHANNEL, true, false), ("beta", false, true)] {
        if existing.iter().any(|c| c == name) {
            continue;
        }
        let p = ChannelPatch {
            name: Some(name.into()),
            public: Some(public),
            allow_device_self_set: Some(self_assign),
            ..Default::default()
        };
        client.create_channel(&app, &p).await?;
        channels_created.push(name);
    }

    let base = base.as_str().trim_end_matches('/');
    let mut entries = vec![
        ("updateUrl", format!("{base}/updates")),
        ("statsUrl", format!("{base}/stats")),
        ("channelUrl", format!("{base}/channel_self")),
    ];
    let pub_file = project.dir.join(PUBLIC_KEY_FILE);
    if project.public_key.is_none() {
        if let Ok(pem) = std::fs::read_to_string(&pub_file) {
            entries.push(("publicKey", pem));
        }
    }
    let key_registered =
        register_public_key(ctx, &client, &server_app, &project, &pub_file).await?;
    let before = (project.update_url.clone(), project.public_key.is_some());
    let already = before.0.as_deref() == Some(entries[0].1.as_str()) && entries.len() == 3;
    let snippet = if already {
        None
    } else {
        project.set_updater(&entries)?
    };
    let config_written = !already && snippet.is_none();

    ctx.out.result(
        || {
            let mut s = String::new();
            s.push_str(&if app_created {
                format!("Created app {app}.\n")
            } else {
                format!("App {app} already exists.\n")
            });
            if channels_created.is_empty() {
                s.push_str("Channels production and beta already exist.\n");
            } else {
                s.push_str(&format!("Created channels: {}.\n", channels_created.join(", ")));
            }
            match &snippet {
                Some(block) => s.push_str(&format!(
                    "{} is not JSON, so it was not changed. Add this inside its config object, then run `npx cap sync`:\n\n{block}\n",
                    config.display()
                )),
                None if config_written => s.push_str(&format!(
                    "Wrote updateUrl, statsUrl and channelUrl into {}. Run `npx cap sync` and rebuild the native app.\n",
                    config.display()
                )),
                None => s.push_str(&format!("{} already points at {base}.\n", config.display())),
            }
            if key_registered {
                s.push_str("Set the app's public key on the server: it checks every encrypted bundle against it.\n");
            }
            s.push_str("Next: `updraft deploy` uploads your web build to production.");
            s
        },
        json!({
            "app_id": app,
            "app_created": app_created,
            "channels_created": channels_created,
            "config": config,
            "config_written": config_written,
            "snippet": snippet,
            "update_url": format!("{base}/updates"),
            "public_key_registered": key_registered,
            "warnings": warnings,
        }),
    );
    Ok(())
}

/// What is wrong with the base URL devices will use: one no phone can reach
/// (loopback, unspecified, link-local), or plain http to a domain name that
/// App Transport Security blocks in a project with iOS.
fn device_url_warnings(project: &Project, base: &url::Url, given: bool) -> Vec<String> {
    let mut out = Vec::new();
    let shown = base.as_str().trim_end_matches('/');
    if let Some(why) = crate::device_url::unreachable(base) {
        let source = if given {
            "--device-url"
        } else {
            "the server URL; no --device-url given"
        };
        out.push(format!(
            "phones will be sent to {shown}/updates ({source}), which no phone can reach: {why}. To fix: {}",
            crate::device_url::FIX
        ));
    } else if crate::device_url::is_plain_http(base) && project.has_ios() {
        if let crate::ats::Verdict::Blocked(why) = crate::ats::plain_http(&project.dir, base) {
            out.push(format!(
                "{shown} is plain http: iOS refuses it (App Transport Security blocks plain http to a domain name unless the app's Info.plist allows it; {why}), so iPhones get no updates. To fix: {}",
                crate::device_url::HTTPS_FIX
            ));
        }
    }
    out
}

/// Gives the server the app's public key (the config's `publicKey`, else
/// `.capgo_key_v2.pub`) when it has none, so it checks every encrypted bundle
/// and can serve Capgo's Electron updater. A different key already there is
/// left alone, with a warning. Returns whether the key was set.
async fn register_public_key(
    ctx: &Ctx,
    client: &Client,
    app: &App,
    project: &Project,
    pub_file: &std::path::Path,
) -> CliResult<bool> {
    let pem = match &project.public_key {
        Some(p) => Some(p.clone()),
        None => std::fs::read_to_string(pub_file).ok(),
    };
    let Some(local) = pem.and_then(|p| PublicKey::from_pem(&p).ok()) else {
        return Ok(false);
    };
    match app.public_key.as_deref().map(PublicKey::from_pem) {
        None => {
            let patch = AppPatch {
                public_key: Some(local.to_pem()),
                ..Default::default()
            };
            match client.update_app(&app.app_id, &patch).await {
                Ok(_) => Ok(true),
                Err(e) if e.status() == Some(403) => {
                    ctx.out.warn(format!("could not give the server the app's public key ({e}); a key of mode write can"));
                    Ok(false)
                }
                Err(e) => Err(e.into()),
            }
        }
        Some(Ok(k)) if k == local => Ok(false),
        Some(_) => {
            ctx.out.alert(format!(
                "app {} on the server has another public key: encrypted bundles made with this project's key ({}) will be refused; change it with PATCH /api/v1/apps/{} {{\"public_key\": ...}} if the apps in the field use this one",
                app.app_id,
                local.key_id(),
                app.app_id
            ));
            Ok(false)
        }
    }
}
