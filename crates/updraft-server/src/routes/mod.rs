//! HTTP routes, one module per audience.

pub mod api;
pub mod capgo;
pub mod device;
pub mod files;
