//! Every persistent operation Updraft needs, each one whole (its own
//! transaction), grouped by resource: one trait per resource, next to the
//! models it reads and writes, and [`StoreError`].
//!
//! [`Store`] is all of them at once, what the server holds (`Arc<dyn Store>`);
//! any type implementing every resource trait is a `Store`. `use
//! updraft_store::prelude::*;` brings every trait into scope, which calling
//! their methods on a concrete store needs.
//!
//! One crate per database implements them (`updraft-store-sqlite`,
//! `updraft-store-postgres`, sharing their SQL through `updraft-store-sql`);
//! `updraft-store-tests` holds the conformance suite both must pass.

#![deny(missing_docs)]

mod app;
mod blob_hold;
mod bundle;
mod change;
mod channel;
mod cohort;
mod database;
mod device;
mod error;
mod file;
mod hook;
mod key;
mod lease;
mod rollout;
mod schedule;
mod session;
mod snapshot;
mod telemetry;
mod webhook;

pub use app::AppStore;
pub use blob_hold::{BlobHoldStore, RemoveBlob, Swept};
pub use bundle::{BundleStore, NewBundle};
pub use change::{Actor, ChangeFeed, ChangeStore, Stamp, CHANGE_CHANNEL};
pub use channel::ChannelStore;
pub use cohort::CohortStore;
pub use database::DatabaseStore;
pub use device::{DeviceQuery, DeviceStore, SelfAssign};
pub use error::{StoreError, StoreResult};
pub use file::{stored_file, FilePatch, FileStore, FILE_GRACE_MS, STORED_FILE_PREFIX};
pub use hook::{HookStore, StoredHook};
pub use key::{KeyStore, StoredKey};
pub use lease::LeaseStore;
pub use rollout::{ReleaseSignal, RolloutStore, Transition};
pub use schedule::ScheduleStore;
pub use session::{DashSession, SessionStore};
pub use snapshot::{AppSnapshotData, SnapshotStore};
pub use telemetry::{
    check_hour, DeviceSeen, EventQuery, NewEvent, TelemetryStore, Write, LAST_SEEN_REFRESH_MS,
};
pub use webhook::{Attempt, DueDelivery, WebhookStore};

/// Every store trait, for one import: `use updraft_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AppStore, BlobHoldStore, BundleStore, ChangeStore, ChannelStore, CohortStore,
        DatabaseStore, DeviceStore, FileStore, HookStore, KeyStore, LeaseStore, RolloutStore,
        ScheduleStore, SessionStore, SnapshotStore, Store, TelemetryStore, WebhookStore,
    };
}

/// Every persistent operation of Updraft: the union of the resource traits.
/// Each method is one transaction. Implemented for every type that implements
/// all of them; implement those, not this.
pub trait Store:
    DatabaseStore
    + AppStore
    + BundleStore
    + FileStore
    + ChannelStore
    + CohortStore
    + DeviceStore
    + KeyStore
    + TelemetryStore
    + SnapshotStore
    + ChangeStore
    + RolloutStore
    + WebhookStore
    + HookStore
    + ScheduleStore
    + BlobHoldStore
    + LeaseStore
    + SessionStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: DatabaseStore
        + AppStore
        + BundleStore
        + FileStore
        + ChannelStore
        + CohortStore
        + DeviceStore
        + KeyStore
        + TelemetryStore
        + SnapshotStore
        + ChangeStore
        + RolloutStore
        + WebhookStore
        + HookStore
        + ScheduleStore
        + BlobHoldStore
        + LeaseStore
        + SessionStore
        + Send
        + Sync
        + 'static
{
}
