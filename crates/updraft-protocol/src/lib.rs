//! Wire types only: what devices, the CLI and the server send each other.
//!
//! `device` holds the Capgo-compatible plugin protocol (`/updates`, `/stats`,
//! `/channel_self`); `api` holds the management API DTOs (and `/health`);
//! `capgo` holds the replies of Capgo's `/device` API; `error` holds the
//! error envelopes. No I/O happens here.

#![deny(missing_docs)]

pub mod api;
pub mod capgo;
pub mod device;
pub mod error;
