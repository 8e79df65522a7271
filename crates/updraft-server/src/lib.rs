//! The Updraft server: Capgo-compatible device endpoints, content-addressed
//! bundle files, the management API, the hot-path snapshot and the batched
//! telemetry writer. `main.rs` is only flag parsing; everything runs from here
//! so tests start the real server in-process.
//!
//! Public are what the binary, the tests, the examples and the test harness
//! use: starting and stopping a server ([`open_and_start`], [`Running`]), the
//! configuration, the clock, the first admin key, and a few constants and
//! parts tests hold the server to. Handlers and internals are `pub(crate)`.
#![deny(missing_docs)]

mod bootstrap;
mod router;
mod running;
mod serving;
mod startup;

pub mod clock;
pub mod config;
pub mod config_report;
pub mod first_start;
pub mod log_budget;
pub mod openapi;
pub mod secret;
pub mod writer;

pub(crate) mod access_log;
pub(crate) mod auth;
pub(crate) mod blob_sweep;
pub(crate) mod changes;
pub(crate) mod conn_limits;
pub(crate) mod dashboard;
pub(crate) mod error;
pub(crate) mod geo;
pub(crate) mod hook_auth;
pub(crate) mod offer_filter;
pub(crate) mod patches;
pub(crate) mod prometheus;
pub(crate) mod public_url;
pub(crate) mod ratelimit;
pub(crate) mod recorded;
pub(crate) mod rejection;
pub(crate) mod request_id;
pub(crate) mod retention;
pub(crate) mod rollout_runner;
pub(crate) mod routes;
pub(crate) mod scheduler;
pub(crate) mod seen_filter;
pub(crate) mod snapshot;
pub(crate) mod state;
pub(crate) mod traffic;
pub(crate) mod webhooks;

pub use bootstrap::{bootstrap_key, create_key};
pub use clock::now_ms;
pub use running::{Running, StopSignals};
pub use startup::{open_and_start, open_and_start_with, open_store, start, start_with, Runtime};
