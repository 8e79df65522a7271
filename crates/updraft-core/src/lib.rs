//! Pure domain logic for Updraft, with no I/O.
//!
//! - [`audit`]: the fields a recorded write changed, for the audit trail.
//! - [`validate`]: normalises and validates plugin requests exactly as Capgo does.
//! - [`version`]: native-version coercion, semver comparisons and plugin-version gates.
//! - [`decide`]: `(app snapshot, device request) -> the whole /updates reply`, with an explain trace.
//! - [`rollout`]: staged rollouts: buckets, percentages and ramps, arms, plan rules.
//! - [`gate`]: health gates over each arm's counts, a step's verdict, and the gates' blind spots.
//! - [`schedule`]: scheduled deploys' windows (open, next opening, due) and their short form.
//! - [`target`]: targeting rules (platform, native range, country, custom id, device list, cohort; and/or/not), their explain text and limits.
//! - [`channel`]: which channel serves a device (the decision and `/channel_self` ask it).
//! - `policy` (private): a channel's version policies and build/device flags.
//! - `offer` (private): the update reply for one bundle and one client.
//! - [`trace`]: the explain trace, free when off.
//! - [`cases`]: the format of the decision cases in `cases/decide/`, shared by their runners.
//! - [`layout`]: the rules a bundle zip's entry names must follow.
//! - [`archive`]: the reproducible bundle zip writer.
//! - [`manifest`]: a bundle as the plugin's manifest (delta) mode sends it, and what a device must download.
//! - [`patch`]: byte-level patches (zstd with the old file as reference) and which old file each new one comes from.
//! - [`event`]: what a stats event says about the running bundle and its release, and when it happened.
//! - [`text`]: character and length rules for device-supplied strings.
//! - [`crypto`]: Capgo v2 bundle encryption (RSA-2048 + AES-128-CBC) and key ids.
//! - [`checksum`]: which checksum form each client verifies, and its checks.
//! - [`capacitor`]: a string value of a `capacitor.config.ts`/`.js`, read without running it.

#![deny(missing_docs)]

pub mod archive;
pub mod audit;
pub mod capacitor;
pub mod cases;
pub mod channel;
pub mod checksum;
pub mod crypto;
pub mod decide;
pub mod event;
pub mod gate;
pub mod layout;
pub mod manifest;
mod offer;
pub mod patch;
mod policy;
pub mod rollout;
pub mod schedule;
pub mod target;
pub mod text;
pub mod trace;
pub mod validate;
pub mod version;
pub mod webhook;
