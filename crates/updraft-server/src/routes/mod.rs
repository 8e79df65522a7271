//! HTTP routes, one module per audience.

pub(crate) mod api;
pub(crate) mod bundle_checks;
pub(crate) mod bundle_upload;
pub(crate) mod capgo;
pub(crate) mod changes;
pub(crate) mod channel_self;
pub(crate) mod channels;
pub(crate) mod cohorts;
pub(crate) mod device;
pub(crate) mod devices;
pub(crate) mod explain;
pub(crate) mod files;
pub(crate) mod health;
pub(crate) mod hooks;
pub(crate) mod keys;
pub(crate) mod manifest_check;
pub(crate) mod manifest_files;
pub(crate) mod manifest_size;
pub(crate) mod revoke;
pub(crate) mod rollouts;
pub(crate) mod schedules;
pub(crate) mod spool;
pub(crate) mod webhooks;
