//! The command line of the audit trail: `audit`.

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// How many of the latest changes to show.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Include what devices did (their own channel choices, rollback blocks).
    #[arg(long)]
    pub devices: bool,
    /// Only this kind of change (channel.updated), or kinds starting with it when it ends with a dot (rollout.).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only changes by this actor: key:<id>, hook:<id>, schedule:<id>, admin, system, device.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only changes since: a duration back (30m, 24h, 7d) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only changes before: a duration back (30m, 24h, 7d) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
}
