//! CLI errors: a message, an optional hint saying what to do next, and the
//! documented exit code. Never a stack trace.

use std::fmt;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Error = 1,
    Usage = 2,
    Auth = 3,
    NotFound = 4,
}

/// An error for the user.
#[derive(Debug)]
pub(crate) struct CliError {
    pub exit: Exit,
    /// Stable machine-readable code (printed in `--json` mode).
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
    /// The command already printed its JSON result; print no second document.
    pub result_printed: bool,
}

pub(crate) type CliResult<T> = Result<T, CliError>;

impl CliError {
    pub(crate) fn new(exit: Exit, code: &str, message: impl Into<String>) -> Self {
        Self {
            exit,
            code: code.to_string(),
            message: message.into(),
            hint: None,
            result_printed: false,
        }
    }

    /// Marks that the command's result is already on stdout.
    pub(crate) fn after_result(mut self) -> Self {
        self.result_printed = true;
        self
    }

    /// A general failure (exit 1).
    pub(crate) fn fail(code: &str, message: impl Into<String>) -> Self {
        Self::new(Exit::Error, code, message)
    }

    /// A usage error (exit 2).
    pub(crate) fn usage(code: &str, message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, code, message)
    }

    /// Adds what to do next.
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// An I/O failure on `path`.
    pub(crate) fn io(what: &str, path: &std::path::Path, e: &std::io::Error) -> Self {
        Self::fail("io_error", format!("{what} {}: {e}", path.display()))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<updraft_client::Error> for CliError {
    fn from(e: updraft_client::Error) -> Self {
        use updraft_client::Error as E;
        match &e {
            E::Api {
                status,
                code,
                message,
            } => {
                let (exit, hint) = match status {
                    401 => (
                        Exit::Auth,
                        Some("check the key: `updraft login` saves a new one, or pass --api-key / UPDRAFT_API_KEY"),
                    ),
                    403 => (
                        Exit::Auth,
                        Some("use an API key whose mode and app list allow this (modes: read < upload < write < all)"),
                    ),
                    404 | 409 => (Exit::NotFound, None),
                    400 if matches!(code.as_str(), "unknown_bundle" | "unknown_channel" | "unknown_cohort") => {
                        (Exit::NotFound, None)
                    }
                    _ => (Exit::Error, None),
                };
                let mut err = CliError::new(exit, code, message.clone());
                if let Some(h) = hint {
                    err = err.hint(h);
                }
                if *status == 409
                    && code == "conflict"
                    && message.starts_with("bundle ")
                    && message.contains("already exists")
                {
                    err = err.hint("bump the version in package.json, or pass --bundle with a new version");
                }
                err
            }
            E::Connect { .. } => CliError::fail("server_unreachable", e.to_string()).hint(
                "check that updraft-server is running and the URL is right (--server, UPDRAFT_SERVER, or `updraft login`)",
            ),
            E::Interrupted { .. } => CliError::fail("interrupted", e.to_string()).hint(
                "the server keeps nothing from a cut-off upload: run the same command again",
            ),
            E::Protocol { .. } => CliError::fail("bad_reply", e.to_string())
                .hint("is this URL an Updraft server? check --server"),
        }
    }
}

impl From<updraft_core::crypto::CryptoError> for CliError {
    fn from(e: updraft_core::crypto::CryptoError) -> Self {
        CliError::fail("crypto_error", e.to_string())
    }
}
