//! `updraft-server`: flag parsing and startup messages; the server lives in the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use updraft_server::config::{
    Config, DatabaseLayer, Layer, LogFilter, LogFormat, ServerLayer, StorageLayer, TlsLayer,
};
use updraft_server::config_report::{self, Layers};
use updraft_server::first_start;

/// mimalloc instead of the system allocator: a check allocates and frees
/// dozens of small buffers, and glibc's malloc was a tenth of the request path.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "updraft-server",
    version,
    about = "Self-hosted live updates for Capacitor apps, wire-compatible with @capgo/capacitor-updater"
)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "UPDRAFT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Args, Default)]
struct ServeFlags {
    /// Address to listen on, ADDR:PORT [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<String>,
    /// Directory for the SQLite database and bundle files [default: ./updraft-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB [default: sqlite under the data directory].
    #[arg(long)]
    database_url: Option<String>,
    /// External base URL used in bundle URLs given to devices.
    #[arg(long)]
    public_url: Option<String>,
    /// PEM certificate chain for built-in TLS.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// PEM private key for built-in TLS.
    #[arg(long)]
    tls_key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeFlags),
    /// Apply database migrations and exit.
    Migrate(ServeFlags),
    /// Validate the configuration and print every setting, where it came from, secrets redacted.
    CheckConfig(CheckConfigFlags),
    /// Administration from a shell on the server (works while it runs).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an API key directly in the database and print its secret: the
    /// way back in when every admin key is lost. Prints only the secret on stdout.
    CreateKey(CreateKeyFlags),
}

#[derive(clap::Args)]
struct CheckConfigFlags {
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    serve: ServeFlags,
}

#[derive(clap::Args)]
struct CreateKeyFlags {
    /// A name to recognise the key by in listings.
    #[arg(long, default_value = "admin (created from the shell)")]
    name: String,
    /// read, upload, write or all.
    #[arg(long, default_value = "all")]
    mode: String,
    /// Limit the key to this app (repeat for several); none means every app.
    #[arg(long = "app")]
    apps: Vec<String>,
    /// Make the key expire after this many days.
    #[arg(long)]
    expires_in_days: Option<u32>,
    #[command(flatten)]
    serve: ServeFlags,
}

fn layers(file: Option<PathBuf>, flags: ServeFlags) -> anyhow::Result<Layers> {
    let file = match file {
        Some(f) => {
            let layer = Layer::from_file(&f)?;
            Some((f, layer))
        }
        None => None,
    };
    Ok(Layers {
        file,
        env: Layer::from_env(|k| std::env::var(k).ok())?,
        flags: Layer {
            server: ServerLayer {
                listen: flags.listen,
                public_url: flags.public_url,
                ..Default::default()
            },
            database: DatabaseLayer {
                url: flags.database_url.map(Into::into),
                ..Default::default()
            },
            storage: StorageLayer {
                data_dir: flags.data_dir,
                ..Default::default()
            },
            tls: TlsLayer {
                cert: flags.tls_cert,
                key: flags.tls_key,
            },
            ..Default::default()
        },
    })
}

/// Loads the configuration and starts logging in its format.
fn load(file: Option<PathBuf>, flags: ServeFlags) -> anyhow::Result<Config> {
    let config = layers(file, flags)?.resolve()?;
    let filter = LogFilter::from_env()?;
    init_logging(config.server.log_format, &filter);
    Ok(config)
}

fn init_logging(format: LogFormat, filter: &LogFilter) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = filter.build();
    // Whatever RUST_LOG says, targets that could print a secret stay silent.
    let silenced = updraft_server::config::silenced();
    match format {
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .finish()
            .with(silenced)
            .init(),
        // Coloured only on a terminal.
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .finish()
            .with(silenced)
            .init(),
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(ServeFlags::default()));
    match command {
        Command::CheckConfig(f) => {
            let layers = layers(cli.config, f.serve)?;
            let c = layers.resolve()?;
            let settings = config_report::settings(&c, &layers)?;
            let log = LogFilter::from_env()?;
            if f.json {
                let doc = config_report::to_json(&settings, &layers, &log);
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                print!("{}", config_report::to_text(&settings, &layers, &log));
            }
            Ok(())
        }
        Command::Admin(AdminCommand::CreateKey(f)) => {
            let c = load(cli.config, f.serve)?;
            let mode: updraft_protocol::api::KeyMode =
                serde_json::from_value(serde_json::Value::String(f.mode.clone())).map_err(
                    |_| anyhow::anyhow!("mode {:?} is not one of read, upload, write, all", f.mode),
                )?;
            if f.name.trim().is_empty() {
                anyhow::bail!("--name must not be empty");
            }
            let store = updraft_server::open_store(&c).await?;
            let key = updraft_protocol::api::NewApiKey {
                name: f.name,
                mode,
                apps: f.apps,
                expires_at: f
                    .expires_in_days
                    .map(|d| updraft_server::now_ms() + i64::from(d) * 86_400_000),
            };
            let secret = updraft_server::create_key(&*store, &key).await?;
            eprintln!(
                "created API key {:?} (mode {}) in {}; it is shown only this once:",
                key.name, f.mode, c.database.url
            );
            println!("{secret}");
            Ok(())
        }
        Command::Migrate(flags) => {
            let c = load(cli.config, flags)?;
            updraft_server::open_store(&c).await?;
            println!("database {} is up to date", c.database.url);
            Ok(())
        }
        Command::Serve(flags) => {
            let c = load(cli.config, flags)?;
            let signals = updraft_server::StopSignals::install()?;
            let store = updraft_server::open_store(&c).await?;
            // The first admin key is made only once the server is serving: a
            // start that fails (a port in use) must not leave a key nobody saw.
            let running = updraft_server::start(c.clone(), store.clone()).await?;
            let first = updraft_server::bootstrap_key(
                &*store,
                c.server
                    .bootstrap_api_key
                    .as_ref()
                    .map(|k| k.expose().as_str()),
            )
            .await
            .context("cannot create the first API key")?;
            tracing::info!(addr = %running.addr, database = %c.database.url, "updraft-server listening");
            if let Some(warning) = first_start::start_warning(&c, running.addr) {
                tracing::warn!("{warning}");
            }
            if let Some(secret) = first {
                let banner = first_start::banner(&c, running.addr, &secret);
                // With JSON logs stdout is for log collectors: the banner (and
                // its secret) goes to the terminal's other stream instead.
                if c.server.log_format == LogFormat::Json {
                    eprintln!("{banner}");
                } else {
                    println!("{banner}");
                }
            }
            running.until_signal(signals).await
        }
    }
}
