//! The simulator's command line, and the parsers of its per-version
//! injections (`VERSION=RATE`, `VERSION=MS`).

use std::path::PathBuf;

use clap::Parser;

/// Simulate N devices running the updater against a server.
#[derive(Debug, Parser)]
#[command(name = "updraft-sim", version)]
pub(crate) struct Args {
    /// Server base URL (devices use {server}/updates, /stats, /channel_self).
    #[arg(long)]
    pub server: String,
    /// App id.
    #[arg(long)]
    pub app: String,
    /// How many devices.
    #[arg(long, short = 'n', default_value_t = 100)]
    pub devices: usize,
    /// Directory for the devices' state (device i lives in DIR/i; kept between runs).
    #[arg(long)]
    pub dir: PathBuf,
    /// App starts per device. Each is one round: check, download and apply an
    /// update, launch (app_launch_ready), crash or fail as injected, send stats.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Pause between a device's checks, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub interval_ms: u64,
    /// Devices working at the same time.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Share of Android devices (the rest are iOS).
    #[arg(long, default_value_t = 0.5)]
    pub android_share: f64,
    /// Native versions, picked at random per device.
    #[arg(long, value_delimiter = ',', default_value = "1.0.0")]
    pub native: Vec<String>,
    /// Config defaultChannel of every device ("" for the public channel).
    #[arg(long, default_value = "")]
    pub channel: String,
    /// Share of devices whose new bundle never calls notifyAppReady (they roll back).
    #[arg(long, default_value_t = 0.0)]
    pub never_confirm: f64,
    /// Share of devices whose downloads arrive corrupted.
    #[arg(long, default_value_t = 0.0)]
    pub corrupt: f64,
    /// Share of devices whose first transfer is cut half-way (they resume next round).
    #[arg(long, default_value_t = 0.0)]
    pub interrupt: f64,
    /// Share of the devices running VERSION that crash after each start (app_crash with the
    /// plugin's exit report), such as 1.0.2=0.05 or 1.0.2=5%. The same devices crash every
    /// round (chosen by device id and --seed). Repeat for more versions.
    #[arg(long, value_name = "VERSION=RATE", value_parser = version_rate)]
    pub crash: Vec<(String, f64)>,
    /// Share of the devices running VERSION that report an uncaught JavaScript error after
    /// each start (webview_javascript_error), as --crash.
    #[arg(long, value_name = "VERSION=RATE", value_parser = version_rate)]
    pub js_error: Vec<(String, f64)>,
    /// The launch time devices running VERSION report with app_launch_ready
    /// (metadata.duration_ms); VERSION * stands for every version not named. Without it a
    /// device reports the time it really took. Repeat for more versions.
    #[arg(long, value_name = "VERSION=MS", value_parser = version_ms)]
    pub launch_ms: Vec<(String, u64)>,
    /// appReadyTimeout in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub app_ready_timeout_ms: u64,
    /// PKCS#1 PEM public key file (for encrypted bundles). Default: the --project's, as the
    /// updraft CLI finds it (publicKey in its capacitor config, else .capgo_key_v2.pub); none
    /// when it has neither.
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    /// The Capacitor project whose public key the devices carry (unless --public-key is given).
    #[arg(long, default_value = ".", conflicts_with = "public_key")]
    pub project: PathBuf,
    /// Random seed (the same seed gives the same fleet).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// The web assets of the store build every device ships (manifest
    /// updates copy the files it holds instead of downloading them).
    #[arg(long, value_name = "DIR")]
    pub builtin_dir: Option<PathBuf>,
    /// Devices do not ask for byte-level patches (download as the stock plugin does).
    #[arg(long)]
    pub no_patches: bool,
}

/// `VERSION=VALUE`, both sides non-empty.
fn split(s: &str) -> Result<(&str, &str), String> {
    match s.split_once('=') {
        Some((v, x)) if !v.trim().is_empty() && !x.trim().is_empty() => Ok((v.trim(), x.trim())),
        _ => Err(format!("expected VERSION=VALUE, got {s:?}")),
    }
}

/// `VERSION=RATE`: a share from 0 to 1 (`0.05`) or a percentage (`5%`).
pub(crate) fn version_rate(s: &str) -> Result<(String, f64), String> {
    let (version, rate) = split(s)?;
    let (number, scale) = match rate.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (rate, 1.0),
    };
    let value = number
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite())
        .map(|r| r / scale)
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| format!("the rate {rate:?} is not a share from 0 to 1 or 0% to 100%"))?;
    Ok((version.to_string(), value))
}

/// `VERSION=MS`: whole milliseconds.
pub(crate) fn version_ms(s: &str) -> Result<(String, u64), String> {
    let (version, ms) = split(s)?;
    let ms = ms
        .parse::<u64>()
        .map_err(|_| format!("{ms:?} is not a whole number of milliseconds"))?;
    Ok((version.to_string(), ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_shares_or_percentages() {
        assert_eq!(version_rate("1.0.2=0.05"), Ok(("1.0.2".into(), 0.05)));
        assert_eq!(version_rate("1.0.2=5%"), Ok(("1.0.2".into(), 0.05)));
        assert_eq!(version_rate("1.0.2=1"), Ok(("1.0.2".into(), 1.0)));
        for bad in [
            "1.0.2",
            "=0.1",
            "1.0.2=",
            "1.0.2=1.5",
            "1.0.2=-1%",
            "1.0.2=x",
            "1.0.2=NaN",
        ] {
            assert!(version_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn launch_times_are_whole_milliseconds() {
        assert_eq!(version_ms("*=800"), Ok(("*".into(), 800)));
        assert!(version_ms("1.0.2=1.5").is_err());
        assert!(version_ms("1.0.2=-3").is_err());
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory as _;
        Args::command().debug_assert();
    }
}
