//! `updraft-server`: flag parsing and startup messages; the server lives in the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use updraft_server::config::{Config, Layer};

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
    /// Validate the configuration and print it.
    CheckConfig(ServeFlags),
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

fn load(file: Option<PathBuf>, flags: ServeFlags) -> anyhow::Result<Config> {
    let mut layer = Layer::default();
    if let Some(f) = file {
        layer = layer.merge(Layer::from_file(&f)?);
    }
    layer = layer.merge(Layer::from_env(|k| std::env::var(k).ok())?);
    layer = layer.merge(Layer {
        listen: flags.listen,
        data_dir: flags.data_dir,
        database_url: flags.database_url,
        public_url: flags.public_url,
        tls_cert: flags.tls_cert,
        tls_key: flags.tls_key,
        ..Default::default()
    });
    layer.resolve()
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

#[tokio::main]
async fn main() {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| "info,sqlx=warn".into())
    };
    // One JSON object per line for log collectors, or text (coloured only on a terminal).
    if std::env::var("UPDRAFT_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter())
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .init();
    }
    if let Err(e) = run().await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(ServeFlags::default()));
    match command {
        Command::CheckConfig(flags) => {
            let c = load(cli.config, flags)?;
            println!("configuration is valid");
            println!("  listen:       {}", c.listen);
            println!("  data dir:     {}", c.data_dir.display());
            println!("  database:     {}", redact(&c.database_url));
            println!(
                "  public URL:   {}",
                c.public_url.as_deref().unwrap_or("(from the Host header)")
            );
            println!(
                "  TLS:          {}",
                if c.tls_cert.is_some() { "on" } else { "off" }
            );
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
                key.name,
                f.mode,
                redact(&c.database_url)
            );
            println!("{secret}");
            Ok(())
        }
        Command::Migrate(flags) => {
            let c = load(cli.config, flags)?;
            updraft_server::open_store(&c).await?;
            println!("database {} is up to date", redact(&c.database_url));
            Ok(())
        }
        Command::Serve(flags) => {
            let c = load(cli.config, flags)?;
            let signals = updraft_server::StopSignals::install()?;
            let store = updraft_server::open_store(&c).await?;
            // The first admin key is made only once the server is serving: a
            // start that fails (a port in use) must not leave a key nobody saw.
            let running = updraft_server::start(c.clone(), store.clone()).await?;
            let first = updraft_server::bootstrap_key(&*store, c.bootstrap_api_key.as_deref())
                .await
                .context("cannot create the first API key")?;
            let base = c.public_url.clone().unwrap_or_else(|| {
                let scheme = if c.tls_cert.is_some() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{}", running.addr)
            });
            tracing::info!(addr = %running.addr, database = %redact(&c.database_url), "updraft-server listening");
            if c.public_url.is_none() {
                tracing::warn!(
                    "no public URL is set: devices are sent bundle URLs on {base}{}; set UPDRAFT_PUBLIC_URL to the address phones reach",
                    if c.trusted_proxies.is_empty() { "" } else { " unless a trusted proxy sends X-Forwarded-Host" },
                );
            }
            if let Some(secret) = first {
                print_first_start(&base, &secret, c.bootstrap_api_key.is_some());
            }
            running.until_signal(signals).await
        }
    }
}

fn print_first_start(base: &str, secret: &str, given: bool) {
    let shown = if given {
        "(the key from UPDRAFT_BOOTSTRAP_API_KEY)".to_string()
    } else {
        secret.to_string()
    };
    println!(
        r#"
Updraft is running at {base}

An admin API key was created. It is shown only this once; store it now:

    {shown}

Next steps:
  1. Create an app:
       curl -X POST {base}/api/v1/apps -H "Authorization: Bearer $KEY" -d '{{"app_id":"com.example.app"}}'
  2. Create a public channel:
       curl -X POST {base}/api/v1/apps/com.example.app/channels -H "Authorization: Bearer $KEY" -d '{{"name":"production","public":true}}'
  3. Upload a bundle (a zip of your web build) and put it on the channel:
       curl -X POST "{base}/api/v1/apps/com.example.app/bundles?version=1.0.1&channel=production" -H "Authorization: Bearer $KEY" --data-binary @dist.zip
  4. Point the app at Updraft in capacitor.config.json:
       "plugins": {{ "CapacitorUpdater": {{
         "updateUrl": "{base}/updates",
         "statsUrl": "{base}/stats",
         "channelUrl": "{base}/channel_self"
       }} }}
"#
    );
}
