//! Wire types only: what devices, the CLI and the server send each other.
//!
//! `device` holds the Capgo-compatible plugin protocol (`/updates`, `/stats`,
//! `/channel_self`); `api` holds the management API DTOs; `error` holds the
//! error envelopes. No I/O happens here.

pub mod api;
pub mod device;
pub mod error;
