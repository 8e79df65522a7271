//! The command line of channels: `channel add|list|set|delete|history`,
//! `promote`, `rollback`, and the flags a channel takes.

use clap::{Args, Subcommand, ValueEnum};

use super::DEFAULT_CHANNEL;

/// Which native versions a channel accepts bundles for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Policy {
    Major,
    Minor,
    Patch,
    /// Use each bundle's min_update_version (Capgo calls it "metadata").
    #[value(alias = "metadata", alias = "version_number")]
    VersionNumber,
    None,
}

/// Channel flags; each is off unless given, and given flags change only what they name.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ChannelFlags {
    /// Devices without an override get this channel (at most one public channel without --target per platform).
    #[arg(long, overrides_with = "no_public")]
    pub public: bool,
    /// Take `public` away from this channel.
    #[arg(long)]
    pub no_public: bool,
    /// Devices may put themselves on this channel (setChannel).
    #[arg(long, overrides_with = "no_self_assign")]
    pub self_assign: bool,
    /// Devices may not put themselves on this channel.
    #[arg(long)]
    pub no_self_assign: bool,
    /// Serve iOS devices.
    #[arg(long, overrides_with = "no_ios")]
    pub ios: bool,
    /// Do not serve iOS devices.
    #[arg(long)]
    pub no_ios: bool,
    /// Serve Android devices.
    #[arg(long, overrides_with = "no_android")]
    pub android: bool,
    /// Do not serve Android devices.
    #[arg(long)]
    pub no_android: bool,
    /// Serve Electron apps.
    #[arg(long, overrides_with = "no_electron")]
    pub electron: bool,
    /// Do not serve Electron apps.
    #[arg(long)]
    pub no_electron: bool,
    /// Serve emulators.
    #[arg(long, overrides_with = "no_emulator")]
    pub emulator: bool,
    /// Do not serve emulators.
    #[arg(long)]
    pub no_emulator: bool,
    /// Serve physical devices.
    #[arg(long, overrides_with = "no_device")]
    pub device: bool,
    /// Do not serve physical devices.
    #[arg(long)]
    pub no_device: bool,
    /// Serve debug builds.
    #[arg(long, overrides_with = "no_dev")]
    pub dev: bool,
    /// Do not serve debug builds.
    #[arg(long)]
    pub no_dev: bool,
    /// Serve release builds.
    #[arg(long, overrides_with = "no_prod")]
    pub prod: bool,
    /// Do not serve release builds.
    #[arg(long)]
    pub no_prod: bool,
    /// Allow bundles below the device's native version.
    #[arg(long, overrides_with = "no_downgrade")]
    pub downgrade: bool,
    /// Refuse bundles below the device's native version (the default).
    #[arg(long)]
    pub no_downgrade: bool,
    /// Refuse bundles that cross this boundary of the native version.
    #[arg(long, value_enum, value_name = "POLICY")]
    pub disable_auto_update: Option<Policy>,
    /// Serve only devices matching this targeting rule, as JSON or @FILE: '{"country":["FR","DE"]}' (docs/targeting.md).
    #[arg(long, value_name = "RULE", conflicts_with = "no_target")]
    pub target: Option<String>,
    /// Remove the channel's targeting rule (serve every device).
    #[arg(long)]
    pub no_target: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ChannelCommand {
    /// Create a channel.
    Add {
        /// The channel name, such as beta.
        name: String,
        /// The bundle to serve (default: builtin).
        #[arg(long, short)]
        bundle: Option<String>,
        #[command(flatten)]
        flags: ChannelFlags,
    },
    /// List channels.
    List,
    /// Change a channel: its bundle and any flag.
    Set {
        /// The channel to change.
        name: String,
        /// The bundle to serve (`builtin` reverts devices to the app's built-in build).
        #[arg(long, short)]
        bundle: Option<String>,
        #[command(flatten)]
        flags: ChannelFlags,
    },
    /// Delete a channel.
    Delete {
        /// The channel to delete (devices on it fall back to the public channel).
        name: String,
    },
    /// The channel's deploy history, newest first.
    History {
        /// The channel.
        name: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct PromoteArgs {
    /// The bundle version.
    #[arg(id = "bundle_version", value_name = "VERSION")]
    pub version: String,
    /// The channel to point at it.
    #[arg(long, short, default_value = DEFAULT_CHANNEL)]
    pub channel: String,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// The channel to roll back.
    #[arg(long, short, default_value = DEFAULT_CHANNEL)]
    pub channel: String,
}
