//! `login` and `logout`: the saved server URL and API key.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use serde_json::json;

use crate::args::LoginArgs;
use crate::error::{CliError, CliResult, Exit};
use crate::settings::{self, Saved};
use crate::Ctx;

fn read_line() -> CliResult<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::fail("stdin", format!("cannot read standard input: {e}")))?;
    Ok(line.trim().to_string())
}

/// Checks the key against the server, then saves both (mode 0600).
pub(crate) async fn login(ctx: &Ctx, a: LoginArgs) -> CliResult<()> {
    let saved = settings::load()?;
    let server = ctx
        .g
        .server
        .clone()
        .or_else(|| {
            std::env::var("UPDRAFT_SERVER")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .or(saved.server)
        .ok_or_else(|| {
            CliError::usage("no_server", "which server? none given")
                .hint("updraft login --server https://updates.example.com")
        })?;
    settings::check_server_url(&server)?;
    let key = if a.api_key_stdin {
        read_line()?
    } else if let Some(k) = ctx.g.api_key.clone().or_else(|| {
        std::env::var("UPDRAFT_API_KEY")
            .ok()
            .filter(|s| !s.is_empty())
    }) {
        k
    } else if std::io::stdin().is_terminal() {
        eprint!("API key for {server}: ");
        let _ = std::io::stderr().flush();
        read_line()?
    } else {
        return Err(CliError::new(Exit::Auth, "no_api_key", "no API key given")
            .hint("pass --api-key KEY, set UPDRAFT_API_KEY, or pipe it with --api-key-stdin"));
    };
    if key.is_empty() {
        return Err(CliError::new(
            Exit::Auth,
            "no_api_key",
            "the API key is empty",
        ));
    }
    let client = updraft_client::Client::new(&server, &key)?;
    let me = client.me().await?;
    let path = settings::save(&Saved {
        server: Some(server.trim_end_matches('/').to_string()),
        api_key: Some(key),
    })?;
    ctx.out.result(
        || {
            format!(
                "Logged in to {server} with key {:?} (mode {}{}). Saved in {}.",
                me.name,
                me.mode.as_str(),
                if me.apps.is_empty() {
                    String::new()
                } else {
                    format!(", apps {}", me.apps.join(", "))
                },
                path.display()
            )
        },
        json!({"server": server, "key": me, "saved_to": path}),
    );
    Ok(())
}

/// Removes the saved login.
pub(crate) fn logout(ctx: &Ctx) -> CliResult<()> {
    let path = settings::login_file()?;
    let removed = settings::forget()?;
    ctx.out.result(
        || {
            if removed {
                format!("Logged out ({} removed).", path.display())
            } else {
                "Not logged in; nothing to remove.".to_string()
            }
        },
        json!({"removed": removed, "path": path}),
    );
    Ok(())
}
