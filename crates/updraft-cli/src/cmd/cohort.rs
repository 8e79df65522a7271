//! `cohort set|list|delete`: the project's app's named cohorts, which
//! targeting rules name with `{"cohort": NAME}`.

use serde_json::json;
use updraft_protocol::api::CohortMembers;

use crate::args::CohortCommand;
use crate::error::{CliError, CliResult};
use crate::output::{table, when};
use crate::Ctx;

pub(crate) async fn run(ctx: &Ctx, c: CohortCommand) -> CliResult<()> {
    let project = ctx.project()?;
    let app = ctx.app_id(&project)?;
    let client = ctx.client()?;
    match c {
        CohortCommand::Set {
            name,
            mut devices,
            custom_ids,
            devices_from,
        } => {
            if let Some(path) = devices_from {
                let text =
                    std::fs::read_to_string(&path).map_err(|e| CliError::io("read", &path, &e))?;
                devices.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(str::to_string),
                );
            }
            let members = CohortMembers {
                device_ids: devices,
                custom_ids,
            };
            let cohort = client.put_cohort(&app, &name, &members).await?;
            ctx.out.result(
                || {
                    format!(
                        "Cohort {} holds {} device id(s) and {} custom id(s); rules name it as {{\"cohort\":\"{}\"}}.",
                        cohort.name,
                        cohort.device_ids.len(),
                        cohort.custom_ids.len(),
                        cohort.name
                    )
                },
                json!(cohort),
            );
        }
        CohortCommand::List => {
            let all = client.list_cohorts(&app).await?;
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        c.device_ids.len().to_string(),
                        c.custom_ids.len().to_string(),
                        when(c.updated_at),
                    ]
                })
                .collect();
            ctx.out.result(
                || {
                    if all.is_empty() {
                        format!(
                            "No cohorts in {app}: `updraft cohort set NAME --device ID` makes one."
                        )
                    } else {
                        table(&["NAME", "DEVICES", "CUSTOM IDS", "UPDATED"], &rows)
                    }
                },
                json!(all),
            );
        }
        CohortCommand::Delete { name } => {
            client.delete_cohort(&app, &name).await?;
            ctx.out.result(
                || format!("Deleted cohort {name}."),
                json!({ "deleted": name }),
            );
        }
    }
    Ok(())
}
