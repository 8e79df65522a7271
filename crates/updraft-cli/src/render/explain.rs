//! A device's last update decision for people: the outcome, the channel, and
//! the rules the server went through, numbered.

use updraft_protocol::api::{ExplainOutcome, Explanation};
use updraft_protocol::device::ReplyKind;

use super::Paint;

/// The decision in words.
fn outcome(o: &ExplainOutcome, paint: Paint) -> String {
    match o {
        ExplainOutcome::Update { version } => paint.green(&format!("update to {version}")),
        ExplainOutcome::RevertToBuiltin => paint.yellow("revert to the builtin bundle"),
        ExplainOutcome::NoUpdate {
            error,
            message,
            kind,
        } => {
            let kind = match kind {
                ReplyKind::UpToDate => "up to date",
                ReplyKind::Blocked => "blocked",
                ReplyKind::Failed => "failed",
            };
            let head = format!("no update ({kind})");
            let head = match kind {
                "failed" => paint.red(&head),
                _ => head,
            };
            format!("{head}: {message} [{error}]")
        }
    }
}

/// `device explain`: what the device was answered at its last check, and why.
pub(crate) fn explanation(device: &str, e: &Explanation, paint: Paint) -> String {
    let channel = e.channel.as_deref().unwrap_or("none");
    let mut out = format!(
        "{} {device}: {}\nchannel  {channel}\n",
        paint.bold("Device"),
        outcome(&e.outcome, paint)
    );
    let width = e.trace.len().to_string().len();
    for (i, line) in e.trace.iter().enumerate() {
        out.push_str(&format!("{:>width$}. {line}\n", i + 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use updraft_protocol::device::UpdatesReply;

    use super::*;

    const DEV: &str = "00000000-0000-4000-8000-000000000001";

    fn explained(outcome: ExplainOutcome, trace: Vec<String>) -> Explanation {
        Explanation {
            outcome,
            channel: Some("production".into()),
            trace,
            reply: serde_json::from_str::<UpdatesReply>(r#"{"version":"builtin"}"#).unwrap(),
        }
    }

    #[test]
    fn an_update_shows_the_channel_and_the_numbered_trace() {
        let trace: Vec<String> = [
            "plugin 8.51.14 is supported",
            "channel production: the public channel for android",
            "rollout 3 of 1.0.2: bucket 412 < 1000 (10%): candidate",
            "device runs 1.0.1, not 1.0.2",
            "policy major: 1.0.2 is within major 1 of native 1.0.0",
            "offer 1.0.2",
            "zip, plain checksum",
            "no manifest",
            "no session key",
            "reply: update",
        ]
        .map(String::from)
        .into();
        let e = explained(
            ExplainOutcome::Update {
                version: "1.0.2".into(),
            },
            trace,
        );
        insta::assert_snapshot!(explanation(DEV, &e, Paint::OFF));
    }

    #[test]
    fn no_update_says_why_with_its_code() {
        let mut e = explained(
            ExplainOutcome::NoUpdate {
                error: "no_new_version_available".into(),
                message: "No new version available".into(),
                kind: ReplyKind::UpToDate,
            },
            vec!["device runs 1.0.2, the channel's bundle".into()],
        );
        e.channel = None;
        assert_eq!(
            explanation(DEV, &e, Paint::OFF),
            format!("Device {DEV}: no update (up to date): No new version available [no_new_version_available]\nchannel  none\n1. device runs 1.0.2, the channel's bundle\n")
        );
        let revert = explained(ExplainOutcome::RevertToBuiltin, vec![]);
        assert!(explanation(DEV, &revert, Paint::OFF).contains("revert to the builtin bundle"));
    }
}
