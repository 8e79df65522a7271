//! Conformance cases for holds on stored files and for leases: when a
//! file may be removed is decided in the database, so every node agrees.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use updraft_store::*;

use crate::{app, new_bundle, APP};

type Removal = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A removal that counts its calls and succeeds.
fn counting(calls: &Arc<AtomicUsize>) -> impl Fn() -> Removal + Send + Sync {
    let calls = calls.clone();
    move || {
        calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

fn sha(c: char) -> String {
    c.to_string().repeat(64)
}

/// A file is due once no upload holds it and it was freed by the cut-off;
/// a sweep removes an unused due file and keeps a used one (dropping only
/// its row); a failed removal keeps the row; deleting a bundle or an app,
/// or forgetting a manifest file, frees their files in the same write.
pub async fn stored_files_are_held_and_swept(s: &dyn Store) {
    app(s).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let remove = counting(&calls);
    let (a, b) = (sha('a'), sha('b'));

    // Two uploads hold it; it is due only once both ended (or ran out).
    s.hold_for_upload(&a, 1_000).await.unwrap();
    s.hold_for_upload(&a, 900).await.unwrap();
    s.end_upload_hold(&a, 100).await.unwrap();
    assert!(
        s.due_blob_sweeps(200, 200, 10).await.unwrap().is_empty(),
        "one upload still holds it"
    );
    assert_eq!(
        s.sweep_blob(&a, 200, 200, &remove).await.unwrap(),
        Swept::NotDue
    );
    assert_eq!(
        s.due_blob_sweeps(1_000, 200, 10).await.unwrap(),
        vec![a.clone()],
        "the later hold ran out (a crashed upload)"
    );
    s.end_upload_hold(&a, 300).await.unwrap();
    assert!(
        s.due_blob_sweeps(400, 299, 10).await.unwrap().is_empty(),
        "freed at 300"
    );
    assert_eq!(
        s.due_blob_sweeps(400, 300, 10).await.unwrap(),
        vec![a.clone()]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // Failing to remove it keeps the row, for the next sweep.
    let failing = || -> Removal { Box::pin(async { Err("the store refused".to_string()) }) };
    let err = s.sweep_blob(&a, 400, 300, &failing).await.unwrap_err();
    assert!(err.to_string().contains("the store refused"), "{err}");
    assert_eq!(
        s.due_blob_sweeps(400, 300, 10).await.unwrap(),
        vec![a.clone()]
    );
    assert_eq!(
        s.sweep_blob(&a, 400, 300, &remove).await.unwrap(),
        Swept::Removed
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(s
        .due_blob_sweeps(i64::MAX, i64::MAX, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.sweep_blob(&a, 400, 300, &remove).await.unwrap(),
        Swept::NotDue
    );

    // An uploaded bundle's file: the row goes, the file stays.
    let bundle = new_bundle("1.0.1");
    let zip = bundle.blob_sha256.clone().unwrap();
    s.hold_for_upload(&zip, 5_000).await.unwrap();
    s.create_bundle(&bundle, &Stamp::system(1)).await.unwrap();
    s.end_upload_hold(&zip, 10).await.unwrap();
    assert_eq!(
        s.sweep_blob(&zip, 20, 20, &remove).await.unwrap(),
        Swept::InUse
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(s
        .due_blob_sweeps(i64::MAX, i64::MAX, 10)
        .await
        .unwrap()
        .is_empty());
    // Deleted at 200: due from then, whatever the upload's hold said.
    s.hold_for_upload(&zip, 5_000).await.unwrap();
    s.end_upload_hold(&zip, 30).await.unwrap();
    s.delete_bundle(APP, "1.0.1", &Stamp::system(200))
        .await
        .unwrap();
    assert!(s.due_blob_sweeps(250, 199, 10).await.unwrap().is_empty());
    assert_eq!(
        s.due_blob_sweeps(250, 200, 10).await.unwrap(),
        vec![zip.clone()]
    );
    assert_eq!(
        s.sweep_blob(&zip, 250, 200, &remove).await.unwrap(),
        Swept::Removed
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // A manifest file forgotten by retention is freed when it is forgotten
    // (a download started just before gets the grace).
    s.add_file(APP, &b, 5, 100).await.unwrap();
    assert!(s.forget_file(APP, &b, 150, 700).await.unwrap());
    assert!(s.due_blob_sweeps(700, 699, 10).await.unwrap().is_empty());
    assert_eq!(
        s.due_blob_sweeps(700, 700, 10).await.unwrap(),
        vec![b.clone()]
    );
    assert_eq!(
        s.sweep_blob(&b, 700, 700, &remove).await.unwrap(),
        Swept::Removed
    );
    // An upload whose row was swept meanwhile (its hold ran out) frees the
    // file it stored when it ends.
    s.end_upload_hold(&b, 710).await.unwrap();
    assert_eq!(
        s.due_blob_sweeps(710, 710, 10).await.unwrap(),
        vec![b.clone()]
    );
    assert_eq!(
        s.sweep_blob(&b, 710, 710, &remove).await.unwrap(),
        Swept::Removed
    );

    // Deleting the app frees its bundles' and manifest files at its time
    // (a deleted bundle's too: a file kept from before holds existed goes).
    let other = new_bundle("1.0.2");
    let other_zip = other.blob_sha256.clone().unwrap();
    s.create_bundle(&other, &Stamp::system(1)).await.unwrap();
    let c = sha('c');
    s.add_file(APP, &c, 5, 100).await.unwrap();
    s.delete_app(APP, &Stamp::system(900)).await.unwrap();
    let mut held = s.due_blob_sweeps(900, 900, 10).await.unwrap();
    held.sort();
    let mut want = vec![c.clone(), other_zip.clone(), zip.clone()];
    want.sort();
    assert_eq!(held, want);
    assert!(s.due_blob_sweeps(900, 899, 10).await.unwrap().is_empty());
    for f in &want {
        assert_eq!(
            s.sweep_blob(f, 900, 900, &remove).await.unwrap(),
            Swept::Removed
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 7);
}

/// A named lease has one holder at a time; it renews its own, another
/// takes it once it has run out or was given up.
pub async fn leases_have_one_holder_at_a_time(s: &dyn Store) {
    assert!(s.take_lease("retention", "a", 0, 100).await.unwrap());
    assert!(!s.take_lease("retention", "b", 50, 150).await.unwrap());
    assert!(
        s.take_lease("other", "b", 50, 150).await.unwrap(),
        "one per name"
    );
    assert!(
        s.take_lease("retention", "a", 60, 160).await.unwrap(),
        "renewed"
    );
    assert!(!s.take_lease("retention", "b", 159, 259).await.unwrap());
    assert!(
        s.take_lease("retention", "b", 160, 260).await.unwrap(),
        "ran out"
    );
    assert!(!s.take_lease("retention", "a", 170, 270).await.unwrap());
    s.release_leases("b").await.unwrap();
    assert!(
        s.take_lease("retention", "a", 171, 271).await.unwrap(),
        "given up"
    );
}

/// An upload holding a file while a sweep removes it waits for the removal
/// to finish, so it then stores the file again; once held, no sweep takes
/// it. Many rounds, the hold started while the removal is under way.
pub async fn a_hold_waits_for_a_removal_under_way(s: Arc<dyn Store>) {
    let file = sha('d');
    for round in 0..15 {
        s.hold_for_upload(&file, 0).await.unwrap();
        s.end_upload_hold(&file, 0).await.unwrap();
        let started = Arc::new(tokio::sync::Notify::new());
        let removed_at = Arc::new(std::sync::Mutex::new(None::<Instant>));
        let (st, ra) = (started.clone(), removed_at.clone());
        let remove = move || -> Removal {
            let (st, ra) = (st.clone(), ra.clone());
            Box::pin(async move {
                st.notify_one();
                tokio::time::sleep(Duration::from_millis(40)).await;
                *ra.lock().unwrap() = Some(Instant::now());
                Ok(())
            })
        };
        let (s1, s2, f1, f2) = (s.clone(), s.clone(), file.clone(), file.clone());
        let sweep = tokio::spawn(async move { s1.sweep_blob(&f1, 10, 10, &remove).await });
        started.notified().await;
        let hold = tokio::spawn(async move {
            s2.hold_for_upload(&f2, 1_000).await.unwrap();
            Instant::now()
        });
        assert_eq!(
            sweep.await.unwrap().unwrap(),
            Swept::Removed,
            "round {round}"
        );
        let held_at = hold.await.unwrap();
        let removed = removed_at.lock().unwrap().expect("removed");
        assert!(
            held_at >= removed,
            "round {round}: the hold returned before the removal finished"
        );
        // The upload's hold stands: nothing removes the file it stores now.
        let never = || -> Removal { panic!("round {round}: a held file was removed") };
        assert_eq!(
            s.sweep_blob(&file, 10, 10, &never).await.unwrap(),
            Swept::NotDue
        );
        assert!(s.due_blob_sweeps(999, 999, 10).await.unwrap().is_empty());
        // The upload ends; the next round starts from a due row again.
        s.end_upload_hold(&file, 20).await.unwrap();
        let ok = || -> Removal { Box::pin(async { Ok(()) }) };
        assert_eq!(
            s.sweep_blob(&file, 20, 20, &ok).await.unwrap(),
            Swept::Removed
        );
    }
}
