//! Conformance cases for webhooks: the change log queues each event for the
//! subscriptions that want it, in the change's transaction; only the head
//! of a webhook's queue is claimed, once; attempts move it on, back off or
//! turn the webhook off; rotation keeps the old secret for its grace.

use updraft_protocol::api::*;
use updraft_store::*;

use crate::{app, new_bundle, APP};

fn hook(url: &str, events: &[&str]) -> NewWebhook {
    NewWebhook {
        url: url.into(),
        events: events.iter().map(|e| (*e).to_string()).collect(),
        description: None,
    }
}

/// The change log queues events per subscription; claims take each
/// webhook's head once; attempts record, back off, move on and disable.
pub async fn webhook_queues_follow_the_change_log(s: &dyn Store) {
    app(s).await;
    let at = Stamp::system(1_000);
    let all = s
        .create_webhook(APP, &hook("https://a.example.com", &[]), "whsec_a", 2, &at)
        .await
        .unwrap();
    let revoked_only = s
        .create_webhook(
            APP,
            &hook("https://b.example.com", &["bundle.revoked"]),
            "whsec_b",
            2,
            &at,
        )
        .await
        .unwrap();
    assert!(
        matches!(
            s.create_webhook(APP, &hook("https://c.example.com", &[]), "whsec_c", 2, &at)
                .await,
            Err(StoreError::Conflict(_))
        ),
        "at most `max` per app"
    );
    assert!(all.enabled && all.events.is_empty());
    assert_eq!(revoked_only.events, ["bundle.revoked"]);
    for v in ["1.0.0", "1.0.1", "1.0.2"] {
        s.create_bundle(&new_bundle(v), &at).await.unwrap();
    }
    let queued = s.list_deliveries(APP, all.id, 100).await.unwrap();
    assert_eq!(queued.len(), 3, "one per change: {queued:?}");
    assert!(queued
        .iter()
        .all(|d| d.kind == "bundle.created" && d.state == DeliveryState::Pending));
    assert_eq!(queued[2].body["data"]["version"], "1.0.0", "newest first");
    assert_eq!(queued[2].body["type"], "bundle.created");
    assert!(s
        .list_deliveries(APP, revoked_only.id, 100)
        .await
        .unwrap()
        .is_empty());

    // Only the head, and only once while held.
    let claimed = s.claim_deliveries(1_000, 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let head = &claimed[0];
    assert_eq!(head.delivery.id, queued[2].id);
    assert_eq!(
        (head.url.as_str(), head.secrets.as_slice()),
        ("https://a.example.com", &["whsec_a".to_string()][..])
    );
    assert!(s
        .claim_deliveries(1_000, 60_000, 10)
        .await
        .unwrap()
        .is_empty());

    // A failure backs off; the head stays the head.
    let failed = Attempt::Failed {
        status: Some(500),
        error: "HTTP 500".into(),
        retry_at: Some(6_000),
    };
    assert!(
        !s.finish_delivery(head.delivery.id, head.lease + 1, &failed, 1_000, 30)
            .await
            .unwrap(),
        "only the claim's holder records it"
    );
    assert!(s
        .finish_delivery(head.delivery.id, head.lease, &failed, 1_000, 30)
        .await
        .unwrap());
    assert!(
        s.claim_deliveries(5_999, 60_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "not before its time"
    );
    let again = s.claim_deliveries(6_000, 60_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].delivery.id, again[0].delivery.attempts),
        (head.delivery.id, 2),
        "attempts count at the claim"
    );
    s.finish_delivery(
        head.delivery.id,
        again[0].lease,
        &Attempt::Delivered { status: 204 },
        6_000,
        30,
    )
    .await
    .unwrap();
    let next = s.claim_deliveries(6_000, 60_000, 10).await.unwrap();
    assert_eq!(next[0].delivery.id, queued[1].id, "then the next, in order");
    let log = s.list_deliveries(APP, all.id, 100).await.unwrap();
    let done = log.iter().find(|d| d.id == head.delivery.id).unwrap();
    assert_eq!(
        (
            done.state,
            done.attempts,
            done.last_status,
            done.delivered_at
        ),
        (DeliveryState::Delivered, 2, Some(204), Some(6_000))
    );

    // A streak turns it off; a disabled webhook is neither claimed nor queued for.
    let failed = Attempt::Failed {
        status: None,
        error: "no answer".into(),
        retry_at: Some(6_000),
    };
    s.finish_delivery(next[0].delivery.id, next[0].lease, &failed, 6_000, 2)
        .await
        .unwrap();
    let w = s.get_webhook(APP, all.id).await.unwrap().unwrap();
    assert!(w.enabled, "one failure after a success is a streak of one");
    let retry = s.claim_deliveries(6_000, 60_000, 10).await.unwrap();
    s.finish_delivery(retry[0].delivery.id, retry[0].lease, &failed, 6_000, 2)
        .await
        .unwrap();
    let w = s.get_webhook(APP, all.id).await.unwrap().unwrap();
    assert!(!w.enabled);
    assert_eq!(
        w.disabled_reason.as_deref(),
        Some("2 failed attempts in a row")
    );
    assert!(s
        .claim_deliveries(10_000, 60_000, 10)
        .await
        .unwrap()
        .is_empty());
    s.create_bundle(&new_bundle("1.0.3"), &at).await.unwrap();
    assert_eq!(
        s.list_deliveries(APP, all.id, 100).await.unwrap().len(),
        3,
        "none queued while off"
    );

    // On again: the streak clears and the queue goes on.
    let on = WebhookPatch {
        enabled: Some(true),
        ..Default::default()
    };
    let w = s.update_webhook(APP, all.id, &on, &at).await.unwrap();
    assert!(w.enabled && w.disabled_reason.is_none() && w.failure_streak == 0);
    let resumed = s.claim_deliveries(1_000, 60_000, 10).await.unwrap();
    assert_eq!(
        (resumed[0].delivery.id, resumed[0].delivery.attempts),
        (queued[1].id, 1),
        "due at once, attempts counted afresh"
    );
    s.finish_delivery(
        resumed[0].delivery.id,
        resumed[0].lease,
        &Attempt::Gone,
        10_000,
        30,
    )
    .await
    .unwrap();
    let w = s.get_webhook(APP, all.id).await.unwrap().unwrap();
    assert!(!w.enabled && w.disabled_reason.unwrap().contains("410"));

    // Rotation keeps the old secret for its grace.
    let r = s
        .rotate_webhook_secret(
            APP,
            revoked_only.id,
            "whsec_c",
            20_000,
            &Stamp::system(10_000),
        )
        .await
        .unwrap();
    assert_eq!(r.previous_secret_until, Some(20_000));
    assert_eq!(
        s.webhook_secrets(APP, revoked_only.id, 19_999)
            .await
            .unwrap(),
        ["whsec_c", "whsec_b"]
    );
    assert_eq!(
        s.webhook_secrets(APP, revoked_only.id, 20_000)
            .await
            .unwrap(),
        ["whsec_c"]
    );

    // Old finished deliveries are pruned, pending ones never.
    assert_eq!(s.prune_deliveries(1_000_000, 100).await.unwrap(), 2);
    let left = s.list_deliveries(APP, all.id, 100).await.unwrap();
    assert!(
        left.iter().all(|d| d.state == DeliveryState::Pending),
        "{left:?}"
    );

    // Other apps see nothing; deleting the webhook takes its queue.
    assert!(s
        .get_webhook("com.example.other", all.id)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        s.update_webhook("com.example.other", all.id, &on, &at)
            .await,
        Err(StoreError::NotFound(_))
    ));
    s.delete_webhook(APP, all.id, &at).await.unwrap();
    assert!(s
        .list_deliveries(APP, all.id, 100)
        .await
        .unwrap()
        .is_empty());
    s.delete_app(APP, &at).await.unwrap();
    assert!(s.list_webhooks(APP).await.unwrap().is_empty());
}
