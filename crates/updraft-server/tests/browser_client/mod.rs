//! A browser-like HTTP client for the dashboard's tests: no redirects
//! followed, one session cookie kept, forms posted as a browser posts them.
#![allow(dead_code)] // each test file uses its own part of it

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use updraft_test_support::*;

/// A browser-like client: no redirects followed, one session cookie kept.
pub(crate) struct Browser {
    base: String,
    http: reqwest::Client,
    /// The session token the server last set.
    pub(crate) cookie: Option<String>,
}

/// A reply as a browser sees it.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .map_or("", |v| v.to_str().unwrap())
    }

    /// The page's CSRF token (from its first form).
    pub(crate) fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="_csrf" value=""#)
            .expect("a form with a CSRF token");
        let rest = &self.body[at + r#"name="_csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

impl Browser {
    pub(crate) fn new(server: &Server) -> Browser {
        Browser {
            base: server.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    pub(crate) async fn send(&mut self, r: reqwest::RequestBuilder) -> Reply {
        let r = match &self.cookie {
            Some(c) => r.header("cookie", format!("updraft_session={c}")),
            None => r,
        };
        let res = r.send().await.expect("the server answers");
        let headers = res.headers().clone();
        if let Some(set) = headers.get(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let value = set
                .split(';')
                .next()
                .unwrap()
                .trim_start_matches("updraft_session=");
            self.cookie = (!value.is_empty()).then(|| value.to_string());
        }
        Reply {
            status: res.status().as_u16(),
            headers,
            body: res.text().await.unwrap(),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Reply {
        let r = self.http.get(format!("{}{path}", self.base));
        self.send(r).await
    }

    /// A form post from the dashboard's own page (`Sec-Fetch-Site: same-origin`).
    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        self.post_from(path, fields, Some("same-origin"), &[]).await
    }

    pub(crate) async fn post_from(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        site: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(url_encoded(fields));
        if let Some(site) = site {
            r = r.header("sec-fetch-site", site);
        }
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        self.send(r).await
    }

    pub(crate) async fn sign_in(&mut self, key: &str) -> Reply {
        self.post("/ui/signin", &[("key", key)]).await
    }
}

pub(crate) fn url_encoded(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) async fn key(server: &Server, body: serde_json::Value) -> String {
    server.ok("POST", "/keys", Some(body)).await["secret"]
        .as_str()
        .unwrap()
        .to_string()
}
