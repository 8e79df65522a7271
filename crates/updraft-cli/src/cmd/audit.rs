//! `audit`: the app's audit trail, read from the change log: every
//! management write, who made it (`key:<id>`, `hook:<id>`, `admin`,
//! `system`) and what changed, as each field before and after.

use serde_json::{json, Value};
use updraft_protocol::api::{Change, ChangeListQuery};

use crate::args::AuditArgs;
use crate::error::CliResult;
use crate::output::{table, when};
use crate::Ctx;

/// Changes read per page (the server's most).
const PAGE: i64 = 1000;

pub(crate) async fn audit(ctx: &Ctx, a: AuditArgs) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    let mut kept: std::collections::VecDeque<Change> = std::collections::VecDeque::new();
    let mut after = 0;
    loop {
        let page = client
            .list_changes(
                &app,
                &ChangeListQuery {
                    after: Some(after),
                    limit: Some(PAGE),
                },
            )
            .await?;
        let n = page.items.len();
        for c in page.items {
            if a.devices || c.actor != "device" {
                kept.push_back(c);
                if kept.len() > a.limit {
                    kept.pop_front();
                }
            }
        }
        if n == 0 || page.next_after == after {
            break;
        }
        after = page.next_after;
    }
    let rows: Vec<Vec<String>> = kept
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                when(c.at),
                c.actor.clone(),
                c.kind.clone(),
                what(&c.payload),
            ]
        })
        .collect();
    ctx.out.result(
        || {
            if rows.is_empty() {
                format!("No changes recorded for {app}.")
            } else {
                table(&["ID", "WHEN (UTC)", "BY", "CHANGE", "WHAT"], &rows)
            }
        },
        json!(kept),
    );
    Ok(())
}

/// A change in a line: the fields that differ before and after (`field:
/// old -> new`), else the payload's names.
fn what(p: &Value) -> String {
    if let (Some(before), Some(after)) = (
        p.get("before").and_then(Value::as_object),
        p.get("after").and_then(Value::as_object),
    ) {
        let changed: Vec<String> = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v) && !k.ends_with("_at") && *k != "bundle_id")
            .map(|(k, v)| format!("{k}: {} -> {}", short(before.get(k)), short(Some(v))))
            .collect();
        let name = p
            .get("channel")
            .or_else(|| p.get("version"))
            .and_then(Value::as_str)
            .map(|n| format!("{n} "))
            .unwrap_or_default();
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
