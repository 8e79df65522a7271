//! Management API DTOs (`/api/v1`), one module per resource. The store returns
//! these same types, so a row and its JSON shape never drift apart. Every type
//! is re-exported here: `updraft_protocol::api::X` is the path to use.

mod apps;
mod bundles;
mod changes;
mod channels;
mod devices;
mod explain;
mod files;
mod health;
mod hooks;
mod keys;
mod metrics;
mod page;
mod rollouts;
mod schedules;
mod targets;
mod webhooks;

pub use apps::{App, AppPatch, NewApp};
pub use bundles::{
    Bundle, BundleMeta, BundleStorage, ChannelMove, NewExternalBundle, Revocation, RevokeBundle,
    UploadedBundle,
};
pub use changes::{
    AuditEntry, AuditPage, AuditQuery, Change, ChangeListQuery, ChangePage, FieldChange,
};
pub use channels::{Channel, ChannelPatch, ChannelWrite, Deploy, DisableAutoUpdate};
pub use devices::{
    BlocksCleared, CheckCounts, ChecksQuery, Device, DeviceListQuery, DeviceOverride, Event,
    EventListQuery, HourCount, OfferCount, SetOverride,
};
pub use explain::{ExplainOutcome, ExplainQuery, Explanation};
pub use files::{FilesQuery, ManifestFileRef, MissingFiles, NewManifest, StoredFile};
pub use health::{DatabaseHealth, Health, HealthStatus, Readiness, StorageHealth};
pub use hooks::{CreatedHook, Hook, HookAction, HookResult, NewHook};
pub use keys::{ApiKey, CreatedApiKey, KeyMode, NewApiKey};
pub use metrics::{AdoptionPoint, FunnelFinal, FunnelStages, MetricsQuery, ReleaseMetrics, Signal};
pub use page::Page;
pub use rollouts::{
    Arm, ArmHealth, Cohort, FailureGate, GateAction, GateMetric, GateResult, NewRollout, Rollout,
    RolloutAction, RolloutCheck, RolloutPlan, RolloutState, RolloutStatus, RolloutStep,
    RolloutVerb, SuccessGate, DEFAULT_MIN_DEVICES,
};
pub use schedules::{NewSchedule, Schedule, ScheduleAction, ScheduleState, Window};
pub use targets::{CohortMembers, CustomIdRule, NamedCohort, Target};

pub use webhooks::{
    CreatedWebhook, DeliveryListQuery, DeliveryState, NewWebhook, RotateSecret, TestDelivery,
    Webhook, WebhookDelivery, WebhookPatch, WEBHOOK_EVENTS,
};

pub use crate::device::ManifestEntry;
