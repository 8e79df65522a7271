//! The first hour of a new user (issue #10): `init` and `doctor` catch updater
//! URLs a phone cannot use, `doctor` says which thing failed, `promote` and
//! `rollback` default to production like `deploy`, devices on their builtin
//! bundle show as `builtin` (or as maybe builtin when a bundle has that name),
//! and checksums are short in text output.

use serde_json::{json, Value};
use updraft_test_support::*;

const APP: &str = "com.example.first";
const PUBLIC: &str = "https://updates.example.com";

fn updater(p: &std::path::Path) -> Value {
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("capacitor.config.json")).unwrap())
            .unwrap();
    config["plugins"]["CapacitorUpdater"].clone()
}

/// The named check of a `doctor --json` run.
fn check(doc: &Value, name: &str) -> Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_warns_when_phones_cannot_reach_the_device_url() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();

    // Logged in to 127.0.0.1: the config is written, with a warning saying how to fix it.
    let r = cli.run(p, &["init", "--json"]).ok();
    assert!(r.stderr.contains("warning:"), "{r:?}");
    assert!(r.stderr.contains("no phone can reach"), "{r:?}");
    assert!(r.stderr.contains("127.0.0.1"), "{r:?}");
    assert!(
        r.stderr
            .contains("updraft init --device-url https://updates.example.com")
            && r.stderr.contains("UPDRAFT_PUBLIC_URL"),
        "says how to fix it: {r:?}"
    );
    assert_eq!(r.json()["warnings"].as_array().unwrap().len(), 1);
    assert_eq!(updater(p)["updateUrl"], format!("{}/updates", server.base));

    // The device URL phones use: written into all three URLs, no warning.
    let r = cli
        .run(
            p,
            &[
                "init",
                "--device-url",
                "https://updates.example.com/",
                "--json",
            ],
        )
        .ok();
    assert!(!r.stderr.contains("warning"), "{r:?}");
    assert_eq!(r.json()["warnings"], json!([]));
    let u = updater(p);
    assert_eq!(u["updateUrl"], format!("{PUBLIC}/updates"));
    assert_eq!(u["statsUrl"], format!("{PUBLIC}/stats"));
    assert_eq!(u["channelUrl"], format!("{PUBLIC}/channel_self"));

    // Every kind of address a phone cannot use.
    for url in [
        "http://localhost:8080",
        "http://0.0.0.0:8080",
        "http://[::1]:8080",
        "http://[::]:8080",
        "http://169.254.1.1:8080",
        "http://[fe80::1]:8080",
    ] {
        let r = cli.run(p, &["init", "--device-url", url]).ok();
        assert!(r.stderr.contains("no phone can reach"), "{url}: {r:?}");
    }
    // Plain http is fine while the project has no iOS platform. With one, a
    // domain name is called out (App Transport Security) ...
    let lan = "http://192.168.1.20:8080";
    let domain = "http://updates.example.com";
    let r = cli.run(p, &["init", "--device-url", domain]).ok();
    assert!(!r.stderr.contains("warning"), "{r:?}");
    std::fs::create_dir(p.join("ios")).unwrap();
    let r = cli.run(p, &["init", "--device-url", domain]).ok();
    assert!(r.stderr.contains("App Transport Security"), "{r:?}");
    assert!(r.stderr.contains("HTTPS"), "{r:?}");
    // ... even with --quiet, as it means iPhones get no updates ...
    let r = cli.run(p, &["init", "--device-url", domain, "-q"]).ok();
    assert!(r.stderr.contains("App Transport Security"), "{r:?}");
    assert_eq!(r.stdout, "", "{r:?}");
    // ... but not once the Info.plist allows it, nor for hosts ATS does not
    // cover (IP addresses, .local and single-label names).
    write_info_plist(p, ARBITRARY_LOADS);
    for url in [
        domain,
        lan,
        "http://my-mac.local:8080",
        "http://buildbox:8080",
    ] {
        let r = cli.run(p, &["init", "--device-url", url]).ok();
        assert!(!r.stderr.contains("warning"), "{url}: {r:?}");
    }
    write_info_plist(p, "");
    let r = cli.run(p, &["init", "--device-url", lan]).ok();
    assert!(!r.stderr.contains("warning"), "{r:?}");

    // Not a URL: a usage error, and the config keeps what it had.
    cli.run(p, &["init", "--device-url", "updates.example.com"])
        .fails(2, "not an absolute URL");
    cli.run(p, &["init", "--device-url", "ftp://updates.example.com"])
        .fails(2, "http:// or https://");
    // Nothing init cannot append its paths to, or that should not ship in the app.
    let r = cli
        .run(
            p,
            &[
                "init",
                "--device-url",
                "https://updates.example.com/updates",
            ],
        )
        .fails(2, "already ends in /updates");
    assert!(
        r.stderr
            .contains("--device-url https://updates.example.com\n"),
        "{r:?}"
    );
    cli.run(
        p,
        &["init", "--device-url", "https://updates.example.com/stats/"],
    )
    .fails(2, "already ends in /stats");
    cli.run(
        p,
        &[
            "init",
            "--device-url",
            "https://u.example.com/x/channel_self",
        ],
    )
    .fails(2, "--device-url https://u.example.com/x");
    let r = cli
        .run(
            p,
            &[
                "init",
                "--device-url",
                "https://ci:hunter2@updates.example.com",
            ],
        )
        .fails(2, "user name or password");
    assert!(!r.stderr.contains("hunter2"), "not echoed: {r:?}");
    cli.run(
        p,
        &["init", "--device-url", "https://updates.example.com/?v=1"],
    )
    .fails(2, "query");
    cli.run(
        p,
        &["init", "--device-url", "https://updates.example.com/#x"],
    )
    .fails(2, "fragment");
    cli.run(
        p,
        &["init", "--device-url", "https://updates.example.com:0"],
    )
    .fails(2, "port 0");
    assert_eq!(updater(p)["updateUrl"], format!("{lan}/updates"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_quiet_still_says_no_phone_can_reach_the_server() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let r = cli.run(project.path(), &["init", "--quiet"]).ok();
    assert!(r.stderr.contains("no phone can reach"), "{r:?}");
    assert_eq!(r.stdout, "", "{r:?}");
}

const ARBITRARY_LOADS: &str =
    "<key>NSAppTransportSecurity</key><dict><key>NSAllowsArbitraryLoads</key><true/></dict>";

/// Writes ios/App/App/Info.plist (where Capacitor puts it) with `ats` in its top dict.
fn write_info_plist(p: &std::path::Path, ats: &str) {
    write(
        p,
        "ios/App/App/Info.plist",
        &format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n\t<key>CFBundleDisplayName</key>\n\t<string>Test App</string>\n\t{ats}\n</dict>\n</plist>\n"
        ),
    );
}

/// Sets `key` of plugins.CapacitorUpdater in the project's JSON config.
fn set_updater(p: &std::path::Path, key: &str, value: Value) {
    let path = p.join("capacitor.config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["plugins"]["CapacitorUpdater"][key] = value;
    std::fs::write(path, config.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_on_updater_urls_a_phone_cannot_use() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();

    // Loopback (what `init` wrote from the login): FAIL, with the fix.
    cli.run(p, &["init"]).ok();
    let r = cli.run(p, &["doctor", "--json"]);
    assert_eq!(r.code, 1, "{r:?}");
    let doc = r.json();
    assert_eq!(doc["ok"], false);
    let urls = check(&doc, "device urls");
    assert_eq!(urls["status"], "fail", "{doc}");
    let detail = urls["detail"].as_str().unwrap();
    assert!(
        detail.contains("updateUrl") && detail.contains("statsUrl"),
        "{detail}"
    );
    assert!(detail.contains("--device-url"), "{detail}");
    let text = cli.run(p, &["doctor"]);
    assert_eq!(text.code, 1);
    assert!(text.stdout.contains("FAIL  device urls"), "{text:?}");

    // HTTPS: every check passes.
    cli.run(p, &["init", "--device-url", PUBLIC]).ok();
    let ok = cli.run(p, &["doctor", "--json"]).ok().json();
    assert_eq!(check(&ok, "device urls")["status"], "ok", "{ok}");
    assert_eq!(check(&ok, "https")["status"], "ok", "{ok}");

    // Plain http to a LAN address: a warning for Android (cleartext) ...
    cli.run(p, &["init", "--device-url", "http://192.168.1.20:8080"])
        .ok();
    std::fs::create_dir(p.join("android")).unwrap();
    let warned = cli.run(p, &["doctor", "--json"]).ok().json();
    let https = check(&warned, "https");
    assert_eq!(https["status"], "warn", "{warned}");
    assert!(
        https["detail"].as_str().unwrap().contains("cleartext"),
        "{https}"
    );
    // ... still only that once the project has iOS, as ATS does not cover IP addresses ...
    std::fs::create_dir(p.join("ios")).unwrap();
    let lan = cli.run(p, &["doctor", "--json"]).ok().json();
    let https = check(&lan, "https");
    assert_eq!(https["status"], "warn", "{lan}");
    assert!(
        https["detail"].as_str().unwrap().contains("IP address"),
        "{https}"
    );
    // ... but a failure for a domain name, which iOS blocks ...
    cli.run(p, &["init", "--device-url", "http://updates.example.com"])
        .ok();
    let r = cli.run(p, &["doctor", "--json"]);
    assert_eq!(r.code, 1, "{r:?}");
    let https = check(&r.json(), "https");
    assert_eq!(https["status"], "fail");
    let detail = https["detail"].as_str().unwrap();
    assert!(
        detail.contains("App Transport Security") && detail.contains("reverse proxy"),
        "{detail}"
    );
    // ... unless the app's Info.plist allows it (an exception for that host).
    write_info_plist(
        p,
        "<key>NSAppTransportSecurity</key><dict><key>NSExceptionDomains</key><dict><key>updates.example.com</key><dict><key>NSExceptionAllowsInsecureHTTPLoads</key><true/></dict></dict></dict>",
    );
    let allowed = cli.run(p, &["doctor", "--json"]).ok().json();
    let https = check(&allowed, "https");
    assert_eq!(
        https["status"], "warn",
        "Android still needs cleartext: {allowed}"
    );
    assert!(
        https["detail"]
            .as_str()
            .unwrap()
            .contains("NSExceptionDomains"),
        "{https}"
    );
    std::fs::remove_dir_all(p.join("android")).unwrap();
    let ios_only = cli.run(p, &["doctor", "--json"]).ok().json();
    assert_eq!(check(&ios_only, "https")["status"], "ok", "{ios_only}");
    write_info_plist(
        p,
        "<key>NSAppTransportSecurity</key><dict><key>NSExceptionDomains</key><dict><key>other.example.com</key><dict><key>NSExceptionAllowsInsecureHTTPLoads</key><true/></dict></dict></dict>",
    );
    let r = cli.run(p, &["doctor", "--json"]);
    assert_eq!(r.code, 1, "another host's exception does not count: {r:?}");

    // A statsUrl left on localhost is caught on its own.
    cli.run(p, &["init", "--device-url", PUBLIC]).ok();
    set_updater(p, "statsUrl", json!("http://localhost:8080/stats"));
    let r = cli.run(p, &["doctor", "--json"]);
    assert_eq!(r.code, 1);
    let urls = check(&r.json(), "device urls");
    let detail = urls["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("statsUrl") && !detail.contains("updateUrl"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_wants_one_updates_on_the_base_of_stats_and_channel_self() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();
    cli.run(p, &["init", "--device-url", PUBLIC]).ok();
    let config = |doc: &Value| check(doc, "capacitor config");
    let ok = cli.run(p, &["doctor", "--json"]).ok().json();
    assert_eq!(config(&ok)["status"], "ok", "{ok}");

    let fails = |what: &str, needle: &str| {
        let r = cli.run(p, &["doctor", "--json"]);
        assert_eq!(r.code, 1, "{what}: {r:?}");
        let c = config(&r.json());
        assert_eq!(c["status"], "fail", "{what}: {c}");
        assert!(
            c["detail"].as_str().unwrap().contains(needle),
            "{what}: {c}"
        );
    };
    for bad in [
        format!("{PUBLIC}/updates/updates"),
        format!("{PUBLIC}/updates/"),
        format!("{PUBLIC}/update"),
    ] {
        set_updater(p, "updateUrl", json!(bad));
        fails(&bad, "exactly one /updates");
    }
    set_updater(p, "updateUrl", json!(format!("{PUBLIC}/updates")));
    set_updater(p, "statsUrl", json!("https://other.example.com/stats"));
    fails(
        "statsUrl elsewhere",
        "statsUrl is https://other.example.com/stats",
    );
    set_updater(p, "statsUrl", json!(format!("{PUBLIC}/stats")));
    set_updater(p, "channelUrl", json!(format!("{PUBLIC}/channel")));
    fails("channelUrl", "channelUrl");

    // An empty statsUrl turns stats off in the plugin: fine.
    set_updater(p, "channelUrl", json!(format!("{PUBLIC}/channel_self")));
    set_updater(p, "statsUrl", json!(""));
    let ok = cli.run(p, &["doctor", "--json"]).ok().json();
    assert_eq!(config(&ok)["status"], "ok", "{ok}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_which_thing_failed() {
    let mut server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.0");
    let p = project.path();

    // Not initialised: the app is missing, and that is what it says.
    let r = cli.run(p, &["doctor", "--json"]);
    assert_eq!(r.code, 1);
    let app = check(&r.json(), "app");
    assert_eq!(app["status"], "fail");
    assert!(
        app["detail"]
            .as_str()
            .unwrap()
            .contains("not on the server: run `updraft init`"),
        "{app}"
    );

    cli.run(p, &["init", "--device-url", PUBLIC]).ok();
    // A checksum is not called a signature.
    let ok = cli.run(p, &["doctor"]).ok();
    assert!(!ok.stdout.contains("sign"), "{ok:?}");
    assert!(ok.stdout.contains("checksum"), "{ok:?}");

    // A key the server rejects: log in again, not `init`.
    let wrong = Cli::new(&server).with_env("UPDRAFT_API_KEY", "upd_not_a_real_key_at_all_000000");
    let r = wrong.run(p, &["doctor"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("API key rejected"), "{r:?}");
    assert!(r.stdout.contains("updraft login"), "{r:?}");
    assert!(!r.stdout.contains("updraft init"), "{r:?}");

    // The server down: unreachable, is it running? Nothing about keys or init.
    server.stop().await;
    let r = cli.run(p, &["doctor", "--json"]);
    assert_eq!(r.code, 1, "{r:?}");
    let doc = r.json();
    let s = check(&doc, "server");
    assert_eq!(s["status"], "fail");
    let detail = s["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("server unreachable at {}", server.base))
            && detail.contains("running"),
        "{detail}"
    );
    assert_eq!(check(&doc, "api key"), Value::Null, "not checked: {doc}");
    assert_eq!(check(&doc, "app"), Value::Null, "not checked: {doc}");
    assert!(!r.stdout.contains("updraft init"), "{r:?}");
    // The project's own checks still run.
    assert_eq!(check(&doc, "device urls")["status"], "ok", "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_and_rollback_default_to_production_like_deploy() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.1");
    let p = project.path();
    cli.run(p, &["init"]).ok();

    // Text output shows a short checksum; --json keeps the whole one.
    let r = cli.run(p, &["deploy"]).ok();
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("checksum "))
        .unwrap_or_else(|| panic!("{r:?}"));
    let offer = server.check_app(APP, json!({})).await;
    let full = offer["checksum"].as_str().unwrap();
    assert_eq!(full.len(), 64);
    assert!(
        line.starts_with(&format!("checksum {}…", &full[..12])),
        "{line}"
    );
    assert!(!r.stdout.contains(full), "{r:?}");

    cli.run(p, &["key", "create"]).ok();
    write_build(p, "v2");
    let r = cli.run(p, &["deploy", "--bundle", "1.0.2"]).ok();
    assert!(r.stdout.contains("encrypted"), "{r:?}");
    let checksum_line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("checksum "))
        .unwrap();
    assert!(
        checksum_line.len() < 60,
        "not 512 hex characters: {checksum_line}"
    );
    let j = cli
        .run(
            p,
            &[
                "bundle",
                "upload",
                "--bundle",
                "1.0.3",
                "--ignore-checksum-check",
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(j["checksum"].as_str().unwrap().len(), 512, "{j}");
    assert_eq!(server.check_app(APP, json!({})).await["version"], "1.0.2");

    // No --channel: production, as deploy.
    let rb = cli.run(p, &["rollback", "--json"]).ok().json();
    assert_eq!(rb["channel"]["name"], "production");
    assert_eq!(rb["channel"]["bundle_version"], "1.0.1");
    assert_eq!(server.check_app(APP, json!({})).await["version"], "1.0.1");
    let pr = cli.run(p, &["promote", "1.0.3", "--json"]).ok().json();
    assert_eq!(pr["channel"]["name"], "production");
    assert_eq!(server.check_app(APP, json!({})).await["version"], "1.0.3");
    // --channel still chooses another one.
    let beta = cli
        .run(p, &["promote", "1.0.2", "--channel", "beta", "--json"])
        .ok()
        .json();
    assert_eq!(beta["channel"]["name"], "beta");
    assert_eq!(server.check_app(APP, json!({})).await["version"], "1.0.3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_on_their_builtin_bundle_show_as_builtin() {
    let server = Server::start().await;
    let cli = Cli::new(&server);
    let project = json_project(APP, "1.0.1");
    let p = project.path();
    cli.run(p, &["init"]).ok();
    cli.run(p, &["deploy"]).ok();

    // DEV runs its builtin bundle of native 1.0.0; ANOTHER runs bundle 1.0.1.
    const ANOTHER: &str = "00000000-0000-4000-8000-0000000000bb";
    server.check_app(APP, json!({})).await;
    server
        .check_app(APP, json!({"device_id": ANOTHER, "version_name": "1.0.1"}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let list = cli.run(p, &["device", "list"]).ok().stdout;
    let row = |id: &str| {
        list.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} in {list}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(row(DEV)[2], "builtin", "{list}");
    assert_eq!(row(ANOTHER)[2], "1.0.1", "{list}");

    // JSON: the server's fields as they are, plus what the device runs.
    let j = cli.run(p, &["device", "list", "--json"]).ok().json();
    let item = |id: &str| {
        j["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["device_id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(item(DEV)["bundle"], "builtin");
    assert_eq!(
        item(DEV)["version_name"],
        "1.0.0",
        "the server's value is kept"
    );
    assert_eq!(item(DEV)["version_build"], "1.0.0");
    assert_eq!(item(ANOTHER)["bundle"], "1.0.1");
    assert!(j.get("next_cursor").is_none(), "{j}");

    let shown = cli.run(p, &["device", "get", DEV]).ok().stdout;
    assert!(shown.contains("bundle     builtin"), "{shown}");
    assert!(shown.contains("native     1.0.0"), "{shown}");
    let got = cli.run(p, &["device", "get", DEV, "--json"]).ok().json();
    assert_eq!(got["bundle"], "builtin");
    assert_eq!(got["maybe_builtin"], false);

    // Once the app has a bundle named like the native version, a device
    // reporting that name may run either: both are said.
    write_build(p, "named like native");
    cli.run(p, &["bundle", "upload", "--bundle", "1.0.0"]).ok();
    let list = cli.run(p, &["device", "list"]).ok().stdout;
    let line = list.lines().find(|l| l.starts_with(DEV)).unwrap();
    assert!(line.contains("1.0.0 (or builtin)"), "{list}");
    let j = cli.run(p, &["device", "list", "--json"]).ok().json();
    let d = j["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == DEV)
        .unwrap();
    assert_eq!(
        (&d["bundle"], &d["maybe_builtin"]),
        (&json!("1.0.0"), &json!(true)),
        "{d}"
    );
    let shown = cli.run(p, &["device", "get", DEV]).ok().stdout;
    assert!(shown.contains("bundle     1.0.0 (or builtin)"), "{shown}");
    let got = cli.run(p, &["device", "get", DEV, "--json"]).ok().json();
    assert_eq!(
        (&got["bundle"], &got["maybe_builtin"]),
        (&json!("1.0.0"), &json!(true))
    );
    assert_eq!(item(ANOTHER)["maybe_builtin"], false);
}
