//! The command line: every command, flag and its help text (clap derive).

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

mod audit;
mod channel;
mod cohort;
mod rollout;
mod schedule;
mod webhook;

pub(crate) use audit::AuditArgs;
pub(crate) use channel::{ChannelCommand, ChannelFlags, Policy, PromoteArgs, RollbackArgs};
pub(crate) use cohort::CohortCommand;
pub(crate) use rollout::{
    MetricsArgs, RolloutActionArgs, RolloutCommand, RolloutStartArgs, RolloutStatusArgs,
};
pub(crate) use schedule::{ScheduleAddArgs, ScheduleCommand};
pub(crate) use webhook::{HookActionArg, HookCommand, WebhookCommand};

/// The channel `deploy`, `promote` and `rollback` use when no `--channel` is given
/// (`init` creates it as the public channel).
pub(crate) const DEFAULT_CHANNEL: &str = "production";

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  error (network, server, file, crypto)
  2  usage error (bad flags or arguments)
  3  authentication or permission (API key missing, invalid, expired, or of too low a mode)
  4  not found, or conflict (such as a version that already exists)";

/// Updraft: ship web builds to Capacitor apps from your own server.
#[derive(Debug, Parser)]
#[command(name = "updraft", version, after_help = EXIT_CODES, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args, Clone)]
pub(crate) struct Global {
    /// Server URL (overrides UPDRAFT_SERVER and the saved login).
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help_heading = "Global options"
    )]
    pub server: Option<String>,
    /// API key (overrides UPDRAFT_API_KEY and the saved login).
    #[arg(
        long,
        global = true,
        value_name = "KEY",
        help_heading = "Global options"
    )]
    pub api_key: Option<String>,
    /// App id (default: appId from the project's capacitor config).
    #[arg(
        long,
        global = true,
        value_name = "APP_ID",
        action = ArgAction::Append,
        help_heading = "Global options"
    )]
    pub app: Vec<String>,
    /// The Capacitor project directory.
    #[arg(
        long,
        short = 'C',
        global = true,
        value_name = "DIR",
        default_value = ".",
        help_heading = "Global options"
    )]
    pub project: PathBuf,
    /// Print one JSON document on stdout (stable, machine-readable) instead of text.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// Print only errors, and warnings that the app will not work as set up.
    #[arg(long, short, global = true, help_heading = "Global options")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Save the server URL and API key for later commands (file mode 0600).
    Login(LoginArgs),
    /// Forget the saved login.
    Logout,
    /// Check the server, the API key, the project config and the key files.
    Doctor,
    /// Set up a Capacitor project: app and channels on the server, updater config in capacitor.config.
    Init(InitArgs),
    /// Encryption keys (RSA-2048, Capgo-compatible).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Build, encrypt, upload and manage bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Manage channels.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Point a channel at an uploaded bundle.
    Promote(PromoteArgs),
    /// Point a channel back at the bundle it had before.
    Rollback(RollbackArgs),
    /// Inspect devices and force one onto a channel or bundle.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// The CI one-liner: zip the web build, encrypt if a key is configured, upload, assign to a channel.
    Deploy(DeployArgs),
    /// Staged rollouts: a bundle to a growing share of a channel's devices, watched by health gates.
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// How a bundle's release went: where devices got to, failure and crash rates, times.
    Metrics(MetricsArgs),
    /// Apps on the server.
    #[command(subcommand)]
    App(AppCommand),
    /// API keys for the management API (`updraft key` is the encryption key).
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Scheduled deploys: a deploy or a rollout step at a time or inside a recurring window.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Named cohorts of devices, which channel and rollout targeting rules name.
    #[command(subcommand)]
    Cohort(CohortCommand),
    /// Outbound webhooks: the app's release events, signed, POSTed to your URLs.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Inbound deploy hooks: a signed URL that promotes, starts or pauses a rollout, without an API key.
    #[command(subcommand)]
    Hook(HookCommand),
    /// The audit trail: every change to the app, who made it, and each field before and after.
    Audit(AuditArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// Read the API key from standard input instead of --api-key or a prompt.
    #[arg(long)]
    pub api_key_stdin: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The server's address as phones reach it, written into the capacitor config as the base
    /// of updateUrl, statsUrl and channelUrl (default: the server URL). Use the same address as
    /// the server's UPDRAFT_PUBLIC_URL, such as https://updates.example.com.
    #[arg(long, value_name = "URL")]
    pub device_url: Option<String>,
    /// App name on the server (default: appName from the capacitor config).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Create .capgo_key_v2 (private) and .capgo_key_v2.pub, and put the public key in capacitor.config.
    Create {
        /// Replace existing key files.
        #[arg(long, short)]
        force: bool,
    },
    /// Show the public key, its key id, and whether the files and the config agree.
    Show,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct BuildArgs {
    /// The web build directory (default: webDir from the capacitor config).
    #[arg(long, short, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// Bundle version (default: version in package.json).
    #[arg(long, short, value_name = "VERSION")]
    pub bundle: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct KeyArgs {
    /// Private key file (default: .capgo_key_v2 in the project, used when it exists).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Upload unencrypted even when a key exists.
    #[arg(long, conflicts_with = "key")]
    pub no_key: bool,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct MetaArgs {
    /// Devices whose native version is below this do not get the bundle (channel policy version_number).
    #[arg(long, value_name = "VERSION")]
    pub min_update_version: Option<String>,
    /// A link shown to devices when the app exposes metadata.
    #[arg(long)]
    pub link: Option<String>,
    /// A comment shown to devices when the app exposes metadata.
    #[arg(long)]
    pub comment: Option<String>,
    /// Succeed (exit 0) without uploading when the version already exists.
    #[arg(long)]
    pub version_exists_ok: bool,
    /// Upload even when the build is identical to the channel's current bundle.
    #[arg(long)]
    pub ignore_checksum_check: bool,
    /// A critical deploy (with a channel): it supersedes an active rollout on the channel, and devices that can act on it apply the bundle at once.
    #[arg(long)]
    pub critical: bool,
    /// Also give the bundle its per-file manifest (only the files the server lacks are sent), so plugins that read manifests download only the files they do not hold. An encrypted bundle's files are encrypted one by one with its key (and so uploaded again for every version).
    #[arg(long)]
    pub delta: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BundleCommand {
    /// Zip the web build reproducibly (same files, same bytes) and print its checksum.
    Zip {
        #[command(flatten)]
        build: BuildArgs,
        /// Output file (default: <appId>_<version>.zip).
        #[arg(long, short, value_name = "FILE")]
        name: Option<PathBuf>,
    },
    /// Encrypt a zip (Capgo v2): writes <zip>_encrypted.zip, prints the encrypted checksum and session key.
    Encrypt {
        /// The plain zip.
        zip: PathBuf,
        /// Its SHA-256 (as printed by `bundle zip`); checked when given.
        checksum: Option<String>,
        /// Private key file (default: .capgo_key_v2 in the project).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
    /// Decrypt an encrypted zip with the public key: writes <zip>_decrypted.zip.
    Decrypt {
        /// The encrypted zip.
        zip: PathBuf,
        /// The session key: base64(iv):base64(key).
        iv_session_key: String,
        /// Public key file (default: .capgo_key_v2.pub, else publicKey from the capacitor config).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Verify the decrypted zip against this checksum (encrypted or plain hex).
        #[arg(long)]
        checksum: Option<String>,
    },
    /// Zip, encrypt (when a key exists) and upload the web build; or register an external bundle.
    Upload(UploadArgs),
    /// What a device running FROM downloads to get TO: as the zip, and as a manifest (only the files it lacks, Brotli where it pays).
    Diff {
        /// The bundle the device has: a web build folder or a bundle zip.
        from: PathBuf,
        /// The bundle it updates to: a web build folder or a bundle zip.
        to: PathBuf,
    },
    /// List the app's bundles.
    List,
    /// Delete a bundle (refused while a channel uses it).
    Delete {
        /// The bundle version.
        #[arg(id = "bundle_version", value_name = "VERSION")]
        version: String,
    },
    /// Revoke a bad release for good: never offered again; channels and rollouts using it go back, devices running it move at their next check.
    Revoke {
        /// The bundle version.
        #[arg(id = "bundle_version", value_name = "VERSION")]
        version: String,
        /// Why, kept on the bundle and in the change log.
        #[arg(long)]
        reason: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Delete old bundles, keeping the newest N and any a channel uses.
    Cleanup {
        /// How many of the newest bundles to keep.
        #[arg(long, short, default_value_t = 4)]
        keep: usize,
        /// Show what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
}

#[derive(Debug, Args, Clone)]
pub(crate) struct UploadArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Also point this channel at the new bundle (created if missing).
    #[arg(long, short)]
    pub channel: Option<String>,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub meta: MetaArgs,
    /// Register a bundle you host yourself at this https URL instead of uploading.
    #[arg(long, short, value_name = "URL", conflicts_with_all = ["key", "no_key", "delta"])]
    pub external: Option<String>,
    /// With --external: the session key of the encrypted zip (base64(iv):base64(key)).
    #[arg(long, requires = "external", value_name = "IV:KEY")]
    pub iv_session_key: Option<String>,
    /// With --external: the checksum devices verify (plain SHA-256, or the encrypted one).
    #[arg(long, alias = "encrypted-checksum", requires = "external")]
    pub checksum: Option<String>,
    /// With --external and --iv-session-key: the encrypted zip exactly as hosted at the URL.
    /// It is checked against the checksum, and its SHA-256 lets the server serve Capgo's
    /// Electron updater, which verifies encrypted bundles differently.
    #[arg(long, requires = "iv_session_key", value_name = "FILE")]
    pub encrypted_zip: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// The channel to deploy to.
    #[arg(long, short, default_value = DEFAULT_CHANNEL)]
    pub channel: String,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub meta: MetaArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DeviceCommand {
    /// List devices, newest first.
    List {
        /// Filter by device id or custom id.
        #[arg(long, short)]
        search: Option<String>,
        /// How many devices to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show one device.
    Get {
        /// The device id (a UUID).
        device_id: String,
    },
    /// Put a device on a channel (overrides its own choice and the public channel).
    SetChannel {
        /// The device id (a UUID).
        device_id: String,
        /// The channel it gets from now on.
        channel: String,
    },
    /// Pin a device to one bundle.
    Pin {
        /// The device id (a UUID).
        device_id: String,
        /// The bundle version it runs from now on.
        #[arg(id = "bundle_version", value_name = "VERSION")]
        version: String,
    },
    /// Remove a device's channel override or pin.
    Unset {
        /// The device id (a UUID).
        device_id: String,
    },
    /// Why the server answered the device's last update check as it did: the outcome, the
    /// channel and every rule it went through.
    Explain {
        /// The device id (a UUID).
        device_id: String,
    },
    /// Let a device be offered bundles it rolled back again (all, or one).
    Unblock {
        /// The device id (a UUID).
        device_id: String,
        /// Only this bundle version.
        #[arg(long = "bundle", id = "bundle_version", value_name = "VERSION")]
        version: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AppCommand {
    /// List the apps the API key may see.
    List,
    /// Create an app (`updraft init` also creates its channels and writes the project's config).
    Create {
        /// The app id, in reverse-domain form (default: --app, else appId from the capacitor config).
        app_id: Option<String>,
        /// A display name (default: appName from the capacitor config).
        #[arg(long)]
        name: Option<String>,
    },
    /// Delete an app and everything under it: bundles, channels, devices and their stats.
    Delete {
        /// The app id to delete.
        app_id: String,
        /// Do not ask for confirmation (needed when standard input is not a terminal).
        #[arg(long, short)]
        yes: bool,
    },
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Mode {
    /// Read everything in scope.
    Read,
    /// Read, and upload bundles (enough for `updraft deploy` in CI).
    Upload,
    /// Read, upload, and change apps, channels and devices.
    Write,
    /// Everything, including managing API keys.
    All,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// List the API keys within this key's reach (never their secrets).
    List,
    /// Create an API key; its secret is printed this once.
    ///
    /// Limit the key to apps with --app APP_ID, once per app; without --app it reaches every
    /// app (the project's appId is not used here). A key never reaches beyond, nor outlives, the
    /// key that creates it.
    Create(ApiKeyCreateArgs),
    /// Revoke (delete) an API key by its id, as `api-key list` shows it.
    Revoke {
        /// The key id.
        id: i64,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ApiKeyCreateArgs {
    /// What the key is for, such as github-ci.
    pub name: String,
    /// What the key may do (each mode includes the ones before it).
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// When the key stops working: a duration from now (m = minutes, h = hours, d = days,
    /// w = weeks: 90m, 12h, 30d, 2w) or an RFC 3339 date or time (2026-12-31 is midnight UTC;
    /// 2026-12-31T18:00:00Z, or with an offset; without one, UTC). Default: never, or when
    /// this key expires.
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
