//! Bundles: zips of given files, a sample web build, and uploading them to a
//! test server.

use std::io::Write as _;

use serde_json::Value;
use updraft_core::archive::{build_zip, FileEntry};

use crate::server::Server;
use crate::{ADMIN, APP};

/// A zip with exactly these entries, as given (no checks on the names).
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("a zip entry");
        w.write_all(data).expect("writing to memory");
    }
    w.finish().expect("a finished zip").into_inner()
}

/// A zip with these entries stored uncompressed (fast to build however
/// large the entries).
pub fn zip_stored(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in files {
        w.start_file(*name, stored).expect("a zip entry");
        w.write_all(data).expect("writing to memory");
    }
    w.finish().expect("a finished zip").into_inner()
}

/// The names inside a zip.
pub fn zip_names(bytes: &[u8]) -> Vec<String> {
    zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .expect("a zip")
        .file_names()
        .map(str::to_string)
        .collect()
}

/// A sample web build: `index.html` holding `<html>{marker}</html>` and a
/// script that confirms the bundle.
pub fn bundle_zip(marker: &str) -> Vec<u8> {
    build_zip(&[
        FileEntry {
            path: "index.html".into(),
            data: format!("<html>{marker}</html>").into_bytes(),
        },
        FileEntry {
            path: "js/app.js".into(),
            data: b"CapacitorUpdater.notifyAppReady()".to_vec(),
        },
    ])
    .expect("a valid bundle")
}

impl Server {
    /// Uploads `zip` as [`APP`]'s bundle `version` (`query`: more query
    /// parameters, each starting with `&`); the status and JSON body.
    pub async fn upload(&self, version: &str, query: &str, zip: Vec<u8>) -> (u16, Value) {
        let url = self.url(&format!(
            "/api/v1/apps/{APP}/bundles?version={version}{query}"
        ));
        let res = self.http.post(url).bearer_auth(ADMIN).body(zip).send();
        let res = res.await.expect("the server answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// [`Server::upload`] that must create the bundle; the JSON body.
    pub async fn uploaded(&self, version: &str, query: &str, zip: Vec<u8>) -> Value {
        let (status, v) = self.upload(version, query, zip).await;
        assert_eq!(status, 201, "uploading {version}: {v}");
        v
    }

    /// Uploads bundle `version`, a zip whose `index.html` is the version; its JSON.
    pub async fn bundle(&self, version: &str) -> Value {
        self.bundle_with(version, version).await
    }

    /// Uploads `version` with the same bytes [`Server::bundle`] gives `content_of`.
    pub async fn bundle_with(&self, version: &str, content_of: &str) -> Value {
        let zip = zip_of(&[("index.html", content_of.as_bytes())]);
        self.uploaded(version, "", zip).await["bundle"].clone()
    }

    /// Uploads [`bundle_zip`]`(version)` as `version` onto the `production` channel.
    pub async fn publish(&self, version: &str) {
        self.uploaded(version, "&channel=production", bundle_zip(version))
            .await;
    }

    /// The bytes at `url` (a bundle URL the server handed out).
    pub async fn download(&self, url: &str) -> Vec<u8> {
        let res = self.http.get(url).send().await.expect("the server answers");
        res.bytes().await.expect("a readable body").to_vec()
    }
}
