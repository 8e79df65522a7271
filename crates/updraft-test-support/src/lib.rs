//! What the server, CLI and device tests share: a real server on SQLite or on
//! a throwaway PostgreSQL database ([`server`]), the admin calls that seed it,
//! plugin-like device requests ([`device`]), bundle zips ([`bundle`]), the
//! `updraft` binary runner and sample Capacitor projects ([`cli`]), a scripted
//! stand-in updates server ([`fake`]), a real S3-compatible store
//! ([`garage`]), throwaway databases ([`pg`]) and
//! waiting for what other nodes or the batched writer do ([`poll`]).
//!
//! Test files write `use updraft_test_support::*;`. Nothing here is for
//! production code: it panics on any failure, with what went wrong.

#![deny(missing_docs)]

pub mod bundle;
pub mod cli;
pub mod device;
pub mod fake;
pub mod garage;
pub mod pg;
pub mod poll;
pub mod python;
pub mod server;

pub use bundle::*;
pub use cli::*;
pub use device::*;
pub use poll::*;
pub use python::python;
pub use server::*;

/// The admin key every test server is started with.
pub const ADMIN: &str = "test_admin_key_0123456789abcdef";
/// The app [`Server::with_app`] creates and device requests name by default.
pub const APP: &str = "com.example.app";
/// The device id of the default device request ([`info`]).
pub const DEV: &str = "00000000-0000-4000-8000-000000000001";

/// Milliseconds since the Unix epoch, by the system clock.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since.as_millis()).expect("milliseconds fit an i64")
}
