//! The log filter: `RUST_LOG` when set, else [`DEFAULT_LOG_FILTER`]. An
//! invalid `RUST_LOG` is a start-up error (it used to be ignored silently).
//! Whatever it says, [`silenced`] drops the events of `SILENCED_TARGETS`.

use anyhow::bail;
use tracing::Metadata;
use tracing_subscriber::filter::{filter_fn, FilterFn};
use tracing_subscriber::EnvFilter;

/// Targets never logged, whatever the filter: sqlx's parsing of a database
/// URL's options logs a parameter it does not know with its value, and that
/// value can be a password (`?sslpassword=…`).
pub(crate) const SILENCED_TARGETS: &[&str] = &["sqlx_postgres::options"];

/// A global filter (a layer over the subscriber) that drops every event and
/// span of `SILENCED_TARGETS` (`sqlx_postgres::options`) and their
/// submodules; no `RUST_LOG` directive can turn them back on.
pub fn silenced() -> FilterFn<fn(&Metadata<'_>) -> bool> {
    fn allowed(m: &Metadata<'_>) -> bool {
        !SILENCED_TARGETS.iter().any(|t| {
            m.target()
                .strip_prefix(t)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
    }
    filter_fn(allowed as fn(&Metadata<'_>) -> bool)
}

/// The log filter when `RUST_LOG` is not set.
pub(crate) const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn";

/// A validated log filter and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter {
    /// The directives, e.g. `info,sqlx=warn`.
    pub(crate) value: String,
    /// Whether it came from `RUST_LOG` (else it is the default).
    pub(crate) from_env: bool,
}

impl LogFilter {
    /// Validates `rust_log` (the variable's value; `None` or empty means unset).
    pub(crate) fn new(rust_log: Option<&str>) -> anyhow::Result<LogFilter> {
        let Some(value) = rust_log.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(LogFilter {
                value: DEFAULT_LOG_FILTER.into(),
                from_env: false,
            });
        };
        if let Err(e) = EnvFilter::builder().parse(value) {
            bail!(
                "RUST_LOG={value:?} is not a valid log filter ({e}); \
                 use e.g. RUST_LOG=info or RUST_LOG=info,updraft_server=debug"
            );
        }
        Ok(LogFilter {
            value: value.into(),
            from_env: true,
        })
    }

    /// Reads and validates `RUST_LOG` from the process environment.
    pub fn from_env() -> anyhow::Result<LogFilter> {
        match std::env::var("RUST_LOG") {
            Ok(v) => LogFilter::new(Some(&v)),
            Err(std::env::VarError::NotPresent) => LogFilter::new(None),
            Err(std::env::VarError::NotUnicode(_)) => bail!("RUST_LOG is not valid UTF-8"),
        }
    }

    /// The filter for `tracing_subscriber`.
    pub fn build(&self) -> EnvFilter {
        // Validated in `new`; the lossy form only differs for invalid input.
        EnvFilter::builder().parse_lossy(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_rust_log_is_an_error_that_names_it() {
        let e = LogFilter::new(Some("info,updraft_server=loud"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("RUST_LOG=\"info,updraft_server=loud\""), "{e}");
        assert!(e.contains("not a valid log filter"), "{e}");
        let ok = LogFilter::new(Some("debug,sqlx=warn")).unwrap();
        assert_eq!((ok.value.as_str(), ok.from_env), ("debug,sqlx=warn", true));
        let unset = LogFilter::new(Some("")).unwrap();
        assert_eq!(
            (unset.value.as_str(), unset.from_env),
            (DEFAULT_LOG_FILTER, false)
        );
    }
}
