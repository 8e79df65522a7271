//! Channel replies are read as the plugin reads them: only a 2xx JSON object
//! without `error` is a success. A proxy's HTML 502, a 500 with a text body,
//! an empty or non-JSON 200 are errors with the plugin's code, and the local
//! channel stays what it was, on disk too.

use serde_json::json;
use updraft_device::{Device, DeviceError};
use updraft_test_support::fake::{Fake, Reply};

fn code(e: &DeviceError) -> String {
    match e {
        DeviceError::Channel { error, .. } => error.clone(),
        other => panic!("not a channel error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_channel_persists_only_on_a_json_success() {
    let fake = Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = fake.device_config(dir.path());
    let mut d = Device::open(cfg.clone()).unwrap();

    fake.set_channel(Reply::json(200, json!({"status": "ok"})));
    d.set_channel("beta").await.unwrap();
    assert_eq!(d.default_channel(), "beta");

    let html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    let refused = [
        (Reply::raw(502, "text/html", html), "response_error"),
        (
            Reply::raw(500, "text/plain", "Internal Server Error"),
            "response_error",
        ),
        (Reply::raw(503, "text/plain", ""), "response_error"),
        (
            Reply::json(404, json!({"message": "no route"})),
            "response_error",
        ),
        (Reply::raw(200, "text/html", html), "parse_error"),
        (Reply::raw(200, "application/json", ""), "parse_error"),
        (
            Reply::json(200, json!(["not", "an", "object"])),
            "parse_error",
        ),
        (
            Reply::json(
                200,
                json!({"error": "channel_self_set_not_allowed", "message": "no"}),
            ),
            "channel_self_set_not_allowed",
        ),
        (
            Reply::json(
                400,
                json!({"error": "cannot_override", "message": "pinned"}),
            ),
            "cannot_override",
        ),
    ];
    for (reply, expected) in refused {
        let shown = String::from_utf8_lossy(&reply.body).into_owned();
        fake.set_channel(reply);
        let e = d.set_channel("gamma").await.unwrap_err();
        assert_eq!(code(&e), expected, "{shown}");
        assert_eq!(d.default_channel(), "beta", "after {shown}");
    }
    // Nothing was written to disk either.
    drop(d);
    let mut d = Device::open(cfg.clone()).unwrap();
    assert_eq!(d.default_channel(), "beta");

    // iOS names an undecodable reply decode_error.
    let mut ios = cfg.clone();
    ios.platform = "ios".into();
    let mut phone = Device::open(ios).unwrap();
    fake.set_channel(Reply::raw(200, "text/html", html));
    assert_eq!(
        code(&phone.set_channel("x").await.unwrap_err()),
        "decode_error"
    );
    drop(phone);

    // A null error is no error (both plugins); `unset: true` forgets the channel.
    fake.set_channel(Reply::json(200, json!({"status": "ok", "error": null})));
    d.set_channel("gamma").await.unwrap();
    assert_eq!(d.default_channel(), "gamma");
    fake.set_channel(Reply::json(200, json!({"status": "ok", "unset": true})));
    d.set_channel("production").await.unwrap();
    assert_eq!(
        d.default_channel(),
        "",
        "back to the config's defaultChannel"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_channel_keeps_the_local_channel_on_a_bad_reply() {
    let fake = Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Device::open(fake.device_config(dir.path())).unwrap();
    fake.set_channel(Reply::json(200, json!({"status": "ok"})));
    d.set_channel("beta").await.unwrap();

    for (reply, expected) in [
        (
            Reply::raw(502, "text/html", "<html>Bad Gateway</html>"),
            "response_error",
        ),
        (Reply::raw(200, "text/plain", "ok"), "parse_error"),
    ] {
        fake.set_channel(reply);
        assert_eq!(code(&d.get_channel().await.unwrap_err()), expected);
        assert_eq!(d.default_channel(), "beta");
    }
    // 400 channel_not_found with a local channel resolves locally.
    fake.set_channel(Reply::json(
        400,
        json!({"error": "channel_not_found", "message": "x"}),
    ));
    assert_eq!(
        d.get_channel().await.unwrap(),
        json!({"channel": "beta", "status": "default"})
    );
    // A good reply is saved (trimmed), `builtin` is not.
    fake.set_channel(Reply::json(
        200,
        json!({"channel": " gamma ", "status": "override"}),
    ));
    d.get_channel().await.unwrap();
    assert_eq!(d.default_channel(), "gamma");
    fake.set_channel(Reply::json(
        200,
        json!({"channel": "builtin", "status": "default"}),
    ));
    d.get_channel().await.unwrap();
    assert_eq!(d.default_channel(), "gamma");
}
