//! A channel's policies in Capgo's order (ERRATA item 20): platform, version
//! policy against the native `version_build`, private channel, under-native,
//! then the prod/dev/device/emulator flags.

use semver::Version;
use serde_json::Value;
use updraft_protocol::api::{Bundle, Channel, DisableAutoUpdate};

use crate::channel::allows_platform;
use crate::decide::Denial;
use crate::trace::{note, Trace};
use crate::validate::{DeviceRequest, Platform};
use crate::version::{coerce_native, is_reserved_name, parse_bundle_version};

/// Checks channel `c` (reached through an override when `is_override`) for the
/// device of `req` and its target `bundle` (`None`: builtin). Returns the
/// denial, if any.
pub(crate) fn check(
    trace: &mut Trace,
    req: &DeviceRequest,
    c: &Channel,
    is_override: bool,
    bundle: Option<&Bundle>,
) -> Result<(), Denial> {
    let platform = req.platform.unwrap_or(Platform::Ios);
    let target = bundle.map_or("builtin", |b| b.version.as_str());
    if !allows_platform(c, platform) {
        let code = match platform {
            Platform::Ios => "disabled_platform_ios",
            Platform::Android => "disabled_platform_android",
            Platform::Electron => "disabled_platform_electron",
        };
        return Err(Denial::new(
            code,
            format!("Channel {} is disabled for {}", c.name, platform.as_str()),
        )
        .with("version", target)
        .with("old", req.version_name.as_str()));
    }
    note!(trace, "platform {} allowed", platform.as_str());

    let native = &req.native;
    let semver_target: Option<Version> = match bundle {
        Some(b) if !is_reserved_name(&b.version) => match parse_bundle_version(&b.version) {
            Some(v) => Some(v),
            None => {
                return Err(Denial::new(
                    "semver_error",
                    format!("Bundle {} is not a semver version", b.version),
                ))
            }
        },
        _ => None,
    };
    let old = || Value::from(req.version_build.as_str());
    if let Some(v) = &semver_target {
        if c.disable_auto_update == DisableAutoUpdate::Major && v.major > native.major {
            return Err(Denial::new(
                "disable_auto_update_to_major",
                format!("Cannot upgrade major version from {native} to {v}"),
            )
            .with("major", true)
            .with("version", target)
            .with("old", old()));
        }
    }
    if !c.public && !c.allow_device_self_set && !is_override {
        return Err(Denial::new(
            "cannot_update_via_private_channel",
            format!("Cannot update via private channel {}", c.name),
        ));
    }
    if let Some(v) = &semver_target {
        version_policy(trace, req, c, bundle, v)?;
        if c.disable_auto_update_under_native && *v < *native {
            return Err(Denial::new(
                "disable_auto_update_under_native",
                format!("Bundle {v} is older than the native version {native}"),
            )
            .with("version", target)
            .with("old", req.version_name.as_str()));
        }
    }
    build_flags(trace, req, c)
}

/// `disable_auto_update` minor, patch and version_number (major is checked
/// before the private-channel rule, as Capgo does).
fn version_policy(
    trace: &mut Trace,
    req: &DeviceRequest,
    c: &Channel,
    bundle: Option<&Bundle>,
    v: &Version,
) -> Result<(), Denial> {
    let native = &req.native;
    let target = bundle.map_or("builtin", |b| b.version.as_str());
    let old = req.version_build.as_str();
    match c.disable_auto_update {
        DisableAutoUpdate::Minor if v.major != native.major || v.minor != native.minor => {
            return Err(Denial::new(
                "disable_auto_update_to_minor",
                format!("Cannot upgrade minor version from {native} to {v}"),
            )
            .with("major", true)
            .with("version", target)
            .with("old", old));
        }
        DisableAutoUpdate::Patch
            if v.major != native.major || v.minor != native.minor || v.patch != native.patch =>
        {
            return Err(Denial::new(
                "disable_auto_update_to_patch",
                format!("Cannot upgrade patch version from {native} to {v}"),
            )
            .with("version", target)
            .with("old", old));
        }
        DisableAutoUpdate::VersionNumber => {
            let Some(min) = bundle.and_then(|b| b.min_update_version.as_deref()) else {
                return Err(Denial::new(
                    "misconfigured_channel",
                    format!(
                        "Channel {} uses version_number but bundle {target} has no min_update_version",
                        c.name
                    ),
                ));
            };
            match coerce_native(min) {
                Some(m) if m > *native => {
                    return Err(Denial::new(
                        "disable_auto_update_to_metadata",
                        format!(
                            "Bundle {target} needs native version {m} or later; device has {native}"
                        ),
                    )
                    .with("version", target)
                    .with("old", old));
                }
                Some(_) => {}
                None => {
                    return Err(Denial::new(
                        "misconfigured_channel",
                        format!("Bundle {target} has an invalid min_update_version {min}"),
                    ))
                }
            }
        }
        _ => {}
    }
    note!(
        trace,
        "version policy {} passes",
        c.disable_auto_update.as_str()
    );
    Ok(())
}

/// The prod/dev build and device/emulator flags.
fn build_flags(trace: &mut Trace, req: &DeviceRequest, c: &Channel) -> Result<(), Denial> {
    let refused = if !c.allow_prod && req.is_prod {
        Some(("disable_prod_build", "prod builds"))
    } else if !c.allow_dev && !req.is_prod {
        Some(("disable_dev_build", "dev builds"))
    } else if !c.allow_device && !req.is_emulator {
        Some(("disable_device", "physical devices"))
    } else if !c.allow_emulator && req.is_emulator {
        Some(("disable_emulator", "emulators"))
    } else {
        None
    };
    if let Some((code, what)) = refused {
        return Err(Denial::new(
            code,
            format!("Channel {} does not allow {what}", c.name),
        ));
    }
    note!(trace, "build and device flags pass");
    Ok(())
}
