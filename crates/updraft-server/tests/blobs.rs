//! Bundle storage on real engines: the same cases on the local folder and on
//! an S3-compatible bucket (Garage on 127.0.0.1, started here; a missing
//! `garage` fails), then two server nodes sharing PostgreSQL and the bucket:
//! a bundle uploaded through one is checked for and downloaded (whole and
//! by range) through the other.

use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use updraft_blob::{BlobError, Blobs};
use updraft_test_support::*;

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn read(blobs: &Blobs, sha: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let parts: Vec<Bytes> = blobs
        .get(sha, range)
        .await
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
        .await;
    parts.concat()
}

/// What every backend does: store (multipart, several parts), size, whole
/// and ranged reads, a damaged object replaced by a correct upload, delete.
async fn conformance(blobs: &Blobs) {
    let dir = tempfile::tempdir().unwrap();
    // 12 MiB: more than two of object_store's 5 MiB parts.
    let big: Vec<u8> = (0..12 * 1024 * 1024_u32)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    let big_sha = sha(&big);
    let src = dir.path().join("big.zip");
    std::fs::write(&src, &big).unwrap();
    assert_eq!(blobs.size(&big_sha).await.unwrap(), None);
    assert!(blobs.open(&big_sha).await.unwrap().is_none());
    blobs.put_file(&big_sha, &src).await.unwrap();
    assert_eq!(blobs.size(&big_sha).await.unwrap(), Some(big.len() as u64));
    assert_eq!(read(blobs, &big_sha, None).await, big);
    let len = big.len() as u64;
    for r in [
        0..1,
        5 * 1024 * 1024 - 3..5 * 1024 * 1024 + 7,
        len - 10..len,
    ] {
        let want = &big[usize::try_from(r.start).unwrap()..usize::try_from(r.end).unwrap()];
        assert_eq!(read(blobs, &big_sha, Some(r.clone())).await, want, "{r:?}");
    }

    // Bytes stored under a name they do not hash to are replaced by a
    // correct upload; correct ones are kept.
    let good = b"the right bytes".to_vec();
    let good_sha = sha(&good);
    let wrong = dir.path().join("wrong.zip");
    std::fs::write(&wrong, b"damaged").unwrap();
    blobs.put_file(&good_sha, &wrong).await.unwrap();
    let right = dir.path().join("right.zip");
    std::fs::write(&right, &good).unwrap();
    blobs.put_file(&good_sha, &right).await.unwrap();
    assert_eq!(read(blobs, &good_sha, None).await, good);

    // A source that cannot be read stores nothing.
    let missing = dir.path().join("nope.zip");
    assert!(blobs.put_file("0000", &missing).await.is_err());
    assert_eq!(blobs.size("0000").await.unwrap(), None);

    blobs.delete(&big_sha).await.unwrap();
    blobs.delete(&big_sha).await.unwrap();
    assert_eq!(blobs.size(&big_sha).await.unwrap(), None);
    assert!(matches!(
        blobs.get(&big_sha, None).await,
        Err(BlobError::NotFound(_))
    ));
}

#[tokio::test]
async fn blob_conformance_on_the_local_folder() {
    let dir = tempfile::tempdir().unwrap();
    conformance(&Blobs::local(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn blob_conformance_on_an_s3_bucket() {
    let garage = tokio::task::spawn_blocking(garage::start).await.unwrap();
    let blobs = Blobs::s3(&garage.settings).unwrap();
    assert!(!blobs.is_local());
    conformance(&blobs).await;
    // A prefix keeps two servers' files apart in one bucket.
    let mut prefixed = garage.settings.clone();
    prefixed.prefix = Some("staging".into());
    let other = Blobs::s3(&prefixed).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.zip");
    std::fs::write(&f, b"prefixed").unwrap();
    other.put_file(&sha(b"prefixed"), &f).await.unwrap();
    assert_eq!(blobs.size(&sha(b"prefixed")).await.unwrap(), None);
    assert_eq!(other.size(&sha(b"prefixed")).await.unwrap(), Some(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_the_bucket_an_upload_on_one_is_served_by_the_other() {
    let garage = tokio::task::spawn_blocking(garage::start).await.unwrap();
    let storage = Storage::new(Backend::Postgres).await;
    let mut config = storage.config();
    config.storage.s3 = Some(garage.settings.clone());
    let a = Server::start_with(config.clone()).await;
    // Its own data directory: nothing but the database and the bucket is shared.
    let other_dir = tempfile::tempdir().unwrap();
    let mut b_config = config.clone();
    b_config.storage.data_dir = other_dir.path().to_path_buf();
    let b = Server::start_with(b_config).await;
    a.with_app().await;
    a.publish("1.0.1").await;

    let offer = b.check(json!({})).await;
    assert_eq!(offer["version"], "1.0.1", "{offer}");
    let url = offer["url"].as_str().unwrap();
    assert!(url.starts_with(&b.base), "{url}");
    let zip = b.download(url).await;
    assert_eq!(sha(&zip), offer["checksum"].as_str().unwrap());
    let ranged = b
        .http
        .get(url)
        .header("Range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &zip[..10]);

    // A key the bucket refuses stops the start, saying so.
    let mut wrong = config.clone();
    let mut s3 = garage.settings.clone();
    s3.secret_access_key = Some("not-the-secret".into());
    wrong.storage.s3 = Some(s3);
    wrong.server.listen = "127.0.0.1:0".parse().unwrap();
    let err = updraft_server::open_and_start(wrong)
        .await
        .err()
        .expect("the start fails");
    assert!(
        format!("{err:#}").contains("refuses this server's key"),
        "{err:#}"
    );
}
