//! The explain trace: one line per rule the decision evaluated. Off on the hot
//! path, where the crate-internal `note!` formats nothing and nothing is allocated.

/// The lines written so far, or nothing when the trace is off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    on: bool,
    lines: Vec<String>,
}

impl Trace {
    /// A trace that records nothing (the hot path).
    pub fn off() -> Self {
        Self::default()
    }

    /// A trace that records every line (the explain API).
    pub fn on() -> Self {
        Self {
            on: true,
            lines: Vec::new(),
        }
    }

    /// Whether lines are recorded.
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Records `line` when the trace is on.
    pub fn push(&mut self, line: impl Into<String>) {
        if self.on {
            self.lines.push(line.into());
        }
    }

    /// The lines recorded, in order.
    pub(crate) fn into_lines(self) -> Vec<String> {
        self.lines
    }
}

/// Adds a line to a [`Trace`], formatting it only when the trace is on.
macro_rules! note {
    ($trace:expr, $($arg:tt)*) => {
        if $trace.is_on() {
            $trace.push(format!($($arg)*));
        }
    };
}

pub(crate) use note;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_off_trace_formats_and_keeps_nothing() {
        let mut t = Trace::off();
        let mut formatted = false;
        note!(t, "{}", {
            formatted = true;
            "x"
        });
        assert!(!formatted, "an off trace must not format its lines");
        assert!(t.into_lines().is_empty());
        let mut t = Trace::on();
        note!(t, "rule {}", 1);
        assert_eq!(t.into_lines(), ["rule 1"]);
    }
}
