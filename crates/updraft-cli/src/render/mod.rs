//! Text for people from the API's replies: pure functions (the time and the
//! colours are arguments), snapshot-tested with colours off. One module per
//! kind of reply; `--json` prints the replies themselves.

pub(crate) mod explain;
pub(crate) mod metrics;
pub(crate) mod rollout;

use std::io::IsTerminal as _;

/// Colours for a terminal: off in tests, in pipes and with `NO_COLOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paint {
    /// Whether to colour at all.
    pub on: bool,
}

impl Paint {
    /// No colours.
    #[cfg(test)]
    pub(crate) const OFF: Paint = Paint { on: false };

    /// Colours when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub(crate) fn for_stdout() -> Paint {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Paint {
            on: !no_color && std::io::stdout().is_terminal(),
        }
    }

    fn wrap(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }

    /// Good news.
    pub(crate) fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }

    /// Bad news.
    pub(crate) fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }

    /// Not decided yet.
    pub(crate) fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }

    /// A heading.
    pub(crate) fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }
}

/// A progress bar of `width` cells for a fraction from 0 to 1: `[#####-----]`.
pub(crate) fn bar(fraction: f64, width: usize) -> String {
    let cells = (fraction.clamp(0.0, 1.0) * width as f64).round();
    // Clamped to 0..=width above, so the cast keeps the value.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let done = (cells as usize).min(width);
    format!("[{}{}]", "#".repeat(done), "-".repeat(width - done))
}

/// `n` and its share of `of` for people: `3 (1.2%)`; `n` alone when `of` is 0.
pub(crate) fn count_of(n: u64, of: u64) -> String {
    if of == 0 || n == 0 {
        n.to_string()
    } else {
        format!("{n} ({})", crate::span::rate(n as f64 / of as f64))
    }
}

/// An optional value for people, `-` when absent.
pub(crate) fn or_dash<T>(v: Option<T>, f: impl FnOnce(T) -> String) -> String {
    v.map_or_else(|| "-".to_string(), f)
}

/// Pads a column's cells on the left to one width (at least its header's),
/// so numbers line up on the right in a table.
pub(crate) fn right(cells: &mut [String], header: &str) {
    let w = cells
        .iter()
        .map(|c| crate::output::visible_width(c))
        .max()
        .unwrap_or(0)
        .max(header.chars().count());
    for c in cells.iter_mut() {
        let pad = w - crate::output::visible_width(c);
        *c = format!("{}{c}", " ".repeat(pad));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_counts_and_colours() {
        assert_eq!(bar(0.0, 4), "[----]");
        assert_eq!(bar(0.5, 4), "[##--]");
        assert_eq!(bar(7.0, 4), "[####]");
        assert_eq!(bar(f64::NAN, 4), "[----]");
        assert_eq!(count_of(3, 250), "3 (1.2%)");
        assert_eq!(count_of(0, 250), "0");
        assert_eq!(count_of(3, 0), "3");
        assert_eq!(Paint::OFF.red("fail"), "fail");
        assert_eq!(Paint { on: true }.red("fail"), "\u{1b}[31mfail\u{1b}[0m");
        let mut col = vec!["1".to_string(), "250".into()];
        right(&mut col, "N");
        assert_eq!(col, ["  1", "250"]);
        right(&mut col, "COUNT");
        assert_eq!(col, ["    1", "  250"]);
    }
}
