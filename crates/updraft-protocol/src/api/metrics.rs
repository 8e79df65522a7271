//! Release metrics (`/api/v1/apps/{app_id}/metrics`): the funnel of one
//! bundle or channel over a window, adoption, rates and times.

use serde::{Deserialize, Serialize};

/// Query of `GET /api/v1/apps/{app_id}/metrics`: exactly one of `bundle` or
/// `channel` (the channel's current bundle, or its rollout's candidate).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MetricsQuery {
    /// A bundle version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// A channel name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Start of the window, epoch ms (default: 24 hours before `until`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// End of the window, epoch ms (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

/// Devices by the furthest point they reached with the bundle; each device
/// is in exactly one of these, so they add up to `total`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FunnelFinal {
    /// Offered it, nothing since.
    pub offered: u64,
    /// Started the download, not finished.
    pub downloading: u64,
    /// Downloaded it, not installed.
    pub downloaded: u64,
    /// Installed it (`set`) or reported running it (a crash or an error
    /// without a `set` that reached the server), not reported ready.
    pub installed: u64,
    /// Reported it ready (`app_launch_ready`), no rollback.
    pub ready: u64,
    /// Rolled back from it (`update_fail`).
    pub rolled_back: u64,
    /// Failed before installing (download, checksum, decrypt, unzip, set).
    pub failed: u64,
}

/// The funnel as cumulative stages: each count includes the later stages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FunnelStages {
    /// Devices offered the bundle (or seen with it).
    pub offered: u64,
    /// ... that started downloading it.
    pub download_started: u64,
    /// ... that downloaded it.
    pub downloaded: u64,
    /// ... that installed it.
    pub installed: u64,
    /// ... that reported it ready.
    pub ready: u64,
    /// Devices that rolled back from it.
    pub rolled_back: u64,
}

/// Adoption at one time: devices running the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AdoptionPoint {
    /// Epoch ms (the end of an hour).
    pub at: i64,
    /// Devices that had installed it by then and not rolled back.
    pub devices: u64,
}

/// `GET /api/v1/apps/{app_id}/metrics`: one bundle's release over a window.
/// Devices count when their first contact with the bundle falls in the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReleaseMetrics {
    /// The bundle measured.
    pub bundle: String,
    /// The channel asked for, if any.
    pub channel: Option<String>,
    /// Window start, epoch ms.
    pub since: i64,
    /// Window end, epoch ms.
    pub until: i64,
    /// Devices counted.
    pub total: u64,
    /// Each device in its final state.
    pub funnel: FunnelFinal,
    /// Cumulative stages.
    pub stages: FunnelStages,
    /// Devices with a failure / devices that tried.
    pub failure_rate: Option<f64>,
    /// Devices with a crash / devices that ran it.
    pub crash_rate: Option<f64>,
    /// Devices with a JavaScript error / devices that ran it.
    pub error_rate: Option<f64>,
    /// Installed and ready / installed (the seeds' "deployment completion").
    pub completion_rate: Option<f64>,
    /// Download start to ready, p50 (ms) (the seeds' "verification time").
    pub download_to_ready_p50_ms: Option<u64>,
    /// Download start to ready, p90 (ms).
    pub download_to_ready_p90_ms: Option<u64>,
    /// Launch time p50 (ms), from `app_launch_ready`.
    pub launch_p50_ms: Option<u64>,
    /// Launch time p90 (ms).
    pub launch_p90_ms: Option<u64>,
    /// Ms from the first offer to 50 % of the window's devices installed.
    pub time_to_50_ms: Option<i64>,
    /// Ms from the first offer to 95 % installed.
    pub time_to_95_ms: Option<i64>,
    /// Installed devices per hour of the window (cumulative).
    pub adoption: Vec<AdoptionPoint>,
}

/// What one device event says about its release of a bundle: a step of the
/// funnel or a health signal. The server maps each plugin action to one
/// (`updraft_core::event::release_signal`) and the store keeps the first
/// time each happened per device and bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// The server offered the bundle (`/updates`).
    Offered,
    /// A download started (`download_zip_start`, `download_manifest_start`, `download_0`..`download_90`).
    DownloadStarted,
    /// The download finished (`download_complete`, `download_*_complete`).
    Downloaded,
    /// The bundle became current (`set`).
    Installed,
    /// The bundle reported ready (`app_launch_ready`); carries `duration_ms`.
    Ready,
    /// The device rolled back from it (`update_fail`).
    RolledBack,
    /// A failure before it ran (download, checksum, decrypt, unzip, set, manifest).
    Failed,
    /// A crash while it ran.
    Crashed,
    /// A JavaScript error or unhandled rejection while it ran.
    Errored,
}

impl Signal {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offered => "offered",
            Self::DownloadStarted => "download_started",
            Self::Downloaded => "downloaded",
            Self::Installed => "installed",
            Self::Ready => "ready",
            Self::RolledBack => "rolled_back",
            Self::Failed => "failed",
            Self::Crashed => "crashed",
            Self::Errored => "errored",
        }
    }
}
