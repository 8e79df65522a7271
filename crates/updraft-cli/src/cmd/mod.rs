//! One module per command group.

pub(crate) mod api_key;
pub(crate) mod app;
pub(crate) mod audit;
pub(crate) mod bundle;
pub(crate) mod channel;
pub(crate) mod cohort;
pub(crate) mod delta;
pub(crate) mod device;
pub(crate) mod diff;
pub(crate) mod doctor;
pub(crate) mod init;
pub(crate) mod key;
pub(crate) mod login;
pub(crate) mod metrics;
pub(crate) mod rollout;
pub(crate) mod schedule;
pub(crate) mod upload;
pub(crate) mod webhook;
