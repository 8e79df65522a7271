//! The page shell every dashboard page shares (header, navigation, the
//! sign-out form, the main landmark), the error page ([`PageError`]) and
//! the small formatters pages use for times, sizes and rates.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use updraft_protocol::api::KeyMode;

use super::session::Signed;
use crate::error::ApiError;

/// Why a page could not be shown.
#[derive(Debug)]
pub(crate) enum PageError {
    /// No live session: the browser is sent to the sign-in page.
    SignIn,
    /// What the API handler (or the page itself) refused, with its status.
    Api(ApiError),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => see_other("/ui/signin"),
            Self::Api(e) => {
                let status = e.status;
                let message = e.body.message.clone();
                let title = status.canonical_reason().unwrap_or("Error").to_string();
                // The API's reply carries what the request log reads (the
                // error code, an internal cause) and headers such as
                // Retry-After; only the body becomes a page.
                let (mut parts, _) = e.into_response().into_parts();
                let body = bare(
                    &title,
                    &html! {
                        h1 { (title) }
                        p.error role="alert" { (message) }
                        p { a href="/ui/" { "Back to the apps" } }
                    },
                );
                parts.headers.remove(header::CONTENT_LENGTH);
                parts.headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                let mut res = Response::from_parts(parts, axum::body::Body::from(body.0));
                *res.status_mut() = status;
                res.extensions_mut().insert(crate::rejection::HtmlPage);
                res
            }
        }
    }
}

/// `page` as an error reply with `status` (a refused sign-in, say).
pub(crate) fn failed(status: StatusCode, page: Markup) -> Response {
    let mut res = page.into_response();
    *res.status_mut() = status;
    res.extensions_mut().insert(crate::rejection::HtmlPage);
    res
}

/// What a page handler returns.
pub(crate) type PageResult = Result<Response, PageError>;

/// A 303 to `to` (after a form, or to the sign-in page).
pub(crate) fn see_other(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/ui/")),
        )],
    )
        .into_response()
}

/// A page with no session (sign-in, errors): the shell without navigation.
pub(crate) fn bare(title: &str, main: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top { a.brand href="/ui/" { "Updraft" } }
                main #main { (main) }
            }
        }
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            // No icon to fetch (a request that could only miss).
            link rel="icon" href="data:,";
            title { (title) " · Updraft" }
            link rel="stylesheet" href=(&*super::assets::CSS_PATH);
            script src=(&*super::assets::JS_PATH) defer {}
        }
    }
}

/// A signed-in page: the header with navigation and sign-out, a trail of
/// links to where the page sits (`crumbs`: label and address), then `main`.
pub(crate) fn page(
    title: &str,
    signed: &Signed,
    crumbs: &[(&str, String)],
    main: &Markup,
) -> Markup {
    let key = &signed.auth.0;
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/ui/" { "Updraft" }
                    nav aria-label="Main" {
                        a href="/ui/" { "Apps" }
                        @if key.mode >= KeyMode::All { a href="/ui/keys" { "API keys" } }
                    }
                    div.who {
                        span { "Signed in with " strong { (key.name) } " (" (key.mode.as_str()) ")" }
                        form method="post" action="/ui/signout" {
                            (csrf(signed))
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                @if !crumbs.is_empty() {
                    nav.crumbs aria-label="Breadcrumb" {
                        ol {
                            @for (label, href) in crumbs {
                                li { a href=(href) { (label) } }
                            }
                            li aria-current="page" { (title) }
                        }
                    }
                }
                main #main { (main) }
            }
        }
    }
}

/// The hidden CSRF field every form of a signed-in page carries.
pub(crate) fn csrf(signed: &Signed) -> Markup {
    html! { input type="hidden" name="_csrf" value=(signed.csrf); }
}

/// Epoch milliseconds as a UTC date and time, to the minute.
pub(crate) fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// A `<time>` element for epoch milliseconds.
pub(crate) fn time(ms: i64) -> Markup {
    let iso = chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(String::new, |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    html! { time datetime=(iso) { (when(ms)) } }
}

/// A rate (0 to 1) as a percentage with one decimal; a dash when unknown.
pub(crate) fn rate(r: Option<f64>) -> String {
    r.map_or_else(|| "–".into(), |r| format!("{:.1} %", r * 100.0))
}

/// A byte count for people (KiB, MiB).
pub(crate) fn size(bytes: Option<i64>) -> String {
    match bytes {
        None => "–".into(),
        Some(b) if b < 1024 => format!("{b} B"),
        Some(b) if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        Some(b) => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// Percent-encodes one path segment (an app id, a channel name, a version).
pub(crate) fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatters() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(rate(Some(0.0234)), "2.3 %");
        assert_eq!(rate(None), "–");
        assert_eq!(size(Some(1536)), "1.5 KiB");
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }
}
