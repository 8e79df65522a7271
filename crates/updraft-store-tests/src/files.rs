//! Conformance cases for manifest files: an app sees and names only its own
//! files, a manifest is set once, and a cleanup forgets only files no live
//! bundle names once their grace period is over.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, new_bundle, APP};

const OTHER: &str = "com.example.other";

fn sha(c: char) -> String {
    c.to_string().repeat(64)
}

fn entry(name: &str, sha256: &str) -> ManifestEntry {
    ManifestEntry {
        file_name: name.into(),
        file_hash: "ab".repeat(32),
        download_url: format!("{STORED_FILE_PREFIX}{sha256}"),
    }
}

async fn other_app(s: &dyn Store) {
    s.create_app(
        &NewApp {
            app_id: OTHER.into(),
            name: None,
        },
        &Stamp::system(1),
    )
    .await
    .unwrap();
}

/// An app learns of and names only the files it stored; a bundle's manifest
/// is set once (the same one again is accepted) and names only stored files.
pub async fn manifest_files_are_the_apps_own(s: &dyn Store) {
    app(s).await;
    other_app(s).await;
    s.create_bundle(&new_bundle("1.0.0"), &Stamp::system(1))
        .await
        .unwrap();
    let (a, b) = (sha('a'), sha('b'));
    s.add_file(APP, &a, 10, 100).await.unwrap();
    assert!(matches!(
        s.add_file("com.example.none", &a, 10, 100).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        s.missing_files(APP, &[a.clone(), b.clone(), b.clone()], 200)
            .await
            .unwrap(),
        vec![b.clone()],
        "each missing file once, in the order asked"
    );
    assert_eq!(
        s.missing_files(OTHER, std::slice::from_ref(&a), 200)
            .await
            .unwrap(),
        vec![a.clone()],
        "another app's file is missing for this one"
    );
    assert_eq!(
        s.file_sizes(APP, &[a.clone(), b.clone()]).await.unwrap(),
        vec![(a.clone(), 10)]
    );
    assert_eq!(s.list_files(APP).await.unwrap(), vec![(a.clone(), 10)]);

    let stamp = Stamp::system(300);
    for bad in [
        vec![entry("index.html", &b)],
        vec![ManifestEntry {
            download_url: "https://cdn.example.com/x.js".into(),
            ..entry("x.js", &a)
        }],
    ] {
        assert!(
            matches!(
                s.set_manifest(APP, "1.0.0", &bad, &stamp).await,
                Err(StoreError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        s.set_manifest(APP, "9.9.9", &[entry("index.html", &a)], &stamp)
            .await,
        Err(StoreError::NotFound(_))
    ));
    let manifest = vec![entry("index.html", &a), entry("copy.html", &a)];
    let rev = s.load_snapshot(APP).await.unwrap().unwrap().revision;
    let bundle = s
        .set_manifest(APP, "1.0.0", &manifest, &stamp)
        .await
        .unwrap();
    assert_eq!(bundle.manifest, manifest);
    assert!(s.load_snapshot(APP).await.unwrap().unwrap().revision > rev);
    s.set_manifest(APP, "1.0.0", &manifest, &stamp)
        .await
        .expect("the same manifest again changes nothing");
    s.add_file(APP, &b, 5, 300).await.unwrap();
    assert!(matches!(
        s.set_manifest(APP, "1.0.0", &[entry("index.html", &b)], &stamp)
            .await,
        Err(StoreError::Conflict(_))
    ));
}

/// A cleanup forgets a file once its grace is over and no live bundle of its
/// app names it; a touch (an upload told the app has it) restarts the grace;
/// deleting the naming bundle or the app releases it.
pub async fn unused_files_are_forgotten_after_their_grace(s: &dyn Store) {
    app(s).await;
    other_app(s).await;
    s.create_bundle(&new_bundle("1.0.0"), &Stamp::system(1))
        .await
        .unwrap();
    let (named, old, recent, shared) = (sha('a'), sha('b'), sha('c'), sha('d'));
    for f in [&named, &old, &shared] {
        s.add_file(APP, f, 1, 100).await.unwrap();
    }
    s.add_file(APP, &recent, 1, 900).await.unwrap();
    s.add_file(OTHER, &shared, 1, 5_000).await.unwrap();
    s.set_manifest(
        APP,
        "1.0.0",
        &[entry("index.html", &named)],
        &Stamp::system(100),
    )
    .await
    .unwrap();

    let mut unused = s.unused_files(500, 100).await.unwrap();
    unused.sort();
    assert_eq!(
        unused,
        vec![
            (APP.to_string(), old.clone()),
            (APP.to_string(), shared.clone())
        ],
        "named and recent files are kept"
    );
    // An upload is told the app has `old`: its grace starts again.
    assert!(s
        .missing_files(APP, std::slice::from_ref(&old), 600)
        .await
        .unwrap()
        .is_empty());
    assert!(!s.forget_file(APP, &old, 500, 500).await.unwrap());
    assert!(s.blob_in_use(&old).await.unwrap());

    assert!(s.forget_file(APP, &shared, 500, 500).await.unwrap());
    assert!(
        s.blob_in_use(&shared).await.unwrap(),
        "another app still keeps the same bytes"
    );
    assert_eq!(
        s.missing_files(APP, std::slice::from_ref(&shared), 700)
            .await
            .unwrap(),
        vec![shared.clone()],
        "forgotten for this app"
    );

    s.delete_bundle(APP, "1.0.0", &Stamp::system(1_000))
        .await
        .unwrap();
    assert_eq!(
        s.unused_files(1_000, 100).await.unwrap(),
        vec![
            (APP.to_string(), named.clone()),
            (APP.to_string(), old.clone()),
            (APP.to_string(), recent.clone()),
        ],
        "a deleted bundle names nothing; oldest first"
    );
    assert!(s.forget_file(APP, &named, 1_000, 1_000).await.unwrap());
    assert!(!s.blob_in_use(&named).await.unwrap());

    s.delete_app(OTHER, &Stamp::system(1_000)).await.unwrap();
    assert!(
        !s.blob_in_use(&shared).await.unwrap(),
        "the app's files go with it"
    );
}

/// A pair's patch (or the record that none pays) is stored once, read back
/// only for the app, and its file lives as long as a live bundle names the
/// target; forgetting the target forgets the pair.
pub async fn patches_are_recorded_once_and_live_with_their_target(s: &dyn Store) {
    app(s).await;
    s.create_bundle(&new_bundle("1.0.0"), &Stamp::system(1))
        .await
        .unwrap();
    let (from, to, patch, other) = (sha('a'), sha('b'), sha('c'), sha('e'));
    for f in [&from, &to, &other] {
        s.add_file(APP, f, 100, 100).await.unwrap();
    }
    s.set_manifest(
        APP,
        "1.0.0",
        &[entry("index.html", &to)],
        &Stamp::system(100),
    )
    .await
    .unwrap();
    let made = FilePatch {
        from_sha256: from.clone(),
        to_sha256: to.clone(),
        patch_sha256: Some(patch.clone()),
        size: 7,
    };
    let worthless = FilePatch {
        from_sha256: other.clone(),
        to_sha256: to.clone(),
        patch_sha256: None,
        size: 0,
    };
    assert_eq!(s.add_file_patch(APP, &made, 200).await.unwrap(), made);
    assert_eq!(
        s.add_file_patch(APP, &worthless, 200).await.unwrap(),
        worthless
    );
    // A second computation of the same pair (another node) gets the first,
    // and its own patch file is not kept for it.
    let again = FilePatch {
        patch_sha256: Some(sha('f')),
        ..made.clone()
    };
    assert_eq!(s.add_file_patch(APP, &again, 300).await.unwrap(), made);
    assert!(!s.blob_in_use(&sha('f')).await.unwrap());
    let pairs = [
        (from.clone(), to.clone()),
        (other.clone(), to.clone()),
        (to.clone(), from.clone()),
    ];
    let mut got = s.file_patches(APP, &pairs).await.unwrap();
    got.sort_by(|a, b| a.from_sha256.cmp(&b.from_sha256));
    assert_eq!(
        got,
        vec![made.clone(), worthless.clone()],
        "never computed: left out"
    );
    assert!(s.file_patches(OTHER, &pairs).await.unwrap().is_empty());
    assert!(matches!(
        s.add_file_patch(OTHER, &made, 200).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.add_file_patch(OTHER, &worthless, 200).await,
        Err(StoreError::NotFound(_))
    ));

    // The patch file is kept while a live bundle names its target...
    let unused = s.unused_files(1_000, 100).await.unwrap();
    assert!(
        !unused.contains(&(APP.to_string(), patch.clone())),
        "{unused:?}"
    );
    assert!(s.blob_in_use(&patch).await.unwrap());
    // ...and goes, with the records of patches to that target, once none does.
    s.delete_bundle(APP, "1.0.0", &Stamp::system(1_000))
        .await
        .unwrap();
    let unused = s.unused_files(1_000, 100).await.unwrap();
    assert!(
        unused.contains(&(APP.to_string(), patch.clone())),
        "{unused:?}"
    );
    assert!(s.forget_file(APP, &to, 1_000, 1_000).await.unwrap());
    assert!(s.file_patches(APP, &pairs).await.unwrap().is_empty());
    assert!(s.forget_file(APP, &patch, 1_000, 1_000).await.unwrap());
    assert!(!s.blob_in_use(&patch).await.unwrap());
    s.delete_app(APP, &Stamp::system(2_000)).await.unwrap();
}
