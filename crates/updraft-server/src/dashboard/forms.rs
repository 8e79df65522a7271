//! What every dashboard form goes through before a handler sees it: the
//! request must come from the dashboard's own pages (`Sec-Fetch-Site`,
//! else `Origin`), carry the session's CSRF token (compared in constant
//! time) and fit the JSON body limit. [`Posted`] is that check as an
//! extractor; [`Fields`] reads the form's fields.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

use super::layout::PageError;
use super::session::Signed;
use crate::error::ApiError;
use crate::state::AppState;

/// A form's fields in the order sent (`application/x-www-form-urlencoded`).
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(crate) fn parse(body: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, trimmed.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }

    /// The first value of `name`, trimmed, when not empty.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// Whether the checkbox `name` was ticked (sent at all).
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// Refuses a form posted from another site. Browsers send `Sec-Fetch-Site`
/// (it must be `same-origin`), older ones `Origin` (its host must be the
/// request's `Host`); a request with neither is not from a browser's
/// cross-site form, and the CSRF token still guards it.
pub(crate) fn same_origin(headers: &HeaderMap) -> Result<(), PageError> {
    let refused = || {
        PageError::Api(ApiError::forbidden(
            "this form was not sent from the dashboard's own pages",
        ))
    };
    if let Some(site) = headers.get("sec-fetch-site") {
        return if site.as_bytes() == b"same-origin" {
            Ok(())
        } else {
            Err(refused())
        };
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .map(axum::http::HeaderValue::as_bytes);
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.as_bytes());
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err(refused()),
    }
}

/// A form posted by a signed-in page: its session and its fields, after the
/// origin and CSRF checks.
pub(crate) struct Posted {
    pub(crate) signed: Signed,
    pub(crate) fields: Fields,
}

impl FromRequest<AppState> for Posted {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        same_origin(&parts.headers)?;
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        let fields = read_fields(Request::from_parts(parts, body), state).await?;
        let given = fields.get("_csrf").unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(signed.csrf.as_bytes())) {
            return Err(PageError::Api(ApiError::forbidden(
                "this form is out of date or did not come from your session; reload the page and try again",
            )));
        }
        Ok(Posted { signed, fields })
    }
}

/// Reads a form body within the JSON body limit.
pub(crate) async fn read_fields(req: Request, state: &AppState) -> Result<Fields, PageError> {
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(ApiError::from)?;
    Ok(Fields::parse(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn only_same_origin_forms_pass() {
        assert!(same_origin(&h(&[("sec-fetch-site", "same-origin")])).is_ok());
        assert!(same_origin(&h(&[("sec-fetch-site", "cross-site")])).is_err());
        assert!(same_origin(&h(&[("sec-fetch-site", "same-site")])).is_err());
        assert!(same_origin(&h(&[("origin", "http://a:1"), ("host", "a:1")])).is_ok());
        assert!(same_origin(&h(&[("origin", "http://evil"), ("host", "a:1")])).is_err());
        assert!(same_origin(&h(&[("origin", "null"), ("host", "a:1")])).is_err());
        assert!(same_origin(&h(&[])).is_ok());
    }

    #[test]
    fn fields_read_like_a_browser_sends_them() {
        let f = Fields::parse(b"a=+x+&b=&c=on&a=2&d=%2F");
        assert_eq!(f.get("a"), Some("x"));
        assert_eq!(f.text("b"), None);
        assert!(f.checked("c") && !f.checked("z"));
        assert_eq!(f.get("d"), Some("/"));
    }
}
