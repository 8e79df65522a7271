//! Confirming a destructive command: a y/N question on stderr when standard
//! input is a terminal; without one, nothing happens unless `--yes` was given.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use crate::error::{CliError, CliResult};

/// Goes on when `yes`, or when the user answers yes to `question`. Refuses
/// (usage error, exit 2, with `refusal` and `hint`) when standard input is not
/// a terminal, and fails with "nothing … changed" when the user says no.
pub(crate) fn confirm(yes: bool, question: &str, refusal: String, hint: &str) -> CliResult<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage("confirmation_required", refusal).hint(hint.to_string()));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::fail("stdin", format!("cannot read standard input: {e}")))?;
    if matches!(line.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(CliError::fail("aborted", "aborted; nothing changed"))
    }
}
