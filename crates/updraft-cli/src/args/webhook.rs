//! The command line of outbound webhooks (`webhook
//! add|list|test|deliveries|rotate|enable|disable|delete`) and inbound deploy
//! hooks (`hook add|list|delete`).

use clap::{Subcommand, ValueEnum};

/// What an inbound hook does.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum HookActionArg {
    /// Point the channel at the bundle the call names.
    Promote,
    /// Start a rollout (the server's default plan) of the bundle the call names.
    StartRollout,
    /// Pause the channel's active rollout (for a monitoring alert).
    PauseRollout,
}

#[derive(Debug, Subcommand)]
pub(crate) enum HookCommand {
    /// Create a hook bound to this app, a channel and one action; its URL and secret are
    /// printed this once.
    ///
    /// Call it with a body signed by the secret: as a GitHub webhook (content type
    /// application/json, the secret as its secret), or with Standard Webhooks headers.
    Add {
        /// What it does.
        #[arg(long, value_enum)]
        action: HookActionArg,
        /// The channel it acts on.
        #[arg(long, default_value = "production")]
        channel: String,
        /// Where the call's JSON names the bundle (a JSON pointer; default /bundle). For a
        /// GitHub release event: /release/tag_name (v1.2.3 names 1.2.3).
        #[arg(long)]
        version_pointer: Option<String>,
        /// A note for people.
        #[arg(long)]
        description: Option<String>,
    },
    /// List the app's hooks (never their URLs or secrets).
    List,
    /// Delete a hook: its URL stops working.
    Delete {
        /// The hook id, as `hook list` shows it.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum WebhookCommand {
    /// Subscribe a URL to the app's events; the signing secret is printed this once.
    ///
    /// Each event is POSTed as JSON, signed per Standard Webhooks (webhook-id,
    /// webhook-timestamp, webhook-signature), in order, retried for about four days.
    Add {
        /// The receiver's https:// URL.
        url: String,
        /// An event to send (bundle.created, bundle.revoked, channel.updated, rollout.paused, ...);
        /// repeat for more; none sends every event.
        #[arg(long = "event", value_name = "EVENT")]
        events: Vec<String>,
        /// A note for people.
        #[arg(long)]
        description: Option<String>,
    },
    /// List the app's webhooks (never their secrets).
    List,
    /// Send a signed webhook.test event now and show what the receiver answered.
    Test {
        /// The webhook id, as `webhook list` shows it.
        id: i64,
    },
    /// A webhook's latest deliveries: state, attempts, last answer.
    Deliveries {
        /// The webhook id.
        id: i64,
        /// How many (1 to 200).
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Make a new signing secret (printed this once); the old one keeps signing for the grace.
    Rotate {
        /// The webhook id.
        id: i64,
        /// How long the old secret keeps signing, in seconds (at most a week; 0: not at all).
        #[arg(long, default_value_t = 86_400)]
        grace_seconds: u64,
    },
    /// Turn a webhook back on (clears its failure streak; queued events are sent).
    Enable {
        /// The webhook id.
        id: i64,
    },
    /// Turn a webhook off: no events are queued for it until it is enabled.
    Disable {
        /// The webhook id.
        id: i64,
    },
    /// Delete a webhook and its delivery log.
    Delete {
        /// The webhook id.
        id: i64,
    },
}
