//! `app list|create|delete`: the apps on the server.

use serde_json::json;
use updraft_core::crypto::PublicKey;
use updraft_protocol::api::{App, NewApp};

use crate::args::AppCommand;
use crate::error::{CliError, CliResult};
use crate::output::{table, when};
use crate::Ctx;

pub(crate) async fn run(ctx: &Ctx, c: AppCommand) -> CliResult<()> {
    match c {
        AppCommand::List => list(ctx).await,
        AppCommand::Create { app_id, name } => create(ctx, app_id, name).await,
        AppCommand::Delete { app_id, yes } => delete(ctx, &app_id, yes).await,
    }
}

/// The key id of the app's public key, or `-`.
fn key_id(a: &App) -> String {
    match a.public_key.as_deref().map(PublicKey::from_pem) {
        Some(Ok(k)) => k.key_id(),
        Some(Err(_)) => "invalid".into(),
        None => "-".into(),
    }
}

async fn list(ctx: &Ctx) -> CliResult<()> {
    let apps = ctx.client()?.list_apps().await?;
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            vec![
                a.app_id.clone(),
                a.name.clone(),
                key_id(a),
                when(a.created_at),
            ]
        })
        .collect();
    ctx.out.result(
        || {
            if apps.is_empty() {
                "No apps yet: `updraft init` in your Capacitor project creates one.".into()
            } else {
                table(&["APP", "NAME", "PUBLIC KEY", "CREATED (UTC)"], &rows)
            }
        },
        json!(apps),
    );
    Ok(())
}

async fn create(ctx: &Ctx, app_id: Option<String>, name: Option<String>) -> CliResult<()> {
    let project = ctx.project()?;
    let app_id = match app_id {
        Some(a) => a,
        None => ctx.app_id(&project)?,
    };
    if !updraft_core::validate::is_valid_app_id(&app_id) {
        return Err(CliError::usage(
            "invalid_app_id",
            format!("app id {app_id:?} must be in reverse-domain form, such as com.example.app"),
        ));
    }
    let name = name.or_else(|| {
        (project.app_id.as_deref() == Some(app_id.as_str()))
            .then(|| project.app_name.clone())
            .flatten()
    });
    let client = ctx.client()?;
    let app = client
        .create_app(&NewApp {
            app_id: app_id.clone(),
            name,
        })
        .await
        .map_err(|e| {
            let conflict = e.status() == Some(409);
            let e = CliError::from(e);
            if conflict {
                e.hint(format!("`updraft app list` shows it; `updraft app delete {app_id}` removes it with everything under it"))
            } else {
                e
            }
        })?;
    ctx.out.result(
        || {
            format!(
                "Created app {} ({}). It has no channels yet: `updraft init` in its project adds production and beta.",
                app.app_id, app.name
            )
        },
        json!(app),
    );
    Ok(())
}

async fn delete(ctx: &Ctx, app_id: &str, yes: bool) -> CliResult<()> {
    let client = ctx.client()?;
    // Ask only about an app that exists (and say so when it does not).
    let app = client.get_app(app_id).await?;
    let bundles = client.list_bundles(app_id).await?;
    let live = bundles.iter().filter(|b| !b.deleted).count();
    crate::prompt::confirm(
        yes,
        &format!(
            "Delete app {} ({}) with its {live} bundle(s), channels, devices and stats? Devices keep what they run but get no more updates from it. This cannot be undone.",
            app.app_id, app.name
        ),
        format!("refusing to delete app {app_id} without confirmation"),
        "pass --yes to delete it without asking",
    )?;
    client.delete_app(app_id).await?;
    ctx.out.result(
        || format!("Deleted app {app_id} and everything under it."),
        json!({"deleted": app_id}),
    );
    Ok(())
}
