//! Output: results on stdout (text, or one JSON document with `--json`),
//! messages on stderr, progress bars only when stdout is a terminal.
//!
//! `--quiet` prints only errors and the warnings that mean the app will not
//! work as set up ([`Out::alert`]); progress, results and other warnings
//! ([`Out::warn`]) are silenced.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

/// How to print.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Out {
    pub json: bool,
    pub quiet: bool,
}

impl Out {
    /// A progress message on stderr.
    pub(crate) fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet && !self.json {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// A warning on stderr (kept with `--json`, which only owns stdout;
    /// silenced by `--quiet`).
    pub(crate) fn warn(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("warning: {}", msg.as_ref());
        }
    }

    /// A warning that the app will not work as set up (phones cannot reach
    /// the server, iOS refuses it, the server will refuse its bundles):
    /// printed even with `--quiet`, like an error.
    pub(crate) fn alert(&self, msg: impl AsRef<str>) {
        eprintln!("warning: {}", msg.as_ref());
    }

    /// The command's result: `json` with `--json`, else the text (unless `--quiet`).
    // Every caller builds `json` in place with `json!`; taking it by value spares them a `&`.
    #[allow(clippy::needless_pass_by_value)]
    pub(crate) fn result(&self, text: impl FnOnce() -> String, json: Value) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json).expect("json serialises")
            );
        } else if !self.quiet {
            let t = text();
            if !t.is_empty() {
                println!("{}", t.trim_end());
            }
        }
    }

    /// A byte progress bar, hidden unless stdout is an interactive terminal.
    pub(crate) fn bytes_bar(&self, len: u64, msg: &str) -> ProgressBar {
        if self.json || self.quiet || !std::io::stdout().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar.set_message(msg.to_string());
        bar
    }

    /// A spinner for work of unknown length, hidden unless stdout is a terminal.
    pub(crate) fn spinner(&self, msg: &str) -> ProgressBar {
        if self.json || self.quiet || !std::io::stdout().is_terminal() {
            return ProgressBar::hidden();
        }
        let s = ProgressBar::new_spinner();
        s.set_message(msg.to_string());
        s.enable_steady_tick(std::time::Duration::from_millis(100));
        s
    }
}

/// How many columns `text` takes on a terminal: its characters, less the
/// colour codes (`ESC [ … m`) in it.
pub(crate) fn visible_width(text: &str) -> usize {
    let mut n = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            n += 1;
        }
    }
    n
}

/// A plain text table with aligned columns (cells may carry colour codes).
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| visible_width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(visible_width(c));
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i].saturating_sub(visible_width(c));
                format!("{c}{}", " ".repeat(pad))
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// Epoch milliseconds as `YYYY-MM-DD HH:MM` UTC.
pub(crate) fn when(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        tod / 3600,
        tod % 3600 / 60
    )
}

/// A checksum for people: its first 12 characters and `…`, as git shortens
/// commit ids (`--json` keeps the whole value).
pub(crate) fn short_checksum(c: &str) -> String {
    match c.char_indices().nth(12) {
        Some((i, _)) => format!("{}…", &c[..i]),
        None => c.to_string(),
    }
}

/// A byte count for people.
pub(crate) fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_sizes() {
        assert_eq!(when(0), "1970-01-01 00:00");
        assert_eq!(when(1_796_000_000_000), "2026-11-30 00:53");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(2048), "2.0 KiB");
    }

    #[test]
    fn checksums_are_shortened_for_people() {
        assert_eq!(short_checksum(&"ab".repeat(256)), "abababababab…");
        assert_eq!(short_checksum("0123456789abcdef"), "0123456789ab…");
        assert_eq!(short_checksum("0123456789ab"), "0123456789ab");
    }

    #[test]
    fn tables_align() {
        let t = table(&["A", "Bee"], &[vec!["xx".into(), "y".into()]]);
        assert_eq!(t, "A   Bee\nxx  y\n");
    }

    #[test]
    fn colour_codes_take_no_room_in_a_table() {
        assert_eq!(visible_width("\u{1b}[31mfail\u{1b}[0m"), 4);
        let t = table(
            &["GATE", "X"],
            &[
                vec!["\u{1b}[31mfail\u{1b}[0m".into(), "1".into()],
                vec!["pending".into(), "2".into()],
            ],
        );
        assert_eq!(t, "GATE     X\n\u{1b}[31mfail\u{1b}[0m     1\npending  2\n");
    }
}
