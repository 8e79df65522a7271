//! HTTP routes, one module per audience.

pub mod api;
pub mod bundle_checks;
pub mod bundle_upload;
pub mod capgo;
pub mod channel_self;
pub mod channels;
pub mod device;
pub mod devices;
pub mod files;
pub mod keys;
