//! `bundle zip|encrypt|decrypt|upload|diff|list|delete|cleanup`.

use std::path::{Path, PathBuf};

use serde_json::json;
use updraft_core::crypto;
use updraft_protocol::api::RevokeBundle;

use crate::args::BundleCommand;
use crate::error::{CliError, CliResult};
use crate::output::{size, table, when};
use crate::Ctx;

pub(crate) async fn run(ctx: &Ctx, b: BundleCommand) -> CliResult<()> {
    match b {
        BundleCommand::Zip { build, name } => zip(ctx, &build, name),
        BundleCommand::Encrypt { zip, checksum, key } => {
            encrypt(ctx, &zip, checksum.as_deref(), key.as_deref())
        }
        BundleCommand::Decrypt {
            zip,
            iv_session_key,
            key,
            checksum,
        } => decrypt(
            ctx,
            &zip,
            &iv_session_key,
            key.as_deref(),
            checksum.as_deref(),
        ),
        BundleCommand::Upload(a) => crate::cmd::upload::upload(ctx, a).await,
        BundleCommand::Diff { from, to } => crate::cmd::diff::diff(ctx, &from, &to),
        BundleCommand::List => list(ctx).await,
        BundleCommand::Delete { version } => delete(ctx, &version).await,
        BundleCommand::Revoke {
            version,
            reason,
            yes,
        } => revoke(ctx, &version, reason, yes).await,
        BundleCommand::Cleanup { keep, dry_run, yes } => cleanup(ctx, keep, dry_run, yes).await,
    }
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

fn read(path: &Path) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        let err = CliError::io("cannot read", path, &e);
        if path.exists() {
            err
        } else {
            err.hint("check the path")
        }
    })
}

fn zip(ctx: &Ctx, build: &crate::args::BuildArgs, name: Option<PathBuf>) -> CliResult<()> {
    let project = ctx.project()?;
    let version = crate::cmd::upload::version(&project, build)?;
    let (_, zip) = crate::cmd::upload::zip_web_dir(ctx, &project, build)?;
    let file = match name {
        Some(n) => n,
        None => {
            let app = ctx.app_id(&project)?;
            PathBuf::from(format!("{app}_{version}.zip"))
        }
    };
    crate::files::write_atomic(&file, &zip, Some(0o644))?;
    let checksum = crypto::sha256_hex(&zip);
    ctx.out.result(
        || {
            format!(
                "Wrote {} ({})\nchecksum {checksum}",
                file.display(),
                size(zip.len() as u64)
            )
        },
        json!({"bundle": version, "filename": file, "checksum": checksum}),
    );
    Ok(())
}

fn encrypt(ctx: &Ctx, path: &Path, checksum: Option<&str>, key: Option<&Path>) -> CliResult<()> {
    let project = ctx.project()?;
    let zip = read(path)?;
    let names = zip::ZipArchive::new(std::io::Cursor::new(&zip))
        .map_err(|e| {
            CliError::fail(
                "invalid_zip",
                format!("{} is not a zip: {e}", path.display()),
            )
        })?
        .file_names()
        .map(str::to_string)
        .collect::<Vec<_>>();
    updraft_core::layout::check_layout(names.iter().map(String::as_str))
        .map_err(|e| CliError::fail("invalid_zip", format!("{}: {e}", path.display())))?;
    let sha = crypto::sha256_hex(&zip);
    if let Some(c) = checksum {
        if !c.eq_ignore_ascii_case(&sha) {
            return Err(CliError::fail(
                "checksum_mismatch",
                format!("{} hashes to {sha}, not {c}", path.display()),
            ));
        }
    }
    let key_path = project.private_key_path(key);
    if !key_path.is_file() {
        return Err(CliError::fail(
            "missing_key",
            format!("no private key at {}", key_path.display()),
        )
        .hint("create one with `updraft key create`, or pass --key FILE"));
    }
    let private = crate::cmd::key::load_private(&key_path)?;
    let sealed = crypto::seal_bundle(&private, &zip, &mut rand_core::OsRng)?;
    let out = with_suffix(path, "_encrypted.zip");
    crate::files::write_atomic(&out, &sealed.ciphertext, Some(0o644))?;
    ctx.out.result(
        || {
            format!(
                "Wrote {}\nchecksum {}\nivSessionKey {}",
                out.display(),
                sealed.checksum,
                sealed.session_key
            )
        },
        json!({
            "checksum": sealed.checksum,
            "filename": out,
            "ivSessionKey": sealed.session_key,
            "key_id": private.public_key().key_id(),
        }),
    );
    Ok(())
}

fn decrypt(
    ctx: &Ctx,
    path: &Path,
    session_key: &str,
    key: Option<&Path>,
    checksum: Option<&str>,
) -> CliResult<()> {
    let project = ctx.project()?;
    let (public, _) = crate::cmd::key::load_public(&project, key)?;
    let data = read(path)?;
    let plain = crypto::open_bundle(&public, &data, session_key, checksum)?;
    let out = with_suffix(path, "_decrypted.zip");
    crate::files::write_atomic(&out, &plain, Some(0o644))?;
    let sha = crypto::sha256_hex(&plain);
    ctx.out.result(
        || {
            format!(
                "Wrote {}\nsha256 {sha}{}",
                out.display(),
                if checksum.is_some() {
                    " (matches the checksum)"
                } else {
                    ""
                }
            )
        },
        json!({"filename": out, "sha256": sha, "verified": checksum.is_some()}),
    );
    Ok(())
}

async fn list(ctx: &Ctx) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    let bundles: Vec<_> = client
        .list_bundles(&app)
        .await?
        .into_iter()
        .filter(|b| !b.deleted)
        .collect();
    let channels = client.list_channels(&app).await?;
    let rows = bundles
        .iter()
        .map(|b| {
            let on: Vec<&str> = channels
                .iter()
                .filter(|c| c.bundle_id == Some(b.id))
                .map(|c| c.name.as_str())
                .collect();
            vec![
                if b.is_revoked() {
                    format!("{} (revoked)", b.version)
                } else {
                    b.version.clone()
                },
                b.size
                    .and_then(|s| u64::try_from(s).ok())
                    .map(size)
                    .unwrap_or_else(|| "external".into()),
                if b.session_key.is_empty() {
                    "no"
                } else {
                    "yes"
                }
                .to_string(),
                on.join(","),
                when(b.created_at),
            ]
        })
        .collect::<Vec<_>>();
    ctx.out.result(
        || {
            if bundles.is_empty() {
                format!("No bundles in {app} yet: `updraft deploy` uploads one.")
            } else {
                table(
                    &["VERSION", "SIZE", "ENCRYPTED", "CHANNELS", "CREATED (UTC)"],
                    &rows,
                )
            }
        },
        json!(bundles),
    );
    Ok(())
}

async fn delete(ctx: &Ctx, version: &str) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    client.delete_bundle(&app, version).await?;
    ctx.out.result(
        || format!("Deleted {app} {version}."),
        json!({"app_id": app, "deleted": [version]}),
    );
    Ok(())
}

async fn revoke(ctx: &Ctx, version: &str, reason: Option<String>, yes: bool) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    crate::prompt::confirm(
        yes,
        &format!("Revoke {app} {version} for good (it can never be deployed again)?"),
        "refusing to revoke without confirmation".to_string(),
        "pass --yes to revoke without asking",
    )?;
    let client = ctx.client()?;
    let done = client
        .revoke_bundle(&app, version, &RevokeBundle { reason })
        .await?;
    ctx.out.result(
        || {
            if !done.changed {
                return format!("{app} {version} was already revoked; nothing changed.");
            }
            let mut lines = vec![format!("Revoked {app} {version}.")];
            for m in &done.channels {
                lines.push(format!("  channel {} now serves {}", m.channel, m.bundle));
            }
            for id in &done.rollouts {
                lines.push(format!("  rollout {id} reverted"));
            }
            lines.push("Devices running it move at their next check.".into());
            lines.join("\n")
        },
        json!(done),
    );
    Ok(())
}

async fn cleanup(ctx: &Ctx, keep: usize, dry_run: bool, yes: bool) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    let mut bundles: Vec<_> = client
        .list_bundles(&app)
        .await?
        .into_iter()
        .filter(|b| !b.deleted)
        .collect();
    let used: Vec<i64> = client
        .list_channels(&app)
        .await?
        .iter()
        .filter_map(|c| c.bundle_id)
        .collect();
    bundles.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let doomed: Vec<String> = bundles
        .iter()
        .skip(keep)
        .filter(|b| !used.contains(&b.id))
        .map(|b| b.version.clone())
        .collect();
    if doomed.is_empty() || dry_run {
        ctx.out.result(
            || {
                if doomed.is_empty() {
                    format!("Nothing to delete: {} bundles, keeping the newest {keep} and those on a channel.", bundles.len())
                } else {
                    format!("Would delete: {}", doomed.join(", "))
                }
            },
            json!({"app_id": app, "deleted": [], "would_delete": doomed}),
        );
        return Ok(());
    }
    crate::prompt::confirm(
        yes,
        &format!(
            "Delete {} bundles of {app}: {}?",
            doomed.len(),
            doomed.join(", ")
        ),
        format!(
            "would delete {} bundles; refusing without confirmation",
            doomed.len()
        ),
        "pass --yes to delete without asking, or --dry-run to see the list",
    )?;
    let mut deleted = Vec::new();
    for v in &doomed {
        client.delete_bundle(&app, v).await?;
        deleted.push(v.clone());
    }
    ctx.out.result(
        || format!("Deleted {}: {}", deleted.len(), deleted.join(", ")),
        json!({"app_id": app, "deleted": deleted}),
    );
    Ok(())
}
