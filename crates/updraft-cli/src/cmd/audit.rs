//! `audit`: the app's audit trail (`GET /apps/{app}/audit`): every
//! management write, who made it (`key:<id>` and its name when the key may
//! see it, `hook:<id>`, `schedule:<id>`, `admin`, `system`) and what
//! changed, as each field before and after; filtered by kind, actor and time.

use serde_json::{json, Value};
use updraft_protocol::api::{AuditEntry, AuditQuery};

use crate::args::AuditArgs;
use crate::error::{CliError, CliResult};
use crate::output::{table, when};
use crate::Ctx;

/// Entries read per page (the server's most).
const PAGE: usize = 500;

/// `WHEN` as epoch milliseconds: `30m`, `24h`, `7d` back from now, or an
/// RFC 3339 time.
fn instant(flag: &str, text: &str) -> CliResult<i64> {
    let t = text.trim();
    let unit = |u: char| match u {
        'm' => Some(60_000_i64),
        'h' => Some(3_600_000),
        'd' => Some(86_400_000),
        _ => None,
    };
    if let Some((n, u)) = t
        .char_indices()
        .last()
        .and_then(|(i, u)| Some((t[..i].parse::<i64>().ok()?, unit(u)?)))
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        return Ok(now.saturating_sub(n.saturating_mul(u)));
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp_millis())
        .map_err(|_| {
            CliError::usage(
                "invalid_time",
                format!(
                    "{flag} {text:?} is neither a duration (30m, 24h, 7d) nor an RFC 3339 time"
                ),
            )
        })
}

pub(crate) async fn audit(ctx: &Ctx, a: AuditArgs) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    let since = a
        .since
        .as_deref()
        .map(|s| instant("--since", s))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| instant("--until", s))
        .transpose()?;
    let mut kept: Vec<AuditEntry> = Vec::new();
    let mut before = None;
    while kept.len() < a.limit {
        let page = client
            .audit(
                &app,
                &AuditQuery {
                    kind: a.kind.clone(),
                    actor: a.actor.clone(),
                    since,
                    until,
                    devices: Some(a.devices),
                    before,
                    limit: Some(i64::try_from((a.limit - kept.len()).min(PAGE)).unwrap_or(500)),
                },
            )
            .await?;
        kept.extend(page.items);
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    // Newest last, as a log reads; the JSON is the API's order, newest first.
    let rows: Vec<Vec<String>> = kept
        .iter()
        .rev()
        .map(|c| {
            let by = match &c.actor_name {
                Some(name) => format!("{} ({name})", c.actor),
                None => c.actor.clone(),
            };
            vec![c.id.to_string(), when(c.at), by, c.kind.clone(), what(c)]
        })
        .collect();
    ctx.out.result(
        || {
            if rows.is_empty() {
                format!("No changes recorded for {app} that match.")
            } else {
                table(&["ID", "WHEN (UTC)", "BY", "CHANGE", "WHAT"], &rows)
            }
        },
        json!(kept),
    );
    Ok(())
}

/// A change in a line: the fields it changed (`field: old -> new`), else
/// the payload's names.
fn what(c: &AuditEntry) -> String {
    let p = &c.payload;
    if !c.changes.is_empty() {
        let name = p
            .get("channel")
            .or_else(|| p.get("version"))
            .and_then(Value::as_str)
            .map(|n| format!("{n} "))
            .unwrap_or_default();
        let changed: Vec<String> = c
            .changes
            .iter()
            .map(|f| {
                format!(
                    "{}: {} -> {}",
                    f.field,
                    short(Some(&f.before)),
                    short(Some(&f.after))
                )
            })
            .collect();
        return format!("{name}{}", changed.join(", "));
    }
    let Some(o) = p.as_object() else {
        return String::new();
    };
    o.iter()
        .filter(|(k, v)| !v.is_null() && !v.is_object() && *k != "before" && *k != "after")
        .map(|(k, v)| format!("{k}={}", short(Some(v))))
        .collect::<Vec<_>>()
        .join(" ")
}

fn short(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.chars().take(40).collect(),
        Some(other) => other.to_string().chars().take(40).collect(),
    }
}
