//! `key create` and `key show`: RSA-2048 PKCS#1 keys in Capgo's file names
//! (`.capgo_key_v2`, `.capgo_key_v2.pub`) and config key (`publicKey`).

use std::path::PathBuf;

use serde_json::json;
use updraft_core::crypto::{PrivateKey, PublicKey};

use crate::args::KeyCommand;
use crate::error::{CliError, CliResult};
use crate::project::{Project, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE};
use crate::Ctx;

pub(crate) fn run(ctx: &Ctx, k: &KeyCommand) -> CliResult<()> {
    match k {
        KeyCommand::Create { force } => create(ctx, *force),
        KeyCommand::Show => show(ctx),
    }
}

/// Loads a private key file with a message that says what is wrong.
pub(crate) fn load_private(path: &std::path::Path) -> CliResult<PrivateKey> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| CliError::io("cannot read the private key", path, &e))?;
    PrivateKey::from_pem(&pem)
        .map_err(|e| CliError::fail("invalid_private_key", format!("{}: {e}", path.display())))
}

/// Where the public key comes from: a file, else the config.
pub(crate) fn load_public(
    project: &Project,
    flag: Option<&std::path::Path>,
) -> CliResult<(PublicKey, String)> {
    let file = flag
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| project.dir.join(PUBLIC_KEY_FILE));
    if flag.is_some() || file.is_file() {
        let pem = std::fs::read_to_string(&file)
            .map_err(|e| CliError::io("cannot read the public key", &file, &e))?;
        let k = PublicKey::from_pem(&pem).map_err(|e| {
            CliError::fail("invalid_public_key", format!("{}: {e}", file.display()))
        })?;
        return Ok((k, file.display().to_string()));
    }
    if let Some(pem) = &project.public_key {
        let k = PublicKey::from_pem(pem).map_err(|e| {
            CliError::fail(
                "invalid_public_key",
                format!("publicKey in the capacitor config: {e}"),
            )
        })?;
        return Ok((k, "capacitor config publicKey".into()));
    }
    Err(CliError::fail("missing_public_key", "no public key found")
        .hint(format!("pass --key FILE, or run in a project with {PUBLIC_KEY_FILE} or a publicKey in its capacitor config")))
}

fn create(ctx: &Ctx, force: bool) -> CliResult<()> {
    let mut project = ctx.project()?;
    let private_path: PathBuf = project.dir.join(PRIVATE_KEY_FILE);
    let public_path: PathBuf = project.dir.join(PUBLIC_KEY_FILE);
    if !force {
        for p in [&private_path, &public_path] {
            if p.exists() {
                return Err(CliError::new(
                    crate::error::Exit::NotFound,
                    "key_exists",
                    format!("{} already exists", p.display()),
                )
                .hint("keep it (devices in the field need the matching key), or replace both with `updraft key create --force`"));
            }
        }
    }
    let spinner = ctx.out.spinner("Generating an RSA-2048 key");
    let key = PrivateKey::generate(&mut rand_core::OsRng)?;
    spinner.finish_and_clear();
    let public = key.public_key();
    crate::files::write_atomic(&private_path, key.to_pem().as_bytes(), Some(0o600))?;
    crate::files::write_atomic(&public_path, public.to_pem().as_bytes(), Some(0o644))?;
    let snippet = if project.config_path.is_some() {
        project.set_updater(&[("publicKey", public.to_pem())])?
    } else {
        ctx.out.alert("no capacitor config here: put the public key in plugins.CapacitorUpdater.publicKey yourself");
        None
    };
    if let Some(s) = &snippet {
        ctx.out.alert(format!(
            "{} is not JSON, so it was not changed; add this to it:\n{s}",
            project
                .config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ));
    }
    let key_id = public.key_id();
    ctx.out.result(
        || format!(
            "Created {} (private: keep it secret, out of git) and {}.\nKey id: {key_id}\n{}Run `npx cap sync` and rebuild the native app: only builds that carry this public key accept encrypted bundles.",
            private_path.display(),
            public_path.display(),
            if snippet.is_none() && project.config_path.is_some() { "publicKey written to the capacitor config.\n" } else { "" },
        ),
        json!({
            "private_key": private_path,
            "public_key": public_path,
            "key_id": key_id,
            "config_updated": snippet.is_none() && project.config_path.is_some(),
        }),
    );
    Ok(())
}

fn show(ctx: &Ctx) -> CliResult<()> {
    let project = ctx.project()?;
    let (public, source) = load_public(&project, None)?;
    let private_path = project.dir.join(PRIVATE_KEY_FILE);
    let private_matches = if private_path.is_file() {
        Some(load_private(&private_path)?.public_key() == public)
    } else {
        None
    };
    let config_matches = project
        .public_key
        .as_deref()
        .map(|pem| PublicKey::from_pem(pem).is_ok_and(|k| k == public));
    let yes_no = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "-",
    };
    ctx.out.result(
        || format!(
            "{}\nKey id: {}\nFrom: {source}\nPrivate key {} matches: {}\nCapacitor config publicKey matches: {}",
            public.to_pem().trim_end(),
            public.key_id(),
            private_path.display(),
            yes_no(private_matches),
            yes_no(config_matches),
        ),
        json!({
            "public_key": public.to_pem(),
            "key_id": public.key_id(),
            "source": source,
            "private_key_matches": private_matches,
            "config_matches": config_matches,
        }),
    );
    Ok(())
}
