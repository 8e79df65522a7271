//! `webhook add|list|test|deliveries|rotate|enable|disable|delete`: outbound
//! webhooks of the project's app; `hook add|list|delete`: its inbound deploy
//! hooks. A secret (and a hook's URL) is printed when it is made and never
//! again.

use serde_json::json;
use updraft_protocol::api::{HookAction, NewHook, NewWebhook, RotateSecret, WebhookPatch};

use crate::args::{HookActionArg, HookCommand, WebhookCommand};
use crate::error::CliResult;
use crate::output::{table, when};
use crate::Ctx;

pub(crate) async fn run(ctx: &Ctx, c: WebhookCommand) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    match c {
        WebhookCommand::Add {
            url,
            events,
            description,
        } => {
            let new = NewWebhook {
                url,
                events,
                description,
            };
            let w = client.create_webhook(&app, &new).await?;
            ctx.out.result(
                || {
                    format!(
                        "Webhook {} sends {} to {}.\nSecret (shown this once; verify signatures with it): {}",
                        w.webhook.id,
                        events_text(&w.webhook.events),
                        w.webhook.url,
                        w.secret
                    )
                },
                json!(w),
            );
        }
        WebhookCommand::List => {
            let hooks = client.list_webhooks(&app).await?;
            let rows: Vec<Vec<String>> = hooks
                .iter()
                .map(|w| {
                    vec![
                        w.id.to_string(),
                        w.url.clone(),
                        events_text(&w.events),
                        if w.enabled {
                            "on".into()
                        } else {
                            format!(
                                "off ({})",
                                w.disabled_reason.as_deref().unwrap_or("turned off")
                            )
                        },
                    ]
                })
                .collect();
            ctx.out.result(
                || {
                    if hooks.is_empty() {
                        format!("No webhooks in {app}: `updraft webhook add URL` makes one.")
                    } else {
                        table(&["ID", "URL", "EVENTS", "STATE"], &rows)
                    }
                },
                json!(hooks),
            );
        }
        WebhookCommand::Test { id } => {
            let t = client.test_webhook(&app, id).await?;
            ctx.out.result(
                || match (t.ok, t.status, &t.error) {
                    (true, Some(s), _) => {
                        format!("The receiver answered {s} in {} ms.", t.duration_ms)
                    }
                    (_, _, Some(e)) => format!("The test delivery failed: {e}"),
                    _ => "The test delivery failed.".into(),
                },
                json!(t),
            );
            if !t.ok {
                return Err(crate::error::CliError::new(
                    crate::error::Exit::Error,
                    "test_delivery_failed",
                    t.error
                        .unwrap_or_else(|| "the receiver did not answer 2xx".into()),
                ));
            }
        }
        WebhookCommand::Deliveries { id, limit } => {
            let log = client.list_deliveries(&app, id, Some(limit)).await?;
            let rows: Vec<Vec<String>> = log
                .iter()
                .map(|d| {
                    vec![
                        d.id.to_string(),
                        d.kind.clone(),
                        d.state.as_str().to_string(),
                        d.attempts.to_string(),
                        d.last_status.map(|s| s.to_string()).unwrap_or_default(),
                        when(d.created_at),
                    ]
                })
                .collect();
            ctx.out.result(
                || {
                    table(
                        &[
                            "ID",
                            "EVENT",
                            "STATE",
                            "ATTEMPTS",
                            "LAST STATUS",
                            "QUEUED (UTC)",
                        ],
                        &rows,
                    )
                },
                json!(log),
            );
        }
        WebhookCommand::Rotate { id, grace_seconds } => {
            let body = RotateSecret {
                grace_seconds: Some(grace_seconds),
            };
            let w = client.rotate_secret(&app, id, &body).await?;
            ctx.out.result(
                || {
                    let until = w
                        .webhook
                        .previous_secret_until
                        .map(|t| format!("; the old one signs too until {} UTC", when(t)))
                        .unwrap_or_default();
                    format!("New secret (shown this once){until}: {}", w.secret)
                },
                json!(w),
            );
        }
        WebhookCommand::Enable { id } | WebhookCommand::Disable { id } => {
            let on = matches!(c, WebhookCommand::Enable { .. });
            let patch = WebhookPatch {
                enabled: Some(on),
                ..Default::default()
            };
            let w = client.update_webhook(&app, id, &patch).await?;
            ctx.out.result(
                || format!("Webhook {id} is {}.", if on { "on" } else { "off" }),
                json!(w),
            );
        }
        WebhookCommand::Delete { id } => {
            client.delete_webhook(&app, id).await?;
            ctx.out.result(
                || format!("Deleted webhook {id}."),
                json!({"app_id": app, "deleted": id}),
            );
        }
    }
    Ok(())
}

fn events_text(events: &[String]) -> String {
    if events.is_empty() {
        "every event".into()
    } else {
        events.join(",")
    }
}

pub(crate) async fn hook(ctx: &Ctx, c: HookCommand) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    match c {
        HookCommand::Add {
            action,
            channel,
            version_pointer,
            description,
        } => {
            let new = NewHook {
                action: match action {
                    HookActionArg::Promote => HookAction::Promote,
                    HookActionArg::StartRollout => HookAction::StartRollout,
                    HookActionArg::PauseRollout => HookAction::PauseRollout,
                },
                channel,
                version_pointer,
                plan: None,
                description,
            };
            let h = client.create_hook(&app, &new).await?;
            let url = format!("{}{}", client.base(), h.path);
            ctx.out.result(
                || {
                    format!(
                        "Hook {} ({} on {}).\nURL (shown this once): {url}\nSecret (shown this once): {}",
                        h.hook.id,
                        h.hook.action.as_str(),
                        h.hook.channel,
                        h.secret
                    )
                },
                {
                    let mut out = json!(h);
                    out["url"] = json!(url);
                    out
                },
            );
        }
        HookCommand::List => {
            let hooks = client.list_hooks(&app).await?;
            let rows: Vec<Vec<String>> = hooks
                .iter()
                .map(|h| {
                    vec![
                        h.id.to_string(),
                        h.action.as_str().to_string(),
                        h.channel.clone(),
                        h.last_used_at.map(when).unwrap_or_else(|| "never".into()),
                    ]
                })
                .collect();
            ctx.out.result(
                || {
                    if hooks.is_empty() {
                        format!("No hooks in {app}: `updraft hook add --action promote` makes one.")
                    } else {
                        table(&["ID", "ACTION", "CHANNEL", "LAST CALLED (UTC)"], &rows)
                    }
                },
                json!(hooks),
            );
        }
        HookCommand::Delete { id } => {
            client.delete_hook(&app, id).await?;
            ctx.out.result(
                || format!("Deleted hook {id}."),
                json!({"app_id": app, "deleted": id}),
            );
        }
    }
    Ok(())
}
