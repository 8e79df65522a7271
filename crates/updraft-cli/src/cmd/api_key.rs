//! `api-key list|create|revoke`: keys for the management API. A secret is
//! printed once, at creation, and never again (the server keeps its hash).

use serde_json::json;
use updraft_client::Client;
use updraft_protocol::api::{ApiKey, KeyMode, NewApiKey};

use crate::args::{ApiKeyCommand, ApiKeyCreateArgs, Mode};
use crate::error::{CliError, CliResult};
use crate::output::{table, when};
use crate::Ctx;

pub(crate) async fn run(ctx: &Ctx, c: ApiKeyCommand) -> CliResult<()> {
    match c {
        ApiKeyCommand::List => list(ctx).await,
        ApiKeyCommand::Create(a) => create(ctx, a).await,
        ApiKeyCommand::Revoke { id } => revoke(ctx, id).await,
    }
}

fn mode(m: Mode) -> KeyMode {
    match m {
        Mode::Read => KeyMode::Read,
        Mode::Upload => KeyMode::Upload,
        Mode::Write => KeyMode::Write,
        Mode::All => KeyMode::All,
    }
}

fn apps_text(k: &ApiKey) -> String {
    if k.apps.is_empty() {
        "all apps".into()
    } else {
        k.apps.join(",")
    }
}

/// When the key expires (UTC).
fn expiry_text(k: &ApiKey, now: i64) -> String {
    match k.expires_at {
        None => "never".into(),
        Some(t) if t <= now => format!("expired {}", when(t)),
        Some(t) => when(t),
    }
}

/// A refusal of key management, with what to do about it. A 403 says
/// "needs a key of mode all" only when the key used is below `all`; the server
/// also refuses (403) a key that would outlive or reach further than the key
/// creating or deleting it, and those get their own hint. The server's
/// `expires_at` is the CLI's `--expires`.
async fn refused(client: &Client, e: updraft_client::Error) -> CliError {
    let forbidden = e.status() == Some(403);
    let mut err = CliError::from(e);
    if err.message.contains("expires_at") {
        err.message = err
            .message
            .replace(" (epoch milliseconds)", "")
            .replace("an expires_at", "--expires")
            .replace("expires_at", "--expires");
    }
    if !forbidden {
        return err;
    }
    let Ok(me) = client.me().await else {
        return err;
    };
    if me.mode < KeyMode::All {
        return err.hint(format!(
            "this key has mode {}; managing API keys needs a key of mode all (`updraft login` with an admin key, or --api-key)",
            me.mode.as_str()
        ));
    }
    if err.message.contains("outlives") {
        let until = me
            .expires_at
            .map(|t| format!("this key expires {} UTC", when(t)))
            .unwrap_or_else(|| "this key does not expire".into());
        return err.hint(format!(
            "{until}: give --expires no later than that, or use a key that expires later (or never)"
        ));
    }
    if err.message.contains("limited to some apps") {
        return err.hint(format!(
            "pass --app for each app the new key may use, among this key's: {}",
            me.apps.join(", ")
        ));
    }
    err
}

async fn list(ctx: &Ctx) -> CliResult<()> {
    let client = ctx.client()?;
    let keys = match client.list_keys().await {
        Ok(k) => k,
        Err(e) => return Err(refused(&client, e).await),
    };
    let me = client.me().await.ok().map(|k| k.id);
    let now = crate::expiry::now_ms();
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.id.to_string(),
                if Some(k.id) == me {
                    format!("{} (this key)", k.name)
                } else {
                    k.name.clone()
                },
                k.mode.as_str().to_string(),
                apps_text(k),
                expiry_text(k, now),
                when(k.created_at),
            ]
        })
        .collect();
    ctx.out.result(
        || {
            table(
                &[
                    "ID",
                    "NAME",
                    "MODE",
                    "APPS",
                    "EXPIRES (UTC)",
                    "CREATED (UTC)",
                ],
                &rows,
            )
        },
        json!(keys),
    );
    Ok(())
}

async fn create(ctx: &Ctx, a: ApiKeyCreateArgs) -> CliResult<()> {
    let now = crate::expiry::now_ms();
    let expires_at = a
        .expires
        .as_deref()
        .map(|t| crate::expiry::parse(t, now))
        .transpose()?;
    if a.name.trim().is_empty() {
        return Err(CliError::usage("invalid_name", "the key needs a name")
            .hint("name it after who or what uses it, such as github-ci"));
    }
    let client = ctx.client()?;
    let new = NewApiKey {
        name: a.name,
        mode: mode(a.mode),
        apps: ctx.g.app.clone(),
        expires_at,
    };
    let created = match client.create_key(&new).await {
        Ok(c) => c,
        Err(e) => return Err(refused(&client, e).await),
    };
    let k = &created.key;
    if expires_at.is_none() {
        if let Some(t) = k.expires_at {
            ctx.out.warn(format!(
                "the key expires {} UTC, with the key that created it (a key never outlives its creator)",
                when(t)
            ));
        }
    }
    if ctx.out.quiet && !ctx.out.json {
        // The secret is the result: --quiet must not lose it.
        println!("{}", created.secret);
        return Ok(());
    }
    ctx.out.result(
        || {
            format!(
                "Created API key {} {:?}: mode {}, {}, expires {}{}.\nIts secret is shown this once (the server keeps only its hash); store it now:\n\n{}\n",
                k.id,
                k.name,
                k.mode.as_str(),
                if k.apps.is_empty() {
                    "all apps".to_string()
                } else {
                    format!("apps {}", k.apps.join(", "))
                },
                expiry_text(k, now),
                if k.expires_at.is_some() { " UTC" } else { "" },
                created.secret
            )
        },
        json!(created),
    );
    Ok(())
}

async fn revoke(ctx: &Ctx, id: i64) -> CliResult<()> {
    let client = ctx.client()?;
    let me = client.me().await?;
    if let Err(e) = client.delete_key(id).await {
        let status = e.status();
        let err = refused(&client, e).await;
        return Err(match status {
            Some(409) => err.hint(
                "create another admin key first (`updraft api-key create admin --mode all`, no --app, no --expires), then revoke this one",
            ),
            Some(404) => err.hint("`updraft api-key list` shows the ids of the keys this key may manage"),
            _ => err,
        });
    }
    if id == me.id {
        ctx.out
            .warn("that was the key this command used: log in with another one (`updraft login`)");
    }
    ctx.out.result(
        || format!("Revoked API key {id}: requests with it now fail."),
        json!({"revoked": id}),
    );
    Ok(())
}
