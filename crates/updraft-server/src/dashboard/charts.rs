//! Charts: one series of points drawn three ways from the same numbers, an
//! SVG (each mark carries its value in `data-value`), a table beside it for
//! screen readers and for reading exact values, and CSV to download. No
//! script draws anything.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::layout::when;

/// One point: when (epoch ms) and how many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub(crate) at: i64,
    pub(crate) value: f64,
}

const W: f64 = 600.0;
const H: f64 = 200.0;
const PAD: f64 = 30.0;

/// A line chart of `points` with `id`, titled `title`, with an optional
/// horizontal `threshold` (drawn dashed), its table and a link to its CSV
/// at `csv_href`.
pub(crate) fn line(
    id: &str,
    title: &str,
    points: &[Point],
    threshold: Option<f64>,
    csv_href: &str,
) -> Markup {
    let max = points
        .iter()
        .map(|p| p.value)
        .chain(threshold)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let (t0, t1) = match (points.first(), points.last()) {
        (Some(a), Some(b)) if b.at > a.at => (a.at, b.at),
        (Some(a), _) => (a.at - 1, a.at + 1),
        _ => (0, 1),
    };
    let x = |at: i64| PAD + (at - t0) as f64 / (t1 - t0) as f64 * (W - 2.0 * PAD);
    let y = |v: f64| H - PAD - v / max * (H - 2.0 * PAD);
    let path: String = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                x(p.at),
                y(p.value)
            )
        })
        .collect();
    let caption_id = format!("{id}-title");
    html! {
        figure.chart id=(id) aria-labelledby=(caption_id) {
            figcaption id=(caption_id) { (title) }
            @if points.is_empty() {
                p.muted { "No data in this window." }
            } @else {
                svg viewBox={ "0 0 " (W) " " (H) } role="img" aria-label=(title) {
                    line.axis x1=(PAD) y1=(H - PAD) x2=(W - PAD) y2=(H - PAD) {}
                    line.axis x1=(PAD) y1=(PAD) x2=(PAD) y2=(H - PAD) {}
                    text x="2" y=(PAD) { (fmt(max)) }
                    text x="2" y=(H - PAD) { "0" }
                    text x=(PAD) y=(H - 8.0) { (when(t0)) }
                    text x=(W - PAD) y=(H - 8.0) text-anchor="end" { (when(t1)) }
                    @if let Some(t) = threshold {
                        line.threshold x1=(PAD) y1=(y(t)) x2=(W - PAD) y2=(y(t)) data-threshold=(t) {}
                    }
                    path.line d=(path) {}
                    @for p in points {
                        circle.bar cx=(format!("{:.1}", x(p.at))) cy=(format!("{:.1}", y(p.value))) r="3" data-value=(p.value) data-at=(p.at) {}
                    }
                }
                details {
                    summary { "The numbers" }
                    div.table-wrap { table {
                        thead { tr { th scope="col" { "Time" } th.num scope="col" { "Value" } } }
                        tbody { @for p in points { tr { td { (when(p.at)) } td.num { (fmt(p.value)) } } } }
                    } }
                }
                p { a id={ (id) "-csv" } href=(csv_href) download { "Download as CSV" } }
            }
        }
    }
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// The CSV of `points`: a header, then `at_iso,at_ms,value` per point.
pub(crate) fn csv(name: &str, points: &[Point]) -> Response {
    let mut out = String::from("time,epoch_ms,value\n");
    for p in points {
        let iso = chrono::DateTime::from_timestamp_millis(p.at)
            .map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        out.push_str(&format!("{iso},{},{}\n", p.at, fmt(p.value)));
    }
    // Only characters that need no quoting: a channel name cannot add a parameter.
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_and_the_svg_carry_the_same_numbers() {
        let pts = [
            Point { at: 0, value: 1.0 },
            Point {
                at: 3_600_000,
                value: 6.0,
            },
        ];
        let svg = line("c", "T", &pts, Some(2.0), "/x.csv").into_string();
        assert!(
            svg.contains(r#"data-value="1""#) && svg.contains(r#"data-value="6""#),
            "{svg}"
        );
        assert!(svg.contains(r#"data-threshold="2""#));
        let res = csv("c", &pts);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/csv; charset=utf-8"
        );
        let res = csv("x\"; filename*=UTF-8''a.html", &pts);
        assert_eq!(
            res.headers()[header::CONTENT_DISPOSITION],
            "attachment; filename=\"x___filename__UTF-8__a.html.csv\""
        );
    }
}
