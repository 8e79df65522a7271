//! The writer against a store that refuses some writes: for good, for a
//! while, or until shutdown.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::watch;
use updraft_store::{NewEvent, StoreError, StoreResult, Write};

use super::{spawn, BatchSink, Settings, Unwritten};

/// Records every batch it accepts; refuses a batch holding the action
/// `poison` for good, and fails the first `transient` calls as unavailable.
/// While `stalled`, a write waits (a slow database).
#[derive(Default)]
struct Sink {
    written: Mutex<Vec<Write>>,
    transient: AtomicUsize,
    calls: AtomicUsize,
    stalled: AtomicBool,
}

impl BatchSink for Sink {
    fn write_batch<'a>(&'a self, batch: &'a [Write]) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            while self.stalled.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let left = self.transient.load(Ordering::SeqCst);
            if left > 0 {
                self.transient.store(left - 1, Ordering::SeqCst);
                return Err(StoreError::Unavailable("connection reset".into()));
            }
            if batch
                .iter()
                .any(|w| matches!(w, Write::Event(e) if e.action == "poison"))
            {
                return Err(StoreError::Backend(
                    "invalid byte sequence for encoding \"UTF8\": 0x00".into(),
                ));
            }
            self.written.lock().unwrap().extend_from_slice(batch);
            Ok(())
        })
    }
}

fn ev(action: &str) -> Write {
    Write::Event(NewEvent {
        app_id: "com.example.app".into(),
        device_id: "00000000-0000-4000-8000-000000000001".into(),
        action: action.into(),
        ..Default::default()
    })
}

fn actions(sink: &Sink) -> Vec<String> {
    sink.written
        .lock()
        .unwrap()
        .iter()
        .filter_map(|w| match w {
            Write::Event(e) => Some(e.action.clone()),
            _ => None,
        })
        .collect()
}

fn settings(drain_ms: u64) -> Settings {
    Settings {
        capacity: 1000,
        max_bytes: 1 << 20,
        interval: Duration::from_millis(5),
        drain_timeout: Duration::from_millis(drain_ms),
    }
}

/// Stops the writer and waits (bounded) for it to finish.
async fn stop(tx: watch::Sender<bool>, handle: tokio::task::JoinHandle<Unwritten>) -> Unwritten {
    tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("the writer must finish its drain")
        .unwrap()
}

#[tokio::test]
async fn a_write_refused_for_good_is_dropped_alone_and_the_rest_lands() {
    let sink = Arc::new(Sink::default());
    let (tx, rx) = watch::channel(false);
    let (writer, handle) = spawn(sink.clone(), settings(30_000), rx);
    let mut batch: Vec<Write> = (0..40).map(|i| ev(&format!("a{i}"))).collect();
    batch.insert(17, ev("poison"));
    batch.push(ev("poison"));
    writer.send_all(batch).unwrap();
    // The writer keeps going after the refusal: a later write lands too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    writer.send_all(vec![ev("later")]).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut expected: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
    expected.push("later".into());
    assert_eq!(actions(&sink), expected, "every good write, in order");
    let left = stop(tx, handle).await;
    assert!(left.is_empty(), "{left}");
}

#[tokio::test]
async fn transient_errors_are_retried_until_the_store_takes_the_batch() {
    let sink = Arc::new(Sink::default());
    sink.transient.store(3, Ordering::SeqCst);
    let (tx, rx) = watch::channel(false);
    let (writer, handle) = spawn(sink.clone(), settings(30_000), rx);
    writer.send_all(vec![ev("a"), ev("b")]).unwrap();
    let left = stop(tx, handle).await;
    assert!(left.is_empty(), "{left}");
    assert_eq!(actions(&sink), ["a", "b"]);
    assert!(sink.calls.load(Ordering::SeqCst) >= 4);
}

#[tokio::test]
async fn the_shutdown_drain_ends_at_its_deadline_and_counts_what_is_left() {
    let sink = Arc::new(Sink::default());
    sink.transient.store(usize::MAX, Ordering::SeqCst);
    let (tx, rx) = watch::channel(false);
    let (writer, handle) = spawn(sink.clone(), settings(300), rx);
    writer.offered("com.example.app", 1, "1.0.1", 20_000);
    writer
        .send_all(vec![
            ev("a"),
            ev("b"),
            Write::Failed {
                app_id: "com.example.app".into(),
                device_id: "d".into(),
                version: "1.0.1".into(),
                at: 1,
            },
        ])
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let left = stop(tx, handle).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(left.to_string(), "event=2 offer_count=1 rollback_block=1");
    assert!(actions(&sink).is_empty());
}

/// Update checks are counted in memory and reach the store as one write per
/// app and hour, holding their sum; none is queued one by one.
#[tokio::test]
async fn update_checks_reach_the_store_summed_per_app_and_hour() {
    let sink = Arc::new(Sink::default());
    let (tx, rx) = watch::channel(false);
    let (writer, handle) = spawn(sink.clone(), settings(1000), rx);
    for _ in 0..5 {
        writer.checked("com.example.app", 10);
    }
    writer.checked("com.example.app", 11);
    writer.checked("com.example.other", 10);
    assert_eq!(writer.queued(), 0, "nothing queued");
    let left = stop(tx, handle).await;
    assert!(left.is_empty(), "{left}");
    let mut got: Vec<(String, i64, i64)> = sink
        .written
        .lock()
        .unwrap()
        .iter()
        .filter_map(|w| match w {
            Write::Checked {
                app_id,
                hour,
                count,
            } => Some((app_id.clone(), *hour, *count)),
            _ => None,
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("com.example.app".into(), 10, 5),
            ("com.example.app".into(), 11, 1),
            ("com.example.other".into(), 10, 1),
        ]
    );
}

/// A database that refuses every write (a wrong grant, a missing table) is an
/// outage, not a batch of bad records: past a few drops the rest is kept and
/// retried, and at shutdown it is counted as unwritten, not silently dropped.
#[tokio::test]
async fn a_database_refusing_everything_does_not_drop_the_whole_queue() {
    let sink = Arc::new(Sink::default());
    let (tx, rx) = watch::channel(false);
    let (writer, handle) = spawn(sink.clone(), settings(300), rx);
    let batch: Vec<Write> = (0..500).map(|_| ev("poison")).collect();
    writer.send_all(batch).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let left = stop(tx, handle).await;
    let kept = left.to_string();
    assert!(
        !left.is_empty(),
        "the writes past the drop limit are reported unwritten: {kept}"
    );
    assert!(actions(&sink).is_empty());
}

/// Events with large metadata fill the byte budget long before the count:
/// the queue then refuses more (the caller answers 429) until the batch
/// holding the bytes is written. An empty queue takes a write of any size.
#[tokio::test]
async fn the_queue_refuses_writes_past_its_byte_budget_until_they_are_written() {
    let big = |action: &str| {
        let mut w = ev(action);
        if let Write::Event(e) = &mut w {
            e.metadata = Some("x".repeat(300_000));
        }
        w
    };
    let sink = Arc::new(Sink::default());
    sink.stalled.store(true, Ordering::SeqCst);
    let (tx, rx) = watch::channel(false);
    let (writer, handle) = spawn(sink.clone(), settings(30_000), rx);
    writer.send_all(vec![big("a"), big("b"), big("c")]).unwrap();
    assert!(
        writer.send_all(vec![big("d")]).is_err(),
        "a fourth 300 kB event passes the 1 MiB budget"
    );
    assert!(
        !writer.has_room(1, 300_000),
        "the hint agrees: another 300 kB does not fit"
    );
    assert!(
        writer.has_room(1, 1000),
        "below the budget a small write still fits"
    );
    writer.send_all(vec![ev("small")]).unwrap();
    // The database catches up: the bytes are given back once written.
    sink.stalled.store(false, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(10), writer.flushed())
        .await
        .expect("the writer flushes");
    let huge = {
        let mut w = ev("huge");
        if let Write::Event(e) = &mut w {
            e.metadata = Some("x".repeat(2 << 20));
        }
        w
    };
    writer.send_all(vec![huge]).unwrap();
    let left = stop(tx, handle).await;
    assert!(left.is_empty(), "{left}");
    assert_eq!(actions(&sink), ["a", "b", "c", "small", "huge"]);
}
