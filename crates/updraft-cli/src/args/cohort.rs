//! The command line of named cohorts: `cohort set|list|delete`.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum CohortCommand {
    /// Create a named cohort or replace its members (targeting rules name it: {"cohort":"NAME"}).
    Set {
        /// The cohort's name: letters, digits, '-', '_' or '.'.
        name: String,
        /// A device id (UUID) in the cohort; repeat for more.
        #[arg(long = "device", value_name = "DEVICE_ID")]
        devices: Vec<String>,
        /// A custom id in the cohort; repeat for more.
        #[arg(long = "custom-id", value_name = "CUSTOM_ID")]
        custom_ids: Vec<String>,
        /// A file of device ids, one per line (blank lines and # comments skipped).
        #[arg(long, value_name = "FILE")]
        devices_from: Option<PathBuf>,
    },
    /// List the app's cohorts and their sizes.
    List,
    /// Delete a cohort (refused while a channel or an active rollout names it).
    Delete {
        /// The cohort's name.
        name: String,
    },
}
