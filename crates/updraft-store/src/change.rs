//! [`ChangeStore`]: the change log every write appends to in its own
//! transaction, and [`Stamp`] / [`Actor`], who made a write and when.

use async_trait::async_trait;
use futures::stream::BoxStream;
use updraft_protocol::api::{AuditQuery, Change};

use crate::StoreResult;

/// Who made a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A management API key, by id only: the log is readable by any read
    /// key of the app, and a key's name is shown only to those allowed to
    /// list keys.
    Key {
        /// The key's id.
        id: i64,
    },
    /// The server's shell (`updraft-server admin …`) or its first start.
    Admin,
    /// A device, through a device endpoint.
    Device,
    /// An inbound deploy hook, by id (its call was signed with its secret).
    Hook {
        /// The hook's id.
        id: i64,
    },
    /// A scheduled deploy, by id, when it runs (who scheduled it is in the
    /// schedule and its `deploy.scheduled` change).
    Schedule {
        /// The schedule's id.
        id: i64,
    },
    /// The server itself, or a test.
    System,
}

impl Actor {
    /// The form stored in the log: `key:<id>`, `hook:<id>`, `schedule:<id>`, `admin`, `device`, `system`.
    pub fn label(&self) -> String {
        match self {
            Actor::Key { id } => format!("key:{id}"),
            Actor::Admin => "admin".into(),
            Actor::Device => "device".into(),
            Actor::Hook { id } => format!("hook:{id}"),
            Actor::Schedule { id } => format!("schedule:{id}"),
            Actor::System => "system".into(),
        }
    }
}

/// When and by whom a write is made; every write method takes one and
/// records it in the change row it appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// Epoch milliseconds; also the time the write stores (`created_at`, …).
    pub at_ms: i64,
    /// Who makes the write.
    pub actor: Actor,
}

impl Stamp {
    /// A write at `at_ms` by `actor`.
    pub fn new(at_ms: i64, actor: Actor) -> Self {
        Self { at_ms, actor }
    }

    /// A write at `at_ms` by the server itself.
    pub fn system(at_ms: i64) -> Self {
        Self::new(at_ms, Actor::System)
    }
}

/// Wakes whoever follows the log when a change was committed (by any node).
/// Each item is one or more new changes; the stream may end (a lost
/// connection), after which polling alone keeps the follower current.
pub type ChangeFeed = BoxStream<'static, ()>;

/// The PostgreSQL channel new changes are announced on.
pub const CHANGE_CHANNEL: &str = "updraft_changes";

/// The change log. Each method is one transaction.
#[async_trait]
pub trait ChangeStore: Send + Sync {
    /// Changes with an id above `after`, oldest first, at most `limit`
    /// (clamped to 1..=1000); of one app, or of all (`None`, including
    /// changes outside any app). Empty when there are none.
    async fn list_changes(
        &self,
        app_id: Option<&str>,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<Change>>;
    /// The app's changes matching `q` (kind, or kind prefix ending with a
    /// dot; actor; time range; devices' own only when asked; ids below
    /// `before`), newest first, at most `q.limit` (clamped to 1..=500).
    async fn audit_changes(&self, app_id: &str, q: &AuditQuery) -> StoreResult<Vec<Change>>;
    /// The highest change id so far (0 when the log is empty).
    async fn last_change_id(&self) -> StoreResult<i64>;
    /// A feed of "something new was committed" signals, when the database
    /// can push them (PostgreSQL's LISTEN/NOTIFY); `None` otherwise. Dropping
    /// the feed stops listening.
    async fn change_feed(&self) -> StoreResult<Option<ChangeFeed>>;
    /// Deletes at most `limit` of the changes recorded before `before` (epoch
    /// ms), oldest first, except each app's latest; returns how many went.
    /// Callers repeat it batch by batch (one short transaction each).
    async fn prune_changes(&self, before: i64, limit: i64) -> StoreResult<u64>;
}
