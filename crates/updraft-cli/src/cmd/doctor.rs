//! `doctor`: is everything wired up? The server, the key, the app, the updater
//! URLs in the project's config (can a phone reach them, will iOS accept
//! them) and the key files, each checked with what to do when it is not.

use serde_json::json;
use updraft_client::Error as ClientError;
use updraft_core::crypto::{PrivateKey, PublicKey};

use crate::error::{CliError, CliResult};
use crate::project::{Project, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE};
use crate::settings::Resolved;
use crate::Ctx;
use crate::{ats, device_url};

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

#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn add(&mut self, name: &'static str, status: Status, detail: impl Into<String>) {
        self.0.push(Check {
            name,
            status,
            detail: detail.into(),
        });
    }
}

pub(crate) async fn doctor(ctx: &Ctx) -> CliResult<()> {
    let mut checks = Checks::default();
    let project = ctx.project()?;
    let resolved = crate::settings::resolve(&ctx.g);
    match &resolved {
        Err(e) => checks.add(
            "login",
            Status::Fail,
            format!("{} ({})", e.message, e.hint.clone().unwrap_or_default()),
        ),
        Ok(r) => server_checks(ctx, &project, r, &mut checks).await?,
    }
    config_checks(
        &project,
        resolved.as_ref().ok().map(|r| r.server.as_str()),
        &mut checks,
    );
    key_checks(&project, &mut checks);
    report(ctx, &checks.0)
}

/// The server, the API key, the app and its channels. Each failure says what
/// it is; a check that depends on a failed one is not run.
async fn server_checks(
    ctx: &Ctx,
    project: &Project,
    r: &Resolved,
    checks: &mut Checks,
) -> CliResult<()> {
    let client = updraft_client::Client::new(&r.server, &r.api_key)?;
    let server = &r.server;
    match client.health().await {
        Ok(h) if h.status == updraft_protocol::api::HealthStatus::Ok => {
            checks.add("server", Status::Ok, format!("{server} is up, database ok"));
        }
        Ok(h) => {
            checks.add(
                "server",
                Status::Fail,
                format!(
                    "{server} answers but is not healthy: {} (see the server's log)",
                    serde_json::to_string(&h).unwrap_or_default()
                ),
            );
            return Ok(());
        }
        Err(ClientError::Connect { reason, .. }) => {
            checks.add(
                "server",
                Status::Fail,
                format!("server unreachable at {server} ({reason}): is updraft-server running, and is the URL right? (--server, UPDRAFT_SERVER or `updraft login`)"),
            );
            return Ok(());
        }
        Err(e) => {
            checks.add(
                "server",
                Status::Fail,
                format!("{server} is not an Updraft server, or not answering as one: {e}"),
            );
            return Ok(());
        }
    }
    match client.me().await {
        Ok(k) => checks.add(
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
        Err(e) if e.status() == Some(401) => {
            checks.add(
                "api key",
                Status::Fail,
                format!(
                    "API key rejected by {server} ({}): run `updraft login` with a valid key, or pass --api-key / UPDRAFT_API_KEY",
                    CliError::from(e).message
                ),
            );
            return Ok(());
        }
        Err(e) => {
            checks.add("api key", Status::Fail, CliError::from(e).message);
            return Ok(());
        }
    }
    let app = match ctx.app_id(project) {
        Ok(a) => a,
        Err(e) => {
            checks.add(
                "app",
                Status::Warn,
                format!("{} (nothing to check)", e.message),
            );
            return Ok(());
        }
    };
    match client.get_app(&app).await {
        Ok(_) => checks.add("app", Status::Ok, format!("{app} exists on the server")),
        Err(e) => {
            let detail = match e.status() {
                Some(404) => format!("app {app} is not on the server: run `updraft init`"),
                Some(403) => format!(
                    "this API key may not use app {app}: use a key whose app list includes it"
                ),
                _ => format!("{app}: {}", CliError::from(e).message),
            };
            checks.add("app", Status::Fail, detail);
            return Ok(());
        }
    }
    if let Ok(chs) = client.list_channels(&app).await {
        if chs.iter().any(|c| c.public) {
            checks.add(
                "channels",
                Status::Ok,
                format!("{} channels, a public one among them", chs.len()),
            );
        } else {
            checks.add("channels", Status::Warn, "no public channel: devices without an override get no updates (`updraft channel set production --public`)");
        }
    }
    Ok(())
}

/// The updater URLs in the capacitor config: present, on one base, reachable
/// from a phone, and allowed by iOS when plain http.
fn config_checks(project: &Project, server: Option<&str>, checks: &mut Checks) {
    if !endpoint_checks(project, server, checks) {
        return;
    }

    // (what is wrong, the keys it is wrong for), in the order first seen.
    let mut unreachable: Vec<(String, Vec<&str>)> = Vec::new();
    let mut plain_http = Vec::new();
    for (key, text) in project.updater_urls() {
        let why = match device_url::parse(key, text) {
            Err(e) => Some(e.message),
            Ok(url) => {
                let why = device_url::unreachable(&url);
                if why.is_none() && device_url::is_plain_http(&url) {
                    plain_http.push((key, url));
                }
                why
            }
        };
        if let Some(why) = why {
            match unreachable.iter_mut().find(|(w, _)| *w == why) {
                Some((_, keys)) => keys.push(key),
                None => unreachable.push((why, vec![key])),
            }
        }
    }
    if !unreachable.is_empty() {
        let what = unreachable
            .iter()
            .map(|(why, keys)| format!("{} ({why})", keys.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        checks.add(
            "device urls",
            Status::Fail,
            format!("no phone can reach {what}. To fix: {}", device_url::FIX),
        );
        return;
    }
    checks.add(
        "device urls",
        Status::Ok,
        "the updater URLs name a host a phone can reach",
    );
    https_check(project, &plain_http, checks);
}

/// updateUrl ends in exactly one `/updates`, and statsUrl and channelUrl are
/// `/stats` and `/channel_self` on the same base. False when there is no
/// updateUrl to check further.
fn endpoint_checks(project: &Project, server: Option<&str>, checks: &mut Checks) -> bool {
    let Some(u) = &project.update_url else {
        if project.config_path.is_some() {
            checks.add("capacitor config", Status::Fail, "no plugins.CapacitorUpdater.updateUrl: devices still ask Capgo's cloud (`updraft init` sets it)");
        } else {
            checks.add(
                "capacitor config",
                Status::Warn,
                format!("no capacitor config in {}", project.dir.display()),
            );
        }
        return false;
    };
    let Some(base) = device_url::endpoint_base(u, "/updates") else {
        checks.add(
            "capacitor config",
            Status::Fail,
            format!("updateUrl {u} does not end in exactly one /updates: devices would ask a URL the server does not answer (`updraft init --device-url BASE` sets it)"),
        );
        return true;
    };
    let mut wrong = Vec::new();
    let mut missing = Vec::new();
    for (key, end, value) in [
        ("statsUrl", "/stats", &project.stats_url),
        ("channelUrl", "/channel_self", &project.channel_url),
    ] {
        match value.as_deref() {
            None => missing.push(key),
            // An empty URL turns the feature off in the plugin.
            Some("") => {}
            Some(v) if device_url::endpoint_base(v, end) != Some(base) => {
                wrong.push(format!("{key} is {v}, not {base}{end}"));
            }
            Some(_) => {}
        }
    }
    if !wrong.is_empty() {
        checks.add(
            "capacitor config",
            Status::Fail,
            format!(
                "updateUrl points at {base}, but {}: `updraft init --device-url {base}` writes all three",
                wrong.join(" and ")
            ),
        );
        return true;
    }
    if !missing.is_empty() {
        checks.add(
            "capacitor config",
            Status::Warn,
            format!(
                "no {}: the plugin then sends that to Capgo's cloud (`updraft init` sets it)",
                missing.join(" or ")
            ),
        );
        return true;
    }
    let same = server.is_some_and(|s| s.trim_end_matches('/') == base);
    let detail = match server {
        Some(s) if !same => format!("updateUrl points at {base} (this CLI talks to {s})"),
        _ => format!("updateUrl points at {base}"),
    };
    checks.add("capacitor config", Status::Ok, detail);
    true
}

/// Plain http: iOS blocks it for a domain name its Info.plist does not
/// allow; Android needs cleartext allowed.
fn https_check(project: &Project, plain_http: &[(&str, url::Url)], checks: &mut Checks) {
    if plain_http.is_empty() {
        checks.add("https", Status::Ok, "the updater URLs use https");
        return;
    }
    let keys: Vec<&str> = plain_http.iter().map(|(k, _)| *k).collect();
    let which = format!(
        "{} {} plain http",
        keys.join(", "),
        if keys.len() == 1 { "uses" } else { "use" }
    );
    let android_fix = "Android needs cleartext traffic allowed for that host (a network security config, or android:usesCleartextTraffic)";
    if project.has_ios() {
        let mut blocked = Vec::new();
        let mut notes = Vec::new();
        for (_, url) in plain_http {
            match ats::plain_http(&project.dir, url) {
                ats::Verdict::Blocked(why) => blocked.push(why),
                ats::Verdict::Exempt(why) | ats::Verdict::Allowed(why) => notes.push(why),
            }
        }
        blocked.dedup();
        notes.dedup();
        if !blocked.is_empty() {
            checks.add(
                "https",
                Status::Fail,
                format!("{which}, and the project has iOS: App Transport Security blocks plain http to a domain name unless the app's Info.plist allows it ({}), so iPhones get no updates. To fix: {}", blocked.join("; "), device_url::HTTPS_FIX),
            );
            return;
        }
        let note = format!("iOS allows it: {}", notes.join("; "));
        if project.has_android() {
            checks.add(
                "https",
                Status::Warn,
                format!("{which}: {note}; {android_fix}"),
            );
        } else {
            checks.add("https", Status::Ok, format!("{which}: {note}"));
        }
    } else if project.has_android() {
        checks.add(
            "https",
            Status::Warn,
            format!(
                "{which}: {android_fix}; HTTPS avoids that ({})",
                device_url::HTTPS_FIX
            ),
        );
    } else {
        checks.add(
            "https",
            Status::Warn,
            format!(
                "{which}: iOS refuses it for a domain name its Info.plist does not allow, and {android_fix}; use HTTPS before you ship ({})",
                device_url::HTTPS_FIX
            ),
        );
    }
}

/// The key files and the config's publicKey agree.
fn key_checks(project: &Project, checks: &mut Checks) {
    let private_path = project.dir.join(PRIVATE_KEY_FILE);
    let public_path = project.dir.join(PUBLIC_KEY_FILE);
    let private = std::fs::read_to_string(&private_path)
        .ok()
        .map(|p| PrivateKey::from_pem(&p));
    let config_key = project.public_key.as_deref().map(PublicKey::from_pem);
    match (&private, &config_key) {
        (None, None) => checks.add(
            "encryption",
            Status::Ok,
            "no key: bundles are not encrypted, and devices check each download against its SHA-256 checksum (`updraft key create` adds encryption)",
        ),
        (Some(Err(e)), _) => checks.add(
            "encryption",
            Status::Fail,
            format!("{}: {e}", private_path.display()),
        ),
        (_, Some(Err(e))) => checks.add(
            "encryption",
            Status::Fail,
            format!("publicKey in the capacitor config: {e}"),
        ),
        (Some(Ok(_)), None) => checks.add(
            "encryption",
            Status::Fail,
            format!(
                "{} exists but the config has no publicKey",
                private_path.display()
            ),
        ),
        (None, Some(Ok(_))) => checks.add(
            "encryption",
            Status::Warn,
            format!(
                "the config has a publicKey but {} is not here: uploads need --key FILE",
                private_path.display()
            ),
        ),
        (Some(Ok(k)), Some(Ok(c))) => {
            if k.public_key() == *c {
                checks.add(
                    "encryption",
                    Status::Ok,
                    format!("key {} matches the config's publicKey", c.key_id()),
                );
            } else {
                checks.add(
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
            checks.add(
                "encryption",
                Status::Warn,
                format!(
                    "{} differs from the config's publicKey",
                    public_path.display()
                ),
            );
        }
    }
}

fn report(ctx: &Ctx, checks: &[Check]) -> CliResult<()> {
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
