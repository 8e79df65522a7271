//! Pure domain logic for Updraft, with no I/O.
//!
//! - [`validate`]: normalises and validates plugin requests exactly as Capgo does.
//! - [`version`]: native-version coercion and semver comparisons.
//! - [`decide`]: `(app snapshot, device request) -> decision`, with an explain trace.
//! - [`layout`]: the rules a bundle zip's entry names must follow.
//! - [`archive`]: the reproducible bundle zip writer.
//! - [`event`]: what a stats event says about the running bundle, and when it happened.
//! - [`text`]: character and length rules for device-supplied strings.
//! - [`crypto`]: Capgo v2 bundle encryption (RSA-2048 + AES-128-CBC) and key ids.
//! - [`checksum`]: which checksum form each client verifies, and its checks.

pub mod archive;
pub mod checksum;
pub mod crypto;
pub mod decide;
pub mod event;
pub mod layout;
pub mod text;
pub mod validate;
pub mod version;
