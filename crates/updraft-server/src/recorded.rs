//! [`Recorded`]: the store as handlers see it. Every write goes to the store
//! (which appends its change row in the write's own transaction) and then
//! waits until this node's change follower has applied that change, so the
//! next request on this node sees the write (read-your-writes) without any
//! handler touching the snapshot cache. Reads pass straight through.

use std::sync::Arc;

use async_trait::async_trait;
use updraft_protocol::api::*;
use updraft_store::*;

use crate::changes::Follower;

/// The store handlers use; see the module docs.
pub(crate) struct Recorded {
    store: Arc<dyn Store>,
    follower: Follower,
}

impl Recorded {
    /// Wraps `store`; writes wait for `follower`.
    pub(crate) fn new(store: Arc<dyn Store>, follower: Follower) -> Self {
        Self { store, follower }
    }
}

/// Implements one store trait for [`Recorded`]: `read` methods forward,
/// `write` methods forward and, on success, wait for the follower.
macro_rules! delegate {
    ($trait:ident { $( $kind:ident fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )* }) => {
        #[async_trait]
        impl $trait for Recorded {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    delegate!(@$kind self, $name($($arg),*))
                }
            )*
        }
    };
    (@read $self:ident, $name:ident($($arg:ident),*)) => {
        $self.store.$name($($arg),*).await
    };
    (@write $self:ident, $name:ident($($arg:ident),*)) => {{
        let done = $self.store.$name($($arg),*).await?;
        $self.follower.caught_up().await;
        Ok(done)
    }};
}

delegate!(DatabaseStore {
    read fn migrate(&self) -> StoreResult<()>;
    read fn ping(&self) -> StoreResult<()>;
});

delegate!(AppStore {
    write fn create_app(&self, app: &NewApp, stamp: &Stamp) -> StoreResult<App>;
    read fn list_apps(&self) -> StoreResult<Vec<App>>;
    read fn get_app(&self, app_id: &str) -> StoreResult<Option<App>>;
    write fn update_app(&self, app_id: &str, patch: &AppPatch, stamp: &Stamp) -> StoreResult<App>;
    write fn delete_app(&self, app_id: &str, stamp: &Stamp) -> StoreResult<()>;
});

delegate!(BundleStore {
    write fn create_bundle(&self, bundle: &NewBundle, stamp: &Stamp) -> StoreResult<Bundle>;
    read fn list_bundles(&self, app_id: &str) -> StoreResult<Vec<Bundle>>;
    read fn get_bundle(&self, app_id: &str, version: &str) -> StoreResult<Option<Bundle>>;
    write fn update_bundle_meta(&self, app_id: &str, version: &str, meta: &BundleMeta, stamp: &Stamp) -> StoreResult<Bundle>;
    write fn delete_bundle(&self, app_id: &str, version: &str, stamp: &Stamp) -> StoreResult<()>;
    write fn revoke_bundle(&self, app_id: &str, version: &str, reason: Option<&str>, stamp: &Stamp) -> StoreResult<Revocation>;
    read fn blob_in_use(&self, sha256: &str) -> StoreResult<bool>;
});

// Only `set_manifest` appends a change; the rest keep the app's file list.
delegate!(FileStore {
    read fn add_file(&self, app_id: &str, sha256: &str, size: i64, at: i64) -> StoreResult<()>;
    read fn missing_files(&self, app_id: &str, shas: &[String], at: i64) -> StoreResult<Vec<String>>;
    read fn list_files(&self, app_id: &str) -> StoreResult<Vec<(String, i64)>>;
    read fn file_sizes(&self, app_id: &str, shas: &[String]) -> StoreResult<Vec<(String, i64)>>;
    write fn set_manifest(&self, app_id: &str, version: &str, manifest: &[ManifestEntry], stamp: &Stamp) -> StoreResult<Bundle>;
    read fn unused_files(&self, before: i64, limit: i64) -> StoreResult<Vec<(String, String)>>;
    read fn forget_file(&self, app_id: &str, sha256: &str, before: i64, now: i64) -> StoreResult<bool>;
    read fn file_patches(&self, app_id: &str, pairs: &[(String, String)]) -> StoreResult<Vec<FilePatch>>;
    read fn add_file_patch(&self, app_id: &str, patch: &FilePatch, at: i64) -> StoreResult<FilePatch>;
});

delegate!(ChannelStore {
    write fn create_channel(&self, app_id: &str, patch: &ChannelPatch, stamp: &Stamp) -> StoreResult<ChannelWrite>;
    write fn update_channel(&self, app_id: &str, name: &str, patch: &ChannelPatch, stamp: &Stamp) -> StoreResult<ChannelWrite>;
    read fn list_channels(&self, app_id: &str) -> StoreResult<Vec<Channel>>;
    read fn get_channel(&self, app_id: &str, name: &str) -> StoreResult<Option<Channel>>;
    write fn delete_channel(&self, app_id: &str, name: &str, stamp: &Stamp) -> StoreResult<()>;
    read fn deploy_history(&self, app_id: &str, name: &str) -> StoreResult<Vec<Deploy>>;
    write fn rollback_channel(&self, app_id: &str, name: &str, stamp: &Stamp) -> StoreResult<ChannelWrite>;
});

delegate!(DeviceStore {
    read fn list_devices(&self, app_id: &str, query: &DeviceQuery) -> StoreResult<Page<Device>>;
    read fn get_device(&self, app_id: &str, device_id: &str) -> StoreResult<Option<Device>>;
    write fn set_override(&self, app_id: &str, device_id: &str, o: &SetOverride, stamp: &Stamp) -> StoreResult<()>;
    write fn remove_override(&self, app_id: &str, device_id: &str, stamp: &Stamp) -> StoreResult<bool>;
    write fn clear_failures(&self, app_id: &str, device_id: &str, version: Option<&str>, stamp: &Stamp) -> StoreResult<u64>;
    write fn self_assign(&self, app_id: &str, device_id: &str, channel: Option<&str>, cap: i64, stamp: &Stamp) -> StoreResult<SelfAssign>;
});

delegate!(KeyStore {
    write fn create_api_key(&self, key: &NewApiKey, hash: &str, stamp: &Stamp) -> StoreResult<ApiKey>;
    read fn find_api_key(&self, hash: &str) -> StoreResult<Option<StoredKey>>;
    read fn list_api_keys(&self) -> StoreResult<Vec<ApiKey>>;
    write fn delete_api_key(&self, id: i64, stamp: &Stamp) -> StoreResult<()>;
    read fn count_api_keys(&self) -> StoreResult<i64>;
});

// Telemetry batches come from the writer, which holds the bare store; the
// follower learns of their rollback blocks like any node does.
delegate!(TelemetryStore {
    read fn write_batch(&self, batch: &[Write]) -> StoreResult<()>;
    read fn prune_events(&self, before: i64, limit: i64) -> StoreResult<u64>;
    read fn prepare_events(&self, now_ms: i64) -> StoreResult<()>;
    read fn list_events(&self, app_id: &str, query: &EventQuery) -> StoreResult<Vec<Event>>;
    read fn list_offers(&self, app_id: &str) -> StoreResult<Vec<OfferCount>>;
    read fn check_counts(&self, app_id: &str, since_hour: i64, until_hour: i64) -> StoreResult<Vec<(i64, i64)>>;
    read fn prune_check_counts(&self, before_hour: i64, limit: i64) -> StoreResult<u64>;
});

delegate!(SnapshotStore {
    read fn load_snapshot(&self, app_id: &str) -> StoreResult<Option<AppSnapshotData>>;
});

// Claims and gate records are the gate runner's bookkeeping: no change row.
delegate!(RolloutStore {
    write fn start_rollout(&self, app_id: &str, channel: &str, new: &NewRollout, stamp: &Stamp) -> StoreResult<Rollout>;
    read fn get_rollout(&self, app_id: &str, channel: &str) -> StoreResult<Option<Rollout>>;
    read fn list_rollouts(&self, app_id: &str) -> StoreResult<Vec<Rollout>>;
    read fn active_rollouts(&self) -> StoreResult<Vec<Rollout>>;
    write fn transition_rollout(&self, app_id: &str, id: i64, transition: Transition, expected: Option<i64>, reason: Option<&str>, stamp: &Stamp) -> StoreResult<Rollout>;
    write fn alert_rollout(&self, app_id: &str, id: i64, detail: &str, stamp: &Stamp) -> StoreResult<()>;
    read fn claim_rollout_check(&self, id: i64, now_ms: i64, interval_ms: i64) -> StoreResult<bool>;
    read fn record_rollout_check(&self, rollout_id: i64, check: &RolloutCheck) -> StoreResult<RolloutCheck>;
    read fn list_rollout_checks(&self, rollout_id: i64, limit: i64) -> StoreResult<Vec<RolloutCheck>>;
    read fn arm_health(&self, rollout_id: i64) -> StoreResult<(ArmHealth, ArmHealth)>;
    read fn prune_release(&self, before: i64, limit: i64) -> StoreResult<u64>;
    read fn release_metrics(&self, app_id: &str, version: &str, since: i64, until: i64) -> StoreResult<ReleaseMetrics>;
});

delegate!(ChangeStore {
    read fn list_changes(&self, app_id: Option<&str>, after: i64, limit: i64) -> StoreResult<Vec<Change>>;
    read fn audit_changes(&self, app_id: &str, q: &AuditQuery) -> StoreResult<Vec<Change>>;
    read fn last_change_id(&self) -> StoreResult<i64>;
    read fn change_feed(&self) -> StoreResult<Option<ChangeFeed>>;
    read fn prune_changes(&self, before: i64, limit: i64) -> StoreResult<u64>;
});

// Deliveries append no change; subscription writes do.
delegate!(WebhookStore {
    write fn create_webhook(&self, app_id: &str, new: &NewWebhook, secret: &str, max: i64, stamp: &Stamp) -> StoreResult<Webhook>;
    read fn list_webhooks(&self, app_id: &str) -> StoreResult<Vec<Webhook>>;
    read fn get_webhook(&self, app_id: &str, id: i64) -> StoreResult<Option<Webhook>>;
    write fn update_webhook(&self, app_id: &str, id: i64, patch: &WebhookPatch, stamp: &Stamp) -> StoreResult<Webhook>;
    write fn delete_webhook(&self, app_id: &str, id: i64, stamp: &Stamp) -> StoreResult<()>;
    write fn rotate_webhook_secret(&self, app_id: &str, id: i64, secret: &str, previous_until: i64, stamp: &Stamp) -> StoreResult<Webhook>;
    read fn webhook_secrets(&self, app_id: &str, id: i64, now_ms: i64) -> StoreResult<Vec<String>>;
    read fn list_deliveries(&self, app_id: &str, id: i64, limit: i64) -> StoreResult<Vec<WebhookDelivery>>;
    read fn claim_deliveries(&self, now_ms: i64, lease_ms: i64, limit: i64) -> StoreResult<Vec<DueDelivery>>;
    read fn finish_delivery(&self, id: i64, lease: i64, attempt: &Attempt, now_ms: i64, disable_after: i64) -> StoreResult<bool>;
    read fn prune_deliveries(&self, before: i64, limit: i64) -> StoreResult<u64>;
});

delegate!(HookStore {
    write fn create_hook(&self, app_id: &str, new: &NewHook, token: &str, secret: &str, max: i64, stamp: &Stamp) -> StoreResult<Hook>;
    read fn list_hooks(&self, app_id: &str) -> StoreResult<Vec<Hook>>;
    write fn delete_hook(&self, app_id: &str, id: i64, stamp: &Stamp) -> StoreResult<()>;
    read fn hook_by_token(&self, token: &str) -> StoreResult<Option<StoredHook>>;
    read fn claim_hook_call(&self, hook_id: i64, delivery_id: &str, now_ms: i64) -> StoreResult<bool>;
    read fn release_hook_call(&self, hook_id: i64, delivery_id: &str) -> StoreResult<()>;
    read fn prune_hook_calls(&self, before: i64, limit: i64) -> StoreResult<u64>;
});

delegate!(CohortStore {
    write fn put_cohort(&self, app_id: &str, name: &str, members: &CohortMembers, max: i64, stamp: &Stamp) -> StoreResult<(NamedCohort, bool)>;
    read fn list_cohorts(&self, app_id: &str) -> StoreResult<Vec<NamedCohort>>;
    write fn delete_cohort(&self, app_id: &str, name: &str, stamp: &Stamp) -> StoreResult<()>;
});

delegate!(ScheduleStore {
    write fn create_schedule(&self, app_id: &str, new: &NewSchedule, due_at: i64, max: i64, stamp: &Stamp) -> StoreResult<Schedule>;
    read fn list_schedules(&self, app_id: &str) -> StoreResult<Vec<Schedule>>;
    write fn cancel_schedule(&self, app_id: &str, id: i64, stamp: &Stamp) -> StoreResult<Schedule>;
    read fn pending_schedules(&self, now_ms: i64, limit: i64) -> StoreResult<Vec<Schedule>>;
    write fn run_schedule(&self, id: i64, stamp: &Stamp) -> StoreResult<Option<Schedule>>;
    write fn fail_schedule(&self, id: i64, error: &str, stamp: &Stamp) -> StoreResult<bool>;
    read fn postpone_schedule(&self, id: i64, due_at: i64) -> StoreResult<()>;
});

// Neither appends a change: holds and leases are upkeep, not state nodes follow.
delegate!(BlobHoldStore {
    read fn hold_for_upload(&self, sha256: &str, until_ms: i64) -> StoreResult<()>;
    read fn end_upload_hold(&self, sha256: &str, at_ms: i64) -> StoreResult<()>;
    read fn due_blob_sweeps(&self, now_ms: i64, freed_by: i64, limit: i64) -> StoreResult<Vec<String>>;
    read fn sweep_blob(&self, sha256: &str, now_ms: i64, freed_by: i64, remove: RemoveBlob<'_>) -> StoreResult<Swept>;
});

delegate!(LeaseStore {
    read fn take_lease(&self, name: &str, holder: &str, now_ms: i64, until_ms: i64) -> StoreResult<bool>;
    read fn release_leases(&self, holder: &str) -> StoreResult<()>;
});

// Sessions are read by every node from their rows: no change to follow.
delegate!(SessionStore {
    read fn create_session(&self, session: &DashSession) -> StoreResult<()>;
    read fn touch_session(&self, token_hash: &str, now_ms: i64, idle_until: i64) -> StoreResult<Option<DashSession>>;
    read fn end_session(&self, token_hash: &str) -> StoreResult<()>;
    read fn prune_sessions(&self, now_ms: i64, limit: i64) -> StoreResult<u64>;
});
