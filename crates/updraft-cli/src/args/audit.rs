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
}
