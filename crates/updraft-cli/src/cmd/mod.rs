//! One module per command group.

pub mod api_key;
pub mod app;
pub mod bundle;
pub mod channel;
pub mod device;
pub mod doctor;
pub mod init;
pub mod key;
pub mod login;
pub mod upload;
