//! `init`: the app and its default channels on the server, and the updater
//! block in the capacitor config. Safe to run again: it only adds what is missing.

use serde_json::json;
use updraft_protocol::api::{ChannelPatch, NewApp};

use crate::args::InitArgs;
use crate::error::CliResult;
use crate::project::PUBLIC_KEY_FILE;
use crate::Ctx;

pub async fn init(ctx: &Ctx, a: InitArgs) -> CliResult<()> {
    let mut project = ctx.project()?;
    let config = project.require_config()?.to_path_buf();
    let app = project.app_id(ctx.g.app.as_deref())?;
    let client = ctx.client()?;

    let app_created = match client.get_app(&app).await {
        Ok(_) => false,
        Err(e) if e.status() == Some(404) => {
            let name = a.name.clone().or_else(|| project.app_name.clone());
            client
                .create_app(&NewApp {
                    app_id: app.clone(),
                    name,
                })
                .await?;
            true
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
    for (name, public, self_assign) in [("production", true, false), ("beta", false, true)] {
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

    let base = a
        .device_url
        .clone()
        .unwrap_or_else(|| client.base().to_string());
    let base = base.trim_end_matches('/');
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
        }),
    );
    Ok(())
}
