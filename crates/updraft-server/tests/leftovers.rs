//! What a crash leaves on disk is cleaned at the next start, and a damaged
//! stored bundle file is replaced by a correct re-upload.

use updraft_test_support::*;

#[tokio::test]
async fn a_start_removes_what_a_crash_left_and_a_reupload_repairs_a_damaged_file() {
    let mut s = Server::start().await;
    s.with_app().await;
    let b = s.bundle("1.0.1").await;
    let sha = b["blob_sha256"].as_str().unwrap().to_string();
    s.stop().await;

    // As a crash would leave them: an upload's temp file, a staged blob write,
    // and (a bad disk) a stored file whose bytes no longer match its name.
    let upload_tmp = s.dir.join("tmp").join(".tmpAbC123");
    std::fs::create_dir_all(upload_tmp.parent().unwrap()).unwrap();
    std::fs::write(&upload_tmp, b"half an upload").unwrap();
    let bundles = s.dir.join("blobs").join("bundles");
    let staged = bundles.join(format!("{sha}.zip#3"));
    std::fs::write(&staged, b"half a blob").unwrap();
    let stored = bundles.join(format!("{sha}.zip"));
    std::fs::write(&stored, b"damaged").unwrap();

    s.restart().await;
    assert!(!upload_tmp.exists(), "upload temp file removed");
    assert!(!staged.exists(), "staged blob removed");
    // Re-uploading the same bytes (as another version) repairs the stored file.
    s.bundle_with("1.0.2", "1.0.1").await;
    let got = s.download(&s.url(&format!("/files/{sha}.zip"))).await;
    assert_eq!(got, zip_of(&[("index.html", b"1.0.1")]));
}
