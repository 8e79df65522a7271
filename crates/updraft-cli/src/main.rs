//! `updraft`: the command line for Updraft. Init a Capacitor project, create
//! keys, zip/encrypt/upload builds (Capgo-compatible), manage channels and
//! devices, deploy from CI in one line, and roll bundles out in stages with
//! health gates and release metrics.
//!
//! Exit codes: 0 ok, 1 error, 2 usage, 3 auth, 4 not found or conflict.

// clap prints the `///` comments of `args` as --help text, verbatim: `<appId>` and bare URLs
// are meant for a terminal there, where rustdoc's escapes and backticks would show.
#![allow(rustdoc::invalid_html_tags, rustdoc::bare_urls)]

mod args;
mod ats;
mod cmd;
mod device_url;
mod error;
mod expiry;
mod files;
mod output;
mod plan;
mod project;
mod prompt;
mod render;
mod settings;
mod span;

use clap::Parser as _;

use crate::args::{Cli, Command, Global};
use crate::error::{CliError, CliResult};
use crate::output::Out;
use crate::project::Project;

/// What every command gets: the global flags and the printer.
pub(crate) struct Ctx {
    pub(crate) g: Global,
    pub(crate) out: Out,
}

impl Ctx {
    /// A client for the resolved server and key.
    pub(crate) fn client(&self) -> CliResult<updraft_client::Client> {
        let r = settings::resolve(&self.g)?;
        Ok(updraft_client::Client::new(&r.server, &r.api_key)?)
    }

    /// The Capacitor project in `--project`.
    pub(crate) fn project(&self) -> CliResult<Project> {
        Project::load(&self.g.project)
    }

    /// The one `--app` given, if any (only `api-key create` takes several).
    pub(crate) fn app_flag(&self) -> CliResult<Option<&str>> {
        match self.g.app.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            _ => Err(CliError::usage(
                "too_many_apps",
                format!(
                    "this command works on one app; got --app {}",
                    self.g.app.join(", --app ")
                ),
            )
            .hint("only `updraft api-key create` takes --app more than once")),
        }
    }

    /// The app to work on: `--app`, else the project's appId.
    pub(crate) fn app_id(&self, project: &Project) -> CliResult<String> {
        project.app_id(self.app_flag()?)
    }
}

fn main() {
    // Like other Unix tools, end quietly when whoever reads our output stops
    // (`updraft completions bash | head`), instead of panicking on EPIPE: Rust
    // ignores SIGPIPE by default, which turns every later print into a panic.
    #[cfg(unix)]
    // The workspace denies unsafe code; this is its one use: std has no safe way to restore
    // SIGPIPE's default action (`#[unix_sigpipe]` is unstable).
    #[allow(unsafe_code)]
    // SAFETY: called first thing, before any thread exists; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // Help and --version print and exit 0; usage errors exit 2.
        Err(e) => e.exit(),
    };
    let ctx = Ctx {
        out: Out {
            json: cli.global.json,
            quiet: cli.global.quiet,
        },
        g: cli.global,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let result = rt.block_on(run(&ctx, cli.command));
    if let Err(e) = result {
        report(&ctx.out, &e);
        std::process::exit(e.exit as i32);
    }
}

fn report(out: &Out, e: &CliError) {
    if out.json && !e.result_printed {
        let v = serde_json::json!({"error": e.code, "message": e.message, "hint": e.hint});
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("json serialises")
        );
    }
    eprintln!("error: {}", e.message);
    if let Some(h) = &e.hint {
        eprintln!("hint: {h}");
    }
}

async fn run(ctx: &Ctx, command: Command) -> CliResult<()> {
    match command {
        Command::Login(a) => cmd::login::login(ctx, a).await,
        Command::Logout => cmd::login::logout(ctx),
        Command::Doctor => cmd::doctor::doctor(ctx).await,
        Command::Init(a) => cmd::init::init(ctx, a).await,
        Command::Key(k) => cmd::key::run(ctx, &k),
        Command::Bundle(b) => cmd::bundle::run(ctx, b).await,
        Command::Channel(c) => cmd::channel::run(ctx, c).await,
        Command::Promote(a) => cmd::channel::promote(ctx, a).await,
        Command::Rollback(a) => cmd::channel::rollback(ctx, a).await,
        Command::Device(d) => cmd::device::run(ctx, d).await,
        Command::Deploy(a) => cmd::upload::deploy(ctx, a).await,
        Command::Rollout(r) => cmd::rollout::run(ctx, r).await,
        Command::Metrics(a) => cmd::metrics::metrics(ctx, a).await,
        Command::App(a) => cmd::app::run(ctx, a).await,
        Command::ApiKey(k) => cmd::api_key::run(ctx, k).await,
        Command::Schedule(c) => cmd::schedule::run(ctx, c).await,
        Command::Cohort(c) => cmd::cohort::run(ctx, c).await,
        Command::Webhook(w) => cmd::webhook::run(ctx, w).await,
        Command::Hook(h) => cmd::webhook::hook(ctx, h).await,
        Command::Audit(a) => cmd::audit::audit(ctx, a).await,
        Command::Completions(a) => {
            use clap::CommandFactory as _;
            clap_complete::generate(
                a.shell,
                &mut Cli::command(),
                "updraft",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}
