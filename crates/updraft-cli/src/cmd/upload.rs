//! `bundle upload` and `deploy`: zip the web build, encrypt it when the project
//! has a key, stream it to the server with a progress bar, and point a channel
//! at it. Or, with `--external`, register a bundle the user hosts.

use std::sync::Arc;

use serde_json::json;
use updraft_client::{Client, UploadParams};
use updraft_core::archive::{build_zip, FileEntry};
use updraft_core::checksum;
use updraft_core::crypto::{self, PrivateKey, PublicKey};
use updraft_protocol::api::{BundleMeta, ChannelPatch, NewExternalBundle};

use crate::args::{BuildArgs, DeployArgs, KeyArgs, MetaArgs, UploadArgs};
use crate::error::{CliError, CliResult, Exit};
use crate::project::Project;
use crate::Ctx;

/// The version to upload: `--bundle`, else package.json's, validated as semver.
pub(crate) fn version(project: &Project, build: &BuildArgs) -> CliResult<String> {
    let v = build
        .bundle
        .clone()
        .or_else(|| project.package_version())
        .ok_or_else(|| {
            CliError::usage("no_version", "which version is this bundle? none given")
                .hint("pass --bundle 1.2.3, or set \"version\" in package.json")
        })?;
    if updraft_core::version::parse_bundle_version(&v).is_none() {
        return Err(CliError::usage(
            "invalid_semver",
            format!(
                "bundle version {v:?} is not semver (such as 1.2.3 or 1.2.3-beta.1, no leading v)"
            ),
        ));
    }
    Ok(v)
}

/// The web build's files and their reproducible zip, refusing a build
/// without `index.html`; warns when no JavaScript calls `notifyAppReady()`.
pub(crate) fn zip_web_dir(
    ctx: &Ctx,
    project: &Project,
    build: &BuildArgs,
) -> CliResult<(Vec<FileEntry>, Vec<u8>)> {
    let dir = project.web_dir(build.path.as_deref())?;
    let files = crate::files::read_web_dir(&dir)?;
    if !files.iter().any(|f| f.path == "index.html") {
        return Err(CliError::fail(
            "index_html_not_found",
            format!("{} has no index.html at its root", dir.display()),
        )
        .hint("point --path (or webDir) at the built web app, the folder that holds index.html"));
    }
    let calls_ready = files.iter().any(|f| {
        (f.path.ends_with(".js") || f.path.ends_with(".mjs"))
            && f.data.windows(14).any(|w| w == b"notifyAppReady")
    });
    if !calls_ready {
        ctx.out.alert("no JavaScript file calls notifyAppReady(): the plugin will roll this bundle back after appReadyTimeout");
    }
    let zip = build_zip(&files).map_err(|e| CliError::fail("zip_failed", e.to_string()))?;
    const WARN_BYTES: usize = 20 << 20;
    if zip.len() > WARN_BYTES {
        ctx.out.warn(format!(
            "the bundle is {}: large bundles take long to download on mobile networks",
            crate::output::size(zip.len() as u64)
        ));
    }
    Ok((files, zip))
}

/// The key to encrypt with, or none. Refuses combinations that devices would reject.
fn signing_key(ctx: &Ctx, project: &Project, k: &KeyArgs) -> CliResult<Option<PrivateKey>> {
    let config_key = match &project.public_key {
        Some(pem) => Some(PublicKey::from_pem(pem).map_err(|e| {
            CliError::fail(
                "invalid_public_key",
                format!("publicKey in the capacitor config: {e}"),
            )
        })?),
        None => None,
    };
    if k.no_key {
        if config_key.is_some() {
            ctx.out.alert("the app has a publicKey but this bundle is not encrypted: devices with that key will refuse it");
        }
        return Ok(None);
    }
    let path = project.private_key_path(k.key.as_deref());
    if !path.is_file() {
        if k.key.is_some() {
            return Err(CliError::fail(
                "missing_key",
                format!("{} does not exist", path.display()),
            ));
        }
        if config_key.is_some() {
            return Err(CliError::fail(
                "missing_key",
                format!("the capacitor config has a publicKey, but the private key {} is missing; devices would refuse an unencrypted bundle", path.display()),
            )
            .hint("pass --key FILE with the private key, or --no-key if the apps in the field have no publicKey"));
        }
        return Ok(None);
    }
    let key = crate::cmd::key::load_private(&path)?;
    match &config_key {
        Some(c) if *c != key.public_key() => {
            return Err(CliError::fail(
                "key_mismatch",
                format!("{} does not match publicKey in the capacitor config: devices would refuse this bundle", path.display()),
            )
            .hint("use the private key that matches the apps in the field (--key FILE)"));
        }
        None if project.config_path.is_some() => {
            return Err(CliError::fail(
                "missing_public_key",
                format!("found the private key {} but the capacitor config has no publicKey: apps built from it cannot decrypt this bundle", path.display()),
            )
            .hint("run `updraft key show` and put the public key in plugins.CapacitorUpdater.publicKey, or pass --no-key"));
        }
        _ => {}
    }
    Ok(Some(key))
}

fn meta_params(project: &Project, m: &MetaArgs) -> CliResult<BundleMeta> {
    if let Some(v) = &m.min_update_version {
        if updraft_core::version::coerce_native(v).is_none() {
            return Err(CliError::usage(
                "invalid_semver",
                format!("--min-update-version {v:?} is not a version"),
            ));
        }
    }
    let native = project.native_packages();
    Ok(BundleMeta {
        min_update_version: m.min_update_version.clone(),
        native_packages: (!native.is_empty()).then_some(serde_json::Value::Array(native)),
        link: m.link.clone(),
        comment: m.comment.clone(),
    })
}

/// `--critical` marks a deploy: it needs the channel deployed to.
fn critical_needs_channel(critical: bool, channel: Option<&str>) -> CliResult<()> {
    if critical && channel.is_none() {
        return Err(CliError::usage(
            "critical_without_channel",
            "--critical marks a deploy to a channel: give --channel as well",
        ));
    }
    Ok(())
}

/// Makes sure the channel exists, creating it (not public) when missing.
async fn ensure_channel(ctx: &Ctx, client: &Client, app: &str, name: &str) -> CliResult<()> {
    match client.get_channel(app, name).await {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(404) => {
            client
                .create_channel(
                    app,
                    &ChannelPatch {
                        name: Some(name.to_string()),
                        ..Default::default()
                    },
                )
                .await?;
            ctx.out.info(format!("Created channel {name} (not public: `updraft channel set {name} --public` makes it the default)"));
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// What both `bundle upload` and `deploy` start from.
fn prelude(ctx: &Ctx, build: &BuildArgs) -> CliResult<(Project, String, String, Client)> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let version = version(&project, build)?;
    let client = ctx.client()?;
    Ok((project, app, version, client))
}

pub(crate) async fn upload(ctx: &Ctx, a: UploadArgs) -> CliResult<()> {
    let (project, app, version, client) = prelude(ctx, &a.build)?;
    if let Some(url) = &a.external {
        return external(ctx, &client, &project, &app, &version, url, &a).await;
    }
    publish(
        ctx,
        &client,
        &project,
        &app,
        &version,
        a.channel.as_deref(),
        &a.build,
        &a.key,
        &a.meta,
    )
    .await
}

pub(crate) async fn deploy(ctx: &Ctx, a: DeployArgs) -> CliResult<()> {
    let (project, app, version, client) = prelude(ctx, &a.build)?;
    publish(
        ctx,
        &client,
        &project,
        &app,
        &version,
        Some(&a.channel),
        &a.build,
        &a.key,
        &a.meta,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn publish(
    ctx: &Ctx,
    client: &Client,
    project: &Project,
    app: &str,
    version: &str,
    channel: Option<&str>,
    build: &BuildArgs,
    key: &KeyArgs,
    meta: &MetaArgs,
) -> CliResult<()> {
    let key = signing_key(ctx, project, key)?;
    let delta = meta.delta;
    let critical = meta.critical;
    critical_needs_channel(critical, channel)?;
    let onto = channel.map(|channel| crate::cmd::delta::Onto { channel, critical });
    let exists_ok = meta.version_exists_ok;
    let ignore_same = meta.ignore_checksum_check;
    let meta = meta_params(project, meta)?;
    // Fail before the work when the app is unknown or the version taken.
    client.get_app(app).await.map_err(|e| {
        let e = CliError::from(e);
        if e.exit == Exit::NotFound {
            e.hint(format!(
                "create it with `updraft init` (or `POST /api/v1/apps`) first; app {app}"
            ))
        } else {
            e
        }
    })?;
    // A --delta run cut off after its zip left the bundle without a
    // manifest: the same build again finishes it.
    let mut resume = None;
    match client.get_bundle(app, version).await {
        Ok(b) if delta && !b.deleted && b.manifest.is_empty() && b.session_key.is_empty() => {
            resume = Some(b);
        }
        // Its files would need the zip's AES key, which is never kept.
        Ok(b) if delta && !b.deleted && b.manifest.is_empty() && !exists_ok => {
            return Err(CliError::new(
                Exit::NotFound,
                "version_exists",
                format!("{app} {version} already exists, encrypted and without a manifest: --delta cannot add one, because its files would have to be encrypted with the key of its zip, which is not kept"),
            )
            .hint("devices that read manifests get its zip; to deliver this build as a manifest, upload it under a new version with --delta"));
        }
        Ok(_) => return exists(ctx, app, version, exists_ok),
        Err(e) if e.status() == Some(404) => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(c) = channel {
        ensure_channel(ctx, client, app, c).await?;
    }

    let (files, zip) = zip_web_dir(ctx, project, build)?;
    let plain_sha = crypto::sha256_hex(&zip);
    if let Some(b) = &resume {
        if b.checksum != plain_sha {
            return exists(ctx, app, version, exists_ok);
        }
        return crate::cmd::delta::finish_delta(
            ctx, client, app, version, onto, &files, &plain_sha,
        )
        .await;
    }
    if let (Some(c), false) = (channel, ignore_same) {
        if let Some(current) = same_as_channel(client, project, app, c, &plain_sha).await? {
            return Err(CliError::new(
                Exit::NotFound,
                "same_as_channel",
                format!("this build is identical to {current}, which channel {c} already serves: every device would download it again for nothing"),
            )
            .hint("change the build, or pass --ignore-checksum-check to upload it anyway"));
        }
    }
    let mut file_key = None;
    let (body, checksum, session_key, key_id, public_key) = match &key {
        Some(k) => {
            let sealed = crypto::seal_bundle(k, &zip, &mut rand_core::OsRng)?;
            file_key = Some(crate::cmd::delta::FileKey {
                session: sealed.key.clone(),
                private: k,
            });
            (
                sealed.ciphertext,
                sealed.checksum,
                Some(sealed.session_key),
                Some(k.public_key().key_id()),
                // Lets the server check the bundle and make Electron's checksum.
                Some(k.public_key().to_pem()),
            )
        }
        None => (zip, plain_sha.clone(), None, None, None),
    };
    let params = UploadParams {
        version: version.to_string(),
        checksum: Some(checksum.clone()),
        sha256: Some(crypto::sha256_hex(&body)),
        session_key: session_key.clone(),
        key_id: key_id.clone(),
        public_key,
        min_update_version: meta.min_update_version.clone(),
        native_packages: meta.native_packages.as_ref().map(ToString::to_string),
        link: meta.link.clone(),
        comment: meta.comment.clone(),
        // With --delta the channel moves once the manifest is set; a
        // critical deploy is its own call once the bundle is stored.
        channel: channel.filter(|_| !delta && !critical).map(str::to_string),
    };
    let size = body.len() as u64;
    let bar = ctx
        .out
        .bytes_bar(size, &format!("Uploading {app} {version}"));
    let progress_bar = bar.clone();
    let res = client
        .upload_bundle(
            app,
            &params,
            bytes::Bytes::from(body),
            Some(Arc::new(move |n| progress_bar.set_position(n))),
        )
        .await;
    bar.finish_and_clear();
    let up = match res {
        Ok(u) => u,
        Err(e) if e.status() == Some(409) => return exists(ctx, app, version, exists_ok),
        Err(e) => return Err(e.into()),
    };
    let encrypted_zip = file_key.is_some();
    let (report, served_on) = if delta {
        let (report, served_on) =
            crate::cmd::delta::delta_then_channel(ctx, client, app, version, onto, &files, file_key.as_ref())
            .await
            .map_err(|e| {
                e.hint(if encrypted_zip {
                    format!("bundle {version} is stored, encrypted, without a manifest, and no channel moved; its key is not kept, so upload the build again under a new version")
                } else {
                    format!("bundle {version} is stored but has no manifest yet and no channel moved: run the same command again to finish it")
                })
            })?;
        (Some(report), served_on)
    } else if let Some(o) = onto.filter(|o| o.critical) {
        let patch = ChannelPatch {
            bundle: Some(Some(version.to_string())),
            critical: Some(true),
            ..Default::default()
        };
        let moved = client
            .update_channel(app, o.channel, &patch)
            .await
            .map_err(|e| {
                CliError::from(e).hint(format!(
                    "bundle {version} is stored; deploy it with `updraft channel set {} --bundle {version}` or run the same command again",
                    o.channel
                ))
            })?;
        (None, Some(moved.channel.name))
    } else {
        (None, up.channel.as_ref().map(|c| c.name.clone()))
    };
    let encrypted = session_key.is_some();
    ctx.out.result(
        || {
            format!(
                "Uploaded {app} {version} ({}{}){}\nchecksum {} (--json prints it whole)",
                crate::output::size(size),
                if encrypted { ", encrypted" } else { "" },
                match &served_on {
                    Some(c) => format!(", now served on channel {c}"),
                    None => String::new(),
                },
                crate::output::short_checksum(&checksum),
            ) + &report
                .as_ref()
                .map_or(String::new(), |r| format!("\n{}", r.text()))
        },
        json!({
            "app_id": app,
            "bundle": version,
            "checksum": checksum,
            "sha256": plain_sha,
            "encrypted": encrypted,
            "session_key": session_key,
            "key_id": key_id,
            "size": size,
            "channel": served_on,
            "manifest": report.as_ref().map(crate::cmd::delta::DeltaReport::json),
        }),
    );
    Ok(())
}

/// The version of the channel's current bundle when it has the same plain
/// SHA-256 as `plain_sha` (reproducible zips make this meaningful). Encrypted
/// bundles are compared through their checksum, opened with the app's public key.
async fn same_as_channel(
    client: &Client,
    project: &Project,
    app: &str,
    channel: &str,
    plain_sha: &str,
) -> CliResult<Option<String>> {
    let Ok(c) = client.get_channel(app, channel).await else {
        return Ok(None);
    };
    if c.bundle_id.is_none() {
        return Ok(None);
    }
    let Ok(b) = client.get_bundle(app, &c.bundle_version).await else {
        return Ok(None);
    };
    let current = if b.checksum.len() == 64 {
        Some(b.checksum.to_ascii_lowercase())
    } else {
        project
            .public_key
            .as_deref()
            .and_then(|pem| PublicKey::from_pem(pem).ok())
            .and_then(|k| crypto::decrypt_checksum(&k, &b.checksum).ok())
    };
    Ok((current.as_deref() == Some(plain_sha)).then_some(b.version))
}

/// The version is taken: a success with `--version-exists-ok`, else exit 4.
fn exists(ctx: &Ctx, app: &str, version: &str, ok: bool) -> CliResult<()> {
    if ok {
        ctx.out.result(
            || format!("{app} {version} already exists; nothing uploaded (--version-exists-ok)."),
            json!({"app_id": app, "bundle": version, "skipped": true, "reason": "version_exists"}),
        );
        return Ok(());
    }
    Err(CliError::new(Exit::NotFound, "version_exists", format!("{app} {version} already exists"))
        .hint("bump the version in package.json or pass --bundle NEW_VERSION (names are never reused); --version-exists-ok makes this a success"))
}

async fn external(
    ctx: &Ctx,
    client: &Client,
    project: &Project,
    app: &str,
    version: &str,
    url: &str,
    a: &UploadArgs,
) -> CliResult<()> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(CliError::usage(
            "invalid_url",
            format!("--external {url:?} must be an absolute https:// URL"),
        ));
    }
    if url.starts_with("http://") {
        ctx.out.alert("the external URL is http://: iOS refuses plain HTTP downloads unless App Transport Security allows it");
    }
    let checksum = a.checksum.clone().ok_or_else(|| {
        CliError::usage("missing_checksum", "--external needs --checksum: the SHA-256 of the plain zip, or the encrypted checksum printed by `bundle encrypt`")
    })?;
    let session_key = a.iv_session_key.clone().filter(|s| !s.is_empty());
    if session_key.is_none() && project.public_key.is_some() {
        ctx.out.alert("the app has a publicKey but this bundle has no --iv-session-key: devices with that key will refuse it");
    }
    // A checksum phones cannot verify is refused before any request.
    let checksum = checksum::check_form(&checksum, session_key.is_some()).map_err(|e| {
        CliError::usage("invalid_checksum", format!("--checksum: {e}")).hint(if session_key.is_some() {
            "pass the encrypted checksum that `updraft bundle encrypt` or `capgo bundle encrypt` printed with this session key"
        } else {
            "pass the SHA-256 of the zip (`sha256sum FILE`); for an encrypted zip also pass --iv-session-key"
        })
    })?;
    let encrypted_sha256 = match &a.encrypted_zip {
        Some(path) => {
            let data = std::fs::read(path).map_err(|e| {
                CliError::usage(
                    "unreadable_file",
                    format!("--encrypted-zip {}: {e}", path.display()),
                )
            })?;
            Some((crypto::sha256_hex(&data), data))
        }
        None => None,
    };
    let (key_id, public_pem) = match (&session_key, &project.public_key) {
        (Some(sk), Some(pem)) => {
            let public = PublicKey::from_pem(pem)?;
            // Catch a wrong key or checksum here, not on every phone.
            checksum::check_with_key(&public, &checksum, sk).map_err(|e| {
                CliError::fail(
                    "key_mismatch",
                    format!("{e} (publicKey of the capacitor config)"),
                )
            })?;
            if let Some((_, data)) = &encrypted_sha256 {
                crypto::open_bundle(&public, data, sk, Some(&checksum)).map_err(|e| {
                    CliError::fail(
                        "checksum_mismatch",
                        format!("--encrypted-zip does not verify with this session key and checksum: {e}"),
                    )
                })?;
            }
            (Some(public.key_id()), Some(public.to_pem()))
        }
        _ => (None, None),
    };
    if session_key.is_some() && encrypted_sha256.is_none() {
        ctx.out.warn("no --encrypted-zip: Capgo's Electron updater cannot verify this encrypted bundle, so Electron apps will not be offered it (iOS and Android are)");
    }
    let meta = meta_params(project, &a.meta)?;
    critical_needs_channel(a.meta.critical, a.channel.as_deref())?;
    if let Some(c) = &a.channel {
        ensure_channel(ctx, client, app, c).await?;
    }
    let new = NewExternalBundle {
        version: version.to_string(),
        external_url: Some(url.to_string()),
        manifest: Vec::new(),
        checksum: checksum.clone(),
        session_key: session_key.clone(),
        key_id: key_id.clone(),
        public_key: public_pem,
        encrypted_sha256: encrypted_sha256.map(|(h, _)| h),
        meta,
    };
    match client.register_external(app, &new).await {
        Ok(_) => {}
        Err(e) if e.status() == Some(409) => {
            return exists(ctx, app, version, a.meta.version_exists_ok)
        }
        Err(e) => return Err(e.into()),
    }
    let channel = match &a.channel {
        Some(c) => Some(
            client
                .update_channel(
                    app,
                    c,
                    &ChannelPatch {
                        bundle: Some(Some(version.to_string())),
                        critical: a.meta.critical.then_some(true),
                        ..Default::default()
                    },
                )
                .await?
                .channel
                .name,
        ),
        None => None,
    };
    ctx.out.result(
        || format!(
            "Registered {app} {version} at {url}{}",
            channel.as_ref().map(|c| format!(", now served on channel {c}")).unwrap_or_default()
        ),
        json!({
            "app_id": app, "bundle": version, "external_url": url, "checksum": checksum,
            "session_key": session_key, "key_id": key_id, "encrypted": session_key.is_some(), "channel": channel,
        }),
    );
    Ok(())
}
