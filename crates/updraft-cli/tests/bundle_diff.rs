//! `updraft bundle diff A B`: what a device on A downloads to get B, from
//! folders and zips, with no server.

use updraft_core::archive::{build_zip, FileEntry};
use updraft_test_support::*;

/// A web build of a few files; `app_line` changes one line of the app code.
fn build(dir: &std::path::Path, app_line: &str, with_css: bool, with_svg: bool) {
    write(
        dir,
        "index.html",
        "<html><script src=js/app.js></script></html>",
    );
    let mut app = "export function render(n) { return `<li>${n}</li>`; }\n".repeat(800);
    app.push_str(app_line);
    write(dir, "js/app.js", &app);
    write(
        dir,
        "js/vendor.js",
        &"const vendor = [1, 2, 3].map((x) => x * 2);\n".repeat(1_500),
    );
    if with_css {
        write(dir, "css/a.css", "body { margin: 0 }");
    }
    if with_svg {
        write(
            dir,
            "img/new.svg",
            "<svg xmlns='http://www.w3.org/2000/svg'/>",
        );
    }
}

fn as_zip(dir: &std::path::Path, out: &std::path::Path) {
    let files: Vec<FileEntry> = ["index.html", "js/app.js", "js/vendor.js", "img/new.svg"]
        .iter()
        .map(|p| FileEntry {
            path: (*p).into(),
            data: std::fs::read(dir.join(p)).unwrap(),
        })
        .collect();
    std::fs::write(out, build_zip(&files).unwrap()).unwrap();
}

#[test]
fn diff_counts_what_a_device_downloads_as_zip_and_as_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    build(&a, "console.log('v1');\n", true, false);
    build(&b, "console.log('v2');\n", false, true);
    let cli = Cli::bare();
    let j = cli
        .run(tmp.path(), &["--json", "bundle", "diff", "a", "b"])
        .ok()
        .json();
    assert_eq!(
        (&j["changed"], &j["added"], &j["unchanged"], &j["files"]),
        (&1.into(), &1.into(), &2.into(), &4.into()),
        "{j}"
    );
    assert_eq!(j["removed"], serde_json::json!(["css/a.css"]));
    let download = j["download"].as_array().unwrap();
    let names: Vec<&str> = download
        .iter()
        .map(|f| f["file_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["img/new.svg", "js/app.js.br"], "{j}");
    let sum: u64 = download
        .iter()
        .map(|f| f["download_bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(j["manifest_bytes"].as_u64(), Some(sum));
    let zip = j["zip_bytes"].as_u64().unwrap();
    assert!(
        sum * 5 < zip,
        "one changed line: the manifest delta ({sum} B) is a fraction of the zip ({zip} B)"
    );
    // The changed file as a patch from its previous version: smaller than
    // its Brotli stream; the added one has nothing to patch from.
    let app = &download[1];
    let patch = app["patch_bytes"].as_u64().expect("app.js is patched");
    assert!(patch < app["download_bytes"].as_u64().unwrap(), "{app}");
    assert!(download[0]["patch_bytes"].is_null(), "{j}");
    assert_eq!(
        j["patch_bytes"].as_u64(),
        Some(patch + download[0]["download_bytes"].as_u64().unwrap()),
        "{j}"
    );

    // The same target as a zip: the zip's own size, the same delta.
    as_zip(&b, &tmp.path().join("b.zip"));
    let z = cli
        .run(tmp.path(), &["--json", "bundle", "diff", "a", "b.zip"])
        .ok()
        .json();
    let zip_len = std::fs::metadata(tmp.path().join("b.zip")).unwrap().len();
    assert_eq!(z["zip_bytes"].as_u64(), Some(zip_len));
    assert_eq!(z["manifest_bytes"], j["manifest_bytes"]);
    assert_eq!(z["download"], j["download"]);

    // Readable without --json.
    let text = cli
        .run(tmp.path(), &["bundle", "diff", "a", "b"])
        .ok()
        .stdout;
    assert!(
        text.contains("as manifest") && text.contains("js/app.js.br"),
        "{text}"
    );

    // Nothing changed: nothing to download.
    let same = cli
        .run(tmp.path(), &["--json", "bundle", "diff", "b", "b.zip"])
        .ok()
        .json();
    assert_eq!(same["manifest_bytes"], 0, "{same}");
}

#[test]
fn diff_refuses_what_is_not_a_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    build(&tmp.path().join("a"), "", false, false);
    write(tmp.path(), "notes.txt", "not a zip");
    let cli = Cli::bare();
    cli.run(tmp.path(), &["bundle", "diff", "a", "notes.txt"])
        .fails(1, "not a bundle zip");
    cli.run(tmp.path(), &["bundle", "diff", "a", "missing"])
        .fails(1, "cannot read");
}
