//! The store conformance suite: one set of behaviours, run against every
//! `Store` implementation through [`conformance_suite!`]. The cases live in
//! one module per resource; this file holds the entry point and the helpers
//! they share.

#![deny(missing_docs)]

use updraft_protocol::api::*;
use updraft_store::*;

mod apps;
mod blob_holds;
mod bundles;
mod changes;
mod channels;
mod cohorts;
mod devices;
mod files;
mod hooks;
mod keys;
mod races;
mod release;
mod revoke;
mod rollout_effects;
mod rollouts;
mod schedules;
mod self_assign;
mod sessions;
mod telemetry;
mod webhooks;
pub use apps::*;
pub use blob_holds::*;
pub use bundles::*;
pub use changes::*;
pub use channels::*;
pub use cohorts::*;
pub use devices::*;
pub use files::*;
pub use hooks::*;
pub use keys::*;
pub use races::*;
pub use release::*;
pub use revoke::*;
pub use rollout_effects::*;
pub use rollouts::*;
pub use schedules::*;
pub use self_assign::*;
pub use sessions::*;
pub use telemetry::*;
pub use webhooks::*;

/// Generates one `#[tokio::test]` per conformance case. `$fresh` is an async
/// fn returning `(store, guard)`: a new, empty store and whatever must live as
/// long as it.
#[macro_export]
macro_rules! conformance_suite {
    ($fresh:ident) => {
        $crate::conformance_suite!(@cases $fresh,
            apps_crud, delete_app_cascades,
            bundles_are_unique_forever,
            channels_and_public_rule, deploy_history_and_rollback,
            overrides, device_listing, devices_never_replace_admin_overrides,
            api_keys);
        $crate::conformance_suite!(@cases $fresh,
            telemetry_batches, unchanged_device_rows_are_not_rewritten,
            a_batch_with_a_nul_is_refused_whole_and_for_good,
            device_rows_keep_the_running_version_and_never_go_back,
            events_are_pruned_in_bounded_batches, check_counts_add_up_per_hour);
        $crate::conformance_suite!(@cases $fresh,
            manifest_files_are_the_apps_own, unused_files_are_forgotten_after_their_grace,
            patches_are_recorded_once_and_live_with_their_target,
            every_write_appends_one_change, rollback_blocks_are_device_scoped_changes,
            changes_list_and_prune);
        $crate::conformance_suite!(@cases $fresh,
            starting_a_rollout, one_active_rollout_per_channel,
            rollout_transitions_compare_and_set, promoting_moves_the_channel_and_records_a_deploy,
            rollout_writes_append_their_changes, rollout_checks_are_claimed_once_per_interval,
            snapshot_holds_active_rollouts_only, deletes_and_rollouts,
            a_channel_with_an_active_rollout_refuses_deploys, a_rollout_keeps_its_latest_hundred_checks,
            revoking_a_bundle_moves_what_served_it, webhook_queues_follow_the_change_log,
            hooks_accept_each_call_once, cohorts_and_channel_rules,
            a_critical_deploy_supersedes_the_active_rollout, schedules_run_once);
        $crate::conformance_suite!(@cases $fresh,
            stored_files_are_held_and_swept, leases_have_one_holder_at_a_time,
            sessions_expire_idle_and_absolute);
        $crate::conformance_suite!(@cases $fresh,
            release_rows_keep_first_times, arm_health_counts_each_arm,
            arm_health_counts_only_what_happened_in_the_arm,
            release_rows_are_pruned_except_an_active_rollouts,
            release_metrics_funnel_adds_up, a_batch_of_many_statements_writes_every_row);
        $crate::conformance_suite!(@shared $fresh, last_admin_key_survives_concurrent_deletes,
            deleting_a_bundle_races_safely_with_deploying_it,
            concurrent_rollout_starts_and_transitions_have_one_winner,
            a_hold_waits_for_a_removal_under_way);
    };
    (@shared $fresh:ident, $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $fresh().await;
                updraft_store::DatabaseStore::migrate(&store).await.expect("migrate");
                $crate::$case(std::sync::Arc::new(store)).await;
            }
        )*
    };
    (@cases $fresh:ident, $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _guard) = $fresh().await;
                updraft_store::DatabaseStore::migrate(&store).await.expect("migrate");
                $crate::$case(&store).await;
            }
        )*
    };
}

pub(crate) const APP: &str = "com.example.app";

pub(crate) async fn app(s: &dyn Store) {
    s.create_app(
        &NewApp {
            app_id: APP.into(),
            name: Some("Example".into()),
        },
        &Stamp::system(1),
    )
    .await
    .unwrap();
}

pub(crate) fn new_bundle(version: &str) -> NewBundle {
    NewBundle {
        app_id: APP.into(),
        version: version.into(),
        checksum: "ab".repeat(32),
        session_key: String::new(),
        key_id: None,
        electron_checksum: None,
        storage: BundleStorage::Stored,
        blob_sha256: Some(format!("{:0>64}", version.replace('.', ""))),
        size: Some(10),
        external_url: None,
        manifest: Vec::new(),
        meta: BundleMeta::default(),
    }
}

pub(crate) fn chan(name: &str) -> ChannelPatch {
    ChannelPatch {
        name: Some(name.into()),
        ..Default::default()
    }
}

pub(crate) fn seen(device: &str, version: &str, at: i64) -> Write {
    Write::Seen(DeviceSeen {
        app_id: APP.into(),
        device_id: device.into(),
        custom_id: Some("user-1".into()),
        platform: Some("ios".into()),
        version_name: Some(version.into()),
        version_build: Some("1.0.0".into()),
        is_prod: Some(true),
        is_emulator: Some(false),
        seen_at: at,
        ..Default::default()
    })
}
