//! `doctor`: is everything wired up? The server, the key, the project config
//! and the key files, each checked with what to do when it is not.

use serde_json::json;
use updraft_core::crypto::{PrivateKey, PublicKey};

use crate::error::{CliError, CliResult};
use crate::project::{PRIVATE_KEY_FILE, PUBLIC_KEY_FILE};
use crate::Ctx;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Warn,
    Fail,
}

struct Check {
    name: &'static str,
    status: Status,
    detail: String,
}

pub async fn doctor(ctx: &Ctx) -> CliResult<()> {
    let mut checks: Vec<Check> = Vec::new();
    let mut add = |name, status, detail: String| {
        checks.push(Check {
            name,
            status,
            detail,
        })
    };

    let project = ctx.project()?;
    let resolved = crate::settings::resolve(&ctx.g);
    let mut app_ok = None;
    match &resolved {
        Err(e) => add(
            "login",
            Status::Fail,
            format!("{} ({})", e.message, e.hint.clone().unwrap_or_default()),
        ),
        Ok(r) => {
            let client = updraft_client::Client::new(&r.server, &r.api_key)?;
            match client.health().await {
                Ok(h) if h["status"] == "ok" => add(
                    "server",
                    Status::Ok,
                    format!("{} is up, database ok", r.server),
                ),
                Ok(h) => add(
                    "server",
                    Status::Fail,
                    format!("{} answers but is not healthy: {h}", r.server),
                ),
                Err(e) => add("server", Status::Fail, e.to_string()),
            }
            match client.me().await {
                Ok(k) => add(
                    "api key",
                    Status::Ok,
                    format!(
                        "{:?}, mode {}{}{}",
                        k.name,
                        k.mode.as_str(),
                        if k.apps.is_empty() {
                            String::new()
                        } else {
                            format!(", apps {}", k.apps.join(","))
                        },
                        k.expires_at
                            .map(|t| format!(", expires {}", crate::output::when(t)))
                            .unwrap_or_default()
                    ),
                ),
                Err(e) => add("api key", Status::Fail, CliError::from(e).message),
            }
            if let Ok(app) = project.app_id(ctx.g.app.as_deref()) {
                match client.get_app(&app).await {
                    Ok(_) => {
                        app_ok = Some(app.clone());
                        add("app", Status::Ok, format!("{app} exists on the server"));
                    }
                    Err(e) => add(
                        "app",
                        Status::Fail,
                        format!("{app}: {} (run `updraft init`)", CliError::from(e).message),
                    ),
                }
            }
            if let Some(app) = &app_ok {
                if let Ok(chs) = client.list_channels(app).await {
                    if chs.iter().any(|c| c.public) {
                        add(
                            "channels",
                            Status::Ok,
                            format!("{} channels, a public one among them", chs.len()),
                        );
                    } else {
                        add("channels", Status::Warn, "no public channel: devices without an override get no updates (`updraft channel set production --public`)".into());
                    }
                }
            }
            match &project.update_url {
                Some(u) if u.ends_with("/updates") => {
                    let base = u.trim_end_matches("/updates");
                    if base.trim_end_matches('/') == r.server.trim_end_matches('/') {
                        add("capacitor config", Status::Ok, format!("updateUrl points at {base}"));
                    } else {
                        add("capacitor config", Status::Warn, format!("updateUrl points at {base}, not {} (fine if devices reach the server by another URL)", r.server));
                    }
                }
                Some(u) => add("capacitor config", Status::Fail, format!("updateUrl {u} does not end in /updates (`updraft init` sets it)")),
                None if project.config_path.is_some() => add("capacitor config", Status::Fail, "no plugins.CapacitorUpdater.updateUrl: devices still ask Capgo's cloud (`updraft init` sets it)".into()),
                None => add("capacitor config", Status::Warn, format!("no capacitor config in {}", project.dir.display())),
            }
        }
    }

    let private_path = project.dir.join(PRIVATE_KEY_FILE);
    let public_path = project.dir.join(PUBLIC_KEY_FILE);
    let private = std::fs::read_to_string(&private_path)
        .ok()
        .map(|p| PrivateKey::from_pem(&p));
    let config_key = project.public_key.as_deref().map(PublicKey::from_pem);
    match (&private, &config_key) {
        (None, None) => add(
            "encryption",
            Status::Ok,
            "no key: bundles are signed by checksum only (`updraft key create` adds encryption)"
                .into(),
        ),
        (Some(Err(e)), _) => add(
            "encryption",
            Status::Fail,
            format!("{}: {e}", private_path.display()),
        ),
        (_, Some(Err(e))) => add(
            "encryption",
            Status::Fail,
            format!("publicKey in the capacitor config: {e}"),
        ),
        (Some(Ok(_)), None) => add(
            "encryption",
            Status::Fail,
            format!(
                "{} exists but the config has no publicKey",
                private_path.display()
            ),
        ),
        (None, Some(Ok(_))) => add(
            "encryption",
            Status::Warn,
            format!(
                "the config has a publicKey but {} is not here: uploads need --key FILE",
                private_path.display()
            ),
        ),
        (Some(Ok(k)), Some(Ok(c))) => {
            if k.public_key() == *c {
                add(
                    "encryption",
                    Status::Ok,
                    format!("key {} matches the config's publicKey", c.key_id()),
                );
            } else {
                add(
                    "encryption",
                    Status::Fail,
                    format!(
                        "{} does not match the config's publicKey",
                        private_path.display()
                    ),
                );
            }
        }
    }
    if let (Ok(pem), Some(Ok(c))) = (std::fs::read_to_string(&public_path), &config_key) {
        if PublicKey::from_pem(&pem).ok().as_ref() != Some(c) {
            add(
                "encryption",
                Status::Warn,
                format!(
                    "{} differs from the config's publicKey",
                    public_path.display()
                ),
            );
        }
    }

    let failed = checks.iter().any(|c| c.status == Status::Fail);
    ctx.out.result(
        || {
            checks
                .iter()
                .map(|c| {
                    let mark = match c.status {
                        Status::Ok => "ok  ",
                        Status::Warn => "warn",
                        Status::Fail => "FAIL",
                    };
                    format!("{mark}  {:<16} {}", c.name, c.detail)
                })
                .collect::<Vec<_>>()
                .join("\n")
        },
        json!({
            "ok": !failed,
            "checks": checks.iter().map(|c| json!({
                "name": c.name,
                "status": match c.status { Status::Ok => "ok", Status::Warn => "warn", Status::Fail => "fail" },
                "detail": c.detail,
            })).collect::<Vec<_>>(),
        }),
    );
    if failed {
        return Err(
            CliError::fail("doctor_failed", "some checks failed (see above)").after_result(),
        );
    }
    Ok(())
}
