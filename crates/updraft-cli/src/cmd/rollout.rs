//! `rollout start|status|pause|resume|advance|promote|revert|list`.

use std::io::IsTerminal as _;
use std::time::Duration;

use serde_json::json;
use updraft_client::Client;
use updraft_protocol::api::{NewRollout, RolloutAction, RolloutVerb};

use crate::args::{RolloutActionArgs, RolloutCommand, RolloutStatusArgs};
use crate::error::{CliError, CliResult};
use crate::expiry::now_ms;
use crate::render::{rollout as view, Paint};
use crate::{plan, Ctx};

/// How often `status --watch` redraws.
const WATCH_EVERY: Duration = Duration::from_secs(2);

pub(crate) async fn run(ctx: &Ctx, c: RolloutCommand) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    match c {
        RolloutCommand::Start(a) => {
            let new = NewRollout {
                bundle: a.bundle.clone(),
                plan: plan::plan(&a)?,
            };
            let r = client
                .start_rollout(&app, &a.channel, &new)
                .await
                .map_err(|e| {
                    let conflict = e.status() == Some(409);
                    let err = CliError::from(e);
                    if conflict {
                        err.hint(format!("`updraft rollout status --channel {}` shows the rollout running there; promote or revert it first", a.channel))
                    } else {
                        err
                    }
                })?;
            ctx.out.result(|| view::started(&r), json!(r));
        }
        RolloutCommand::Status(a) => status(ctx, &client, &app, &a).await?,
        RolloutCommand::Pause(a) => act(ctx, &client, &app, RolloutVerb::Pause, a).await?,
        RolloutCommand::Resume(a) => act(ctx, &client, &app, RolloutVerb::Resume, a).await?,
        RolloutCommand::Advance(a) => act(ctx, &client, &app, RolloutVerb::Advance, a).await?,
        RolloutCommand::Promote(a) => act(ctx, &client, &app, RolloutVerb::Promote, a).await?,
        RolloutCommand::Revert(a) => act(ctx, &client, &app, RolloutVerb::Revert, a).await?,
        RolloutCommand::List => {
            let rollouts = client.list_rollouts(&app).await?;
            ctx.out.result(
                || view::list(&rollouts, Paint::for_stdout()),
                json!(rollouts),
            );
        }
    }
    Ok(())
}

/// A 404 of a channel's rollout: which one, and how to start one.
fn no_rollout(e: updraft_client::Error, channel: &str) -> CliError {
    let missing = e.status() == Some(404);
    let err = CliError::from(e);
    if missing {
        err.hint(format!(
            "`updraft rollout start --channel {channel} --bundle VERSION` starts one; `updraft rollout list` shows the app's rollouts"
        ))
    } else {
        err
    }
}

/// `rollout status`, once, or redrawn until the rollout ends or Ctrl-C.
async fn status(ctx: &Ctx, client: &Client, app: &str, a: &RolloutStatusArgs) -> CliResult<()> {
    let watch = a.watch && !ctx.out.json && !ctx.out.quiet && std::io::stdout().is_terminal();
    let paint = Paint::for_stdout();
    loop {
        let st = client
            .rollout_status(app, &a.channel)
            .await
            .map_err(|e| no_rollout(e, &a.channel))?;
        if watch {
            // Clear the screen and go to its top, then draw.
            print!("\u{1b}[2J\u{1b}[H");
        }
        ctx.out
            .result(|| view::status(&st, now_ms(), paint), json!(st));
        if !watch {
            return Ok(());
        }
        if !st.rollout.state.is_active() {
            println!("\nThe rollout is over.");
            return Ok(());
        }
        println!(
            "\nRedrawing every {}s; Ctrl-C stops.",
            WATCH_EVERY.as_secs()
        );
        tokio::select! {
            () = tokio::time::sleep(WATCH_EVERY) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// A manual action on the channel's rollout.
async fn act(
    ctx: &Ctx,
    client: &Client,
    app: &str,
    verb: RolloutVerb,
    a: RolloutActionArgs,
) -> CliResult<()> {
    let action = RolloutAction { reason: a.reason };
    let r = client
        .rollout_action(app, &a.channel, verb, &action)
        .await
        .map_err(|e| {
            let conflict = e.status() == Some(409);
            let err = no_rollout(e, &a.channel);
            if conflict {
                err.hint(format!(
                    "`updraft rollout status --channel {}` shows what state it is in",
                    a.channel
                ))
            } else {
                err
            }
        })?;
    ctx.out.result(|| view::acted(verb, &r), json!(r));
    Ok(())
}
