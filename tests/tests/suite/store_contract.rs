//! One contract, two backends: the same test bodies run against the in-memory
//! store and the DynamoDB store on moto (table from template.yaml).

use std::sync::Arc;

use payments::domain::{
    Currency, EventId, Fingerprint, IdempotencyKey, Money, OrderId, Payment, PaymentId,
    PaymentStatus, ProviderOrderId, ProviderPaymentId, ProviderRef, ProviderRefundId, Refund,
    RefundFailure, RefundId, RefundSource, RefundStatus, Timestamp,
};
use payments::ports::{
    IdempotencyRecord, IdempotentOutcome, KeyClaim, OrderLockState, OutboxEvent, PaymentStore,
    RefundKey, RefundSettlement, StoreError,
};

use payments_tests::fixtures::{at, due_payments, payment, transition};
use payments_tests::on_both_backends;

fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(_)))
}

async fn creates_and_reads_back(store: Arc<dyn PaymentStore>) {
    let p = payment("ord-1", 0);
    store.insert_pending(&p, None).await.unwrap();
    assert_eq!(store.get(p.id()).await.unwrap(), Some(p.clone()));
    let lock = store.order_lock(p.order_id()).await.unwrap().unwrap();
    assert_eq!(lock.live_payment_id, *p.id());
    assert_eq!(lock.state, OrderLockState::Open);
    assert_eq!(lock.version, 1);
    let unknown = PaymentId::from_ulid(ulid::Ulid::new());
    assert_eq!(store.get(&unknown).await.unwrap(), None);
    assert_eq!(
        store
            .order_lock(&OrderId::parse("nobody").unwrap())
            .await
            .unwrap(),
        None
    );

    // Provider data round-trips too.
    let ready = p.with_provider(
        ProviderRef {
            order_id: ProviderOrderId::parse("ORD01").unwrap(),
            payment_id: Some(ProviderPaymentId::parse("PAY01").unwrap()),
        },
        "qr-data".into(),
        at(10),
    );
    store
        .record_provider_order(&ready, p.version())
        .await
        .unwrap();
    assert_eq!(store.get(p.id()).await.unwrap(), Some(ready));
}

async fn a_held_or_moved_lock_refuses_a_second_payment_atomically(store: Arc<dyn PaymentStore>) {
    let first = payment("ord-2", 0);
    store.insert_pending(&first, None).await.unwrap();
    assert!(
        is_conflict(store.insert_pending(&first, None).await),
        "same payment twice"
    );

    let second = payment("ord-2", 5);
    assert!(
        is_conflict(store.insert_pending(&second, None).await),
        "lock exists"
    );
    assert!(
        is_conflict(store.insert_pending(&second, Some(7)).await),
        "stale lock version"
    );
    // The failed transaction wrote nothing: no second payment, lock unchanged.
    assert_eq!(store.get(second.id()).await.unwrap(), None);
    let lock = store.order_lock(first.order_id()).await.unwrap().unwrap();
    assert_eq!(
        (lock.live_payment_id, lock.version),
        (first.id().clone(), 1)
    );
}

async fn updates_are_guarded_by_version(store: Arc<dyn PaymentStore>) {
    let p = payment("ord-3", 0);
    store.insert_pending(&p, None).await.unwrap();
    let ready = p.with_provider(
        ProviderRef {
            order_id: ProviderOrderId::parse("ORD01").unwrap(),
            payment_id: None,
        },
        "qr".into(),
        at(1),
    );
    assert!(is_conflict(
        store.record_provider_order(&ready, p.version() + 1).await
    ));
    assert_eq!(store.get(p.id()).await.unwrap(), Some(p.clone()));
    store
        .record_provider_order(&ready, p.version())
        .await
        .unwrap();
    assert!(
        is_conflict(store.record_provider_order(&ready, p.version()).await),
        "version moved on"
    );
}

async fn a_transition_commits_payment_event_and_lock_together(store: Arc<dyn PaymentStore>) {
    let p = payment("ord-4", 0);
    store.insert_pending(&p, None).await.unwrap();
    let (approved, event) = transition(&p, PaymentStatus::Approved, 100);
    store
        .commit_transition(&approved, p.version(), &event)
        .await
        .unwrap();
    assert_eq!(store.get(p.id()).await.unwrap(), Some(approved.clone()));
    let lock = store.order_lock(p.order_id()).await.unwrap().unwrap();
    assert_eq!((lock.state, lock.version), (OrderLockState::Paid, 2));
    assert_eq!(store.pending_events(10).await.unwrap(), vec![event.clone()]);

    // A racing delivery that read the old version loses entirely.
    let (declined, other_event) = transition(&p, PaymentStatus::Declined, 101);
    assert!(is_conflict(
        store
            .commit_transition(&declined, p.version(), &other_event)
            .await
    ));
    assert_eq!(store.get(p.id()).await.unwrap(), Some(approved));
    assert_eq!(store.pending_events(10).await.unwrap(), vec![event]);
    let lock = store.order_lock(p.order_id()).await.unwrap().unwrap();
    assert_eq!((lock.state, lock.version), (OrderLockState::Paid, 2));
}

async fn a_transition_needs_the_order_lock(store: Arc<dyn PaymentStore>) {
    let first = payment("ord-5", 0);
    store.insert_pending(&first, None).await.unwrap();
    let (expired, event) = transition(&first, PaymentStatus::Expired, 10);
    store
        .commit_transition(&expired, first.version(), &event)
        .await
        .unwrap();
    let lock = store.order_lock(first.order_id()).await.unwrap().unwrap();
    assert_eq!(lock.state, OrderLockState::Closed);

    let second = payment("ord-5", 20);
    store
        .insert_pending(&second, Some(lock.version))
        .await
        .unwrap();
    // A forged transition of the old payment cannot move the new payment's lock.
    let stale = Payment::restore(payments::domain::PaymentParts {
        status: PaymentStatus::Pending,
        ..expired.parts().clone()
    });
    let (approved_old, bad_event) = transition(&stale, PaymentStatus::Approved, 30);
    assert!(is_conflict(
        store
            .commit_transition(&approved_old, expired.version(), &bad_event)
            .await
    ));
    assert_eq!(store.get(first.id()).await.unwrap(), Some(expired));
    assert_eq!(store.pending_events(10).await.unwrap(), vec![event]);
}

async fn lists_an_orders_payments_newest_first(store: Arc<dyn PaymentStore>) {
    let mut expected = Vec::new();
    let mut lock_version = None;
    for (i, created) in [0_i64, 1_000, 2_000].into_iter().enumerate() {
        let p = payment("ord-6", created);
        store.insert_pending(&p, lock_version).await.unwrap();
        let (declined, event) = transition(&p, PaymentStatus::Declined, created + 500 + i as i64);
        store
            .commit_transition(&declined, p.version(), &event)
            .await
            .unwrap();
        lock_version = store
            .order_lock(p.order_id())
            .await
            .unwrap()
            .map(|l| l.version);
        expected.push(declined);
    }
    store
        .insert_pending(&payment("ord-other", 5), None)
        .await
        .unwrap();
    expected.reverse();
    assert_eq!(
        store
            .list_by_order(&OrderId::parse("ord-6").unwrap())
            .await
            .unwrap(),
        expected
    );
    assert!(store
        .list_by_order(&OrderId::parse("ord-none").unwrap())
        .await
        .unwrap()
        .is_empty());
}

/// 53 payments of one order (the last two made in the same millisecond)
/// come back in pages, newest first, each exactly once; a page that holds
/// the last payment has no next cursor.
async fn an_orders_payments_come_in_pages_each_exactly_once(store: Arc<dyn PaymentStore>) {
    let order = OrderId::parse("ord-pages").unwrap();
    let mut lock_version = None;
    let mut made = Vec::new();
    for i in 0..53_i64 {
        let created = 10 * i.min(51);
        let p = payment(order.as_str(), created);
        store.insert_pending(&p, lock_version).await.unwrap();
        let (declined, event) = transition(&p, PaymentStatus::Declined, created + 5);
        store
            .commit_transition(&declined, p.version(), &event)
            .await
            .unwrap();
        lock_version = store.order_lock(&order).await.unwrap().map(|l| l.version);
        made.push(declined);
    }
    made.sort_by_key(|p| std::cmp::Reverse((p.created_at(), p.id().clone())));

    let mut listed = Vec::new();
    let mut sizes = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .page_by_order(&order, after.as_ref(), 25)
            .await
            .unwrap();
        sizes.push(page.payments.len());
        listed.extend(page.payments);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, [25, 25, 3]);
    let ids =
        |ps: &[payments::domain::Payment]| ps.iter().map(|p| p.id().clone()).collect::<Vec<_>>();
    assert_eq!(ids(&listed), ids(&made), "newest first, each once");

    let whole = store.page_by_order(&order, None, 53).await.unwrap();
    assert_eq!((whole.payments.len(), whole.next), (53, None));
    let short = store.page_by_order(&order, None, 52).await.unwrap();
    assert!(short.next.is_some());
}

/// A processed delivery's mark holds until its time, and a second mark
/// while it holds changes nothing.
async fn a_processed_delivery_is_remembered_until_its_time(store: Arc<dyn PaymentStore>) {
    let delivery = payments::ports::DeliveryKey::of("req-1", "ts=1,v1=ab");
    let other = payments::ports::DeliveryKey::of("req-1", "ts=1,v1=ac");
    assert!(!store.delivery_processed(&delivery, at(0)).await.unwrap());
    store
        .mark_delivery_processed(&delivery, at(0), at(600_000))
        .await
        .unwrap();
    assert!(store
        .delivery_processed(&delivery, at(1_000))
        .await
        .unwrap());
    assert!(!store.delivery_processed(&other, at(1_000)).await.unwrap());
    // Marked again while held: the first mark stays.
    store
        .mark_delivery_processed(&delivery, at(1_000), at(9_000_000))
        .await
        .unwrap();
    assert!(!store
        .delivery_processed(&delivery, at(600_000))
        .await
        .unwrap());
    // Past its time (TTL deletion lags) it is as if never marked, and can be marked anew.
    store
        .mark_delivery_processed(&delivery, at(600_000), at(1_200_000))
        .await
        .unwrap();
    assert!(store
        .delivery_processed(&delivery, at(601_000))
        .await
        .unwrap());
}

/// A payment's events are read back from its own items, none of another's.
async fn a_payments_events_are_read_back_from_its_items(store: Arc<dyn PaymentStore>) {
    let p = payment("ord-events", 0);
    store.insert_pending(&p, None).await.unwrap();
    let (approved, event) = transition(&p, PaymentStatus::Approved, 1);
    store
        .commit_transition(&approved, p.version(), &event)
        .await
        .unwrap();
    let other = payment("ord-events-other", 0);
    store.insert_pending(&other, None).await.unwrap();
    let (declined, other_event) = transition(&other, PaymentStatus::Declined, 1);
    store
        .commit_transition(&declined, other.version(), &other_event)
        .await
        .unwrap();
    let events = store.events_of(p.id()).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_id, event.event_id);
    assert_eq!(events[0].body, event.body);
    assert_eq!(events[0].sequence, 1);
}

/// The feed: 30 events made over three days come back oldest first, each
/// exactly once however they are paged, filtered by type on request; one
/// event is found by its id alone.
async fn the_feed_pages_every_event_once_and_finds_one_by_id(store: Arc<dyn PaymentStore>) {
    use payments::domain::{EventId, EventType};
    use payments::ports::FeedQuery;
    let base = payments_tests::fixtures::T0 as u64;
    let mut made = Vec::new();
    for i in 0..30_u64 {
        let p = payment(&format!("ord-feed-{i}"), 0);
        store.insert_pending(&p, None).await.unwrap();
        let to = if i % 2 == 0 {
            PaymentStatus::Approved
        } else {
            PaymentStatus::Declined
        };
        let (next, mut event) = transition(&p, to, 1);
        // Made every two hours: three days' partitions.
        event.event_id = EventId::from_ulid(ulid::Ulid::from_parts(
            base + i * 7_200_000,
            u128::from(i) + 1,
        ));
        store
            .commit_transition(&next, p.version(), &event)
            .await
            .unwrap();
        made.push((event.event_id.clone(), event.event_type));
    }
    let until = at(4 * 24 * 3600 * 1000);
    let page_through = |event_type: Option<EventType>, limit: usize| {
        let store = store.clone();
        async move {
            let mut seen = Vec::new();
            let mut after = EventId::first_at(base - 1);
            loop {
                let page = store
                    .events_after(&FeedQuery {
                        after: after.clone(),
                        until,
                        event_type,
                        limit,
                    })
                    .await
                    .unwrap();
                assert!(page.events.len() <= limit);
                seen.extend(page.events.iter().map(|e| e.event_id.clone()));
                match page.next {
                    Some(next) => after = next,
                    None => return seen,
                }
            }
        }
    };
    let all: Vec<EventId> = made.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(page_through(None, 7).await, all, "oldest first, each once");
    assert_eq!(page_through(None, 30).await, all);
    let approved: Vec<EventId> = made
        .iter()
        .filter(|(_, t)| *t == EventType::Approved)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(page_through(Some(EventType::Approved), 4).await, approved);

    for (id, event_type) in [&made[0], &made[17], &made[29]] {
        let found = store.event(id).await.unwrap().expect("found by id");
        assert_eq!((&found.event_id, found.event_type), (id, *event_type));
    }
    let unknown = EventId::from_ulid(ulid::Ulid::from_parts(base, 999_999));
    assert!(store.event(&unknown).await.unwrap().is_none());
}

async fn an_event_is_claimed_by_one_publisher_at_a_time(store: Arc<dyn PaymentStore>) {
    let p = payment("ord-claim", 0);
    store.insert_pending(&p, None).await.unwrap();
    let (approved, event) = transition(&p, PaymentStatus::Approved, 1);
    store
        .commit_transition(&approved, p.version(), &event)
        .await
        .unwrap();
    let minute = std::time::Duration::from_secs(60);
    let (t0, t1) = (at(0), at(0).plus(minute));
    assert!(store.claim_publish(&event, t0, t1).await.unwrap(), "first");
    assert!(!store.claim_publish(&event, t0, t1).await.unwrap(), "held");
    // Its claim ran out: another takes it over.
    let t2 = t1.plus(minute);
    assert!(
        store.claim_publish(&event, t1, t2).await.unwrap(),
        "taken over"
    );
    // The first publisher lets go of its own claim, not the new one's.
    store.release_publish(&event, t1).await.unwrap();
    assert!(
        !store.claim_publish(&event, t1, t2).await.unwrap(),
        "still held"
    );
    store.release_publish(&event, t2).await.unwrap();
    assert!(store.claim_publish(&event, t1, t2).await.unwrap(), "let go");
    // Once published, nobody claims it.
    store.mark_published(&event).await.unwrap();
    let later = t2.plus(minute);
    assert!(!store
        .claim_publish(&event, later, later.plus(minute))
        .await
        .unwrap());
}

async fn the_outbox_yields_oldest_first_until_published(store: Arc<dyn PaymentStore>) {
    let mut events = Vec::new();
    for (order, when) in [("ord-7a", 300), ("ord-7b", 100), ("ord-7c", 200)] {
        let p = payment(order, 0);
        store.insert_pending(&p, None).await.unwrap();
        let (approved, event) = transition(&p, PaymentStatus::Approved, when);
        store
            .commit_transition(&approved, p.version(), &event)
            .await
            .unwrap();
        events.push(event);
    }
    events.sort_by_key(|e| e.created_at);
    assert_eq!(store.pending_events(10).await.unwrap(), events);
    assert_eq!(store.pending_events(2).await.unwrap(), events[..2].to_vec());

    store.mark_published(&events[0]).await.unwrap();
    store.mark_published(&events[0]).await.unwrap();
    assert_eq!(
        store.pending_events(10).await.unwrap(),
        events[1..].to_vec()
    );

    // Clearing an event that does not exist creates nothing.
    let (_, ghost) = transition(&payment("ord-7d", 0), PaymentStatus::Approved, 50);
    store.mark_published(&ghost).await.unwrap();
    assert_eq!(
        store.pending_events(10).await.unwrap(),
        events[1..].to_vec()
    );
    assert_eq!(store.get(&ghost.payment_id).await.unwrap(), None);
}

async fn due_lists_what_the_sweeper_must_look_at_earliest_first(store: Arc<dyn PaymentStore>) {
    let early = payment("ord-8a", 0); // expires at +900s
    let late = payment("ord-8b", 600_000); // expires at +1500s
    let done = payment("ord-8c", -100_000);
    for p in [&early, &late, &done] {
        store.insert_pending(p, None).await.unwrap();
    }
    // Approved at +1ms with a Mercado Pago order: watched from then on.
    let (approved, event) = transition(&done, PaymentStatus::Approved, 1);
    store
        .commit_transition(&approved, done.version(), &event)
        .await
        .unwrap();

    let now = at(1_000_000);
    assert_eq!(
        due_payments(&*store, now, 10).await,
        vec![approved.clone(), early.clone()]
    );
    let later = at(2_000_000);
    assert_eq!(
        due_payments(&*store, later, 10).await,
        vec![approved.clone(), early.clone(), late.clone()]
    );
    assert_eq!(
        due_payments(&*store, later, 1).await,
        vec![approved.clone()]
    );
    assert!(store.due_payments(at(0), 10).await.unwrap().is_empty());

    // Once its watch is over, it leaves the index.
    let mut watched = approved;
    while let Some(due) = watched.due_at() {
        let next = watched.after_sweep(due, std::time::Duration::from_secs(60));
        store.reschedule(&next, watched.version()).await.unwrap();
        watched = next;
    }
    assert_eq!(
        due_payments(&*store, at(1_000_000_000), 10).await,
        vec![early, late]
    );
}

fn claim(
    key: &IdempotencyKey,
    fingerprint: &Fingerprint,
    now: Timestamp,
    expires_at: Timestamp,
) -> KeyClaim {
    KeyClaim {
        key: key.clone(),
        fingerprint: fingerprint.clone(),
        now,
        expires_at,
    }
}

async fn idempotency_keys_are_claimed_once_then_remembered(store: Arc<dyn PaymentStore>) {
    let key = IdempotencyKey::parse("kiosk-1:attempt-1").unwrap();
    let fingerprint = Fingerprint::of_canonical(b"request");
    let (now, until) = (at(0), at(86_400_000));
    assert_eq!(
        store
            .claim_idempotency_key(&claim(&key, &fingerprint, now, until))
            .await
            .unwrap(),
        None
    );
    let held = store
        .claim_idempotency_key(&claim(
            &key,
            &Fingerprint::of_canonical(b"other"),
            now,
            until,
        ))
        .await
        .unwrap();
    assert_eq!(
        held,
        Some(IdempotencyRecord {
            fingerprint: fingerprint.clone(),
            outcome: None
        })
    );

    let outcome = IdempotentOutcome {
        payment_id: PaymentId::from_ulid(ulid::Ulid::new()),
        newly_created: true,
    };
    store
        .complete_idempotency_key(&key, &outcome)
        .await
        .unwrap();
    let held = store
        .claim_idempotency_key(&claim(&key, &fingerprint, at(1), until))
        .await
        .unwrap();
    assert_eq!(
        held,
        Some(IdempotencyRecord {
            fingerprint,
            outcome: Some(outcome)
        })
    );

    // Past its lifetime the key is free again, for any request.
    let fresh = Fingerprint::of_canonical(b"tomorrow");
    assert_eq!(
        store
            .claim_idempotency_key(&claim(&key, &fresh, at(86_400_001), at(172_800_000)))
            .await
            .unwrap(),
        None
    );
    let unknown = IdempotencyKey::parse("never-claimed").unwrap();
    let orphan = IdempotentOutcome {
        payment_id: PaymentId::from_ulid(ulid::Ulid::new()),
        newly_created: false,
    };
    assert!(store
        .complete_idempotency_key(&unknown, &orphan)
        .await
        .is_err());
}

async fn a_new_payment_records_its_idempotency_key_in_the_same_transaction(
    store: Arc<dyn PaymentStore>,
) {
    let key = IdempotencyKey::parse("kiosk-2:create").unwrap();
    let fingerprint = Fingerprint::of_canonical(b"create");
    let until = at(86_400_000);
    assert_eq!(
        store
            .claim_idempotency_key(&claim(&key, &fingerprint, at(0), until))
            .await
            .unwrap(),
        None
    );
    let p = payment("ord-keyed", 0);
    store.create_pending(&p, None, Some(&key)).await.unwrap();
    let held = store
        .claim_idempotency_key(&claim(&key, &fingerprint, at(1), until))
        .await
        .unwrap();
    assert_eq!(
        held,
        Some(IdempotencyRecord {
            fingerprint,
            outcome: Some(IdempotentOutcome {
                payment_id: p.id().clone(),
                newly_created: true,
            }),
        })
    );

    // A key nobody claimed: nothing is written at all.
    let unclaimed = IdempotencyKey::parse("never-claimed").unwrap();
    let other = payment("ord-keyless", 0);
    assert!(is_conflict(
        store.create_pending(&other, None, Some(&unclaimed)).await
    ));
    assert_eq!(store.get(other.id()).await.unwrap(), None);
    assert_eq!(store.order_lock(other.order_id()).await.unwrap(), None);
}

async fn approved(store: &Arc<dyn PaymentStore>, order: &str) -> Payment {
    let pending = payment(order, 0);
    store.insert_pending(&pending, None).await.unwrap();
    let (approved, event) = transition(&pending, PaymentStatus::Approved, 1_000);
    store
        .commit_transition(&approved, pending.version(), &event)
        .await
        .unwrap();
    approved
}

fn refund_of(payment: &Payment, amount: i64) -> Refund {
    Refund::pending(
        RefundId::from_ulid(ulid::Ulid::new()),
        payment.id().clone(),
        Money::new(amount, Currency::Brl).unwrap(),
        None,
        RefundSource::Api,
        at(2_000),
    )
}

fn refund_key(name: &str) -> RefundKey {
    RefundKey {
        key: IdempotencyKey::parse(name).unwrap(),
        fingerprint: Fingerprint::of_canonical(name.as_bytes()),
    }
}

/// Reserves `refund` on `payment` and settles it as succeeded.
async fn refund_fully_through(
    store: &Arc<dyn PaymentStore>,
    payment: &Payment,
    refund: &Refund,
    move_lock: bool,
) -> (Payment, Refund, OutboxEvent) {
    let reserved = payment
        .reserve_refund(refund.amount, RefundSource::Api, at(2_000))
        .unwrap();
    let key = refund_key(refund.refund_id.as_str());
    store
        .reserve_refund(&reserved, payment.version(), refund, &key)
        .await
        .unwrap();
    let done = refund.succeeded(Some(ProviderRefundId::parse("REF01").unwrap()), at(3_000));
    let (settled, event) = reserved
        .refund_succeeded(&done, EventId::from_ulid(ulid::Ulid::new()), at(3_000))
        .unwrap();
    let outbox = OutboxEvent::from(&event);
    store
        .settle_refund(&RefundSettlement {
            payment: &settled,
            expected_version: reserved.version(),
            refund: &done,
            event: Some(&outbox),
            move_lock,
        })
        .await
        .unwrap();
    (settled, done, outbox)
}

async fn a_refund_is_reserved_with_its_key_then_settled_once(store: Arc<dyn PaymentStore>) {
    let paid = approved(&store, "ord-refund").await;
    let refund = refund_of(&paid, 1295);
    let reserved = paid
        .reserve_refund(refund.amount, RefundSource::Api, at(2_000))
        .unwrap();
    let key = refund_key("kiosk-refund-1");
    store
        .reserve_refund(&reserved, paid.version(), &refund, &key)
        .await
        .unwrap();
    let stored = store.get(paid.id()).await.unwrap().unwrap();
    assert_eq!(stored.refundable(), 2590 - 1295);
    assert_eq!(
        store.refunds_of(paid.id()).await.unwrap(),
        vec![refund.clone()]
    );
    assert_eq!(
        store.refund_by_key(paid.id(), &key.key).await.unwrap(),
        Some((refund.clone(), key.fingerprint.clone()))
    );
    // The key's first answer is kept once; later ones get it back.
    for answered in [RefundStatus::Pending, RefundStatus::Succeeded] {
        assert_eq!(
            store
                .keep_first_answer(paid.id(), &key.key, answered)
                .await
                .unwrap(),
            RefundStatus::Pending
        );
    }
    // Only a reserved key has an answer: nothing is made up for another.
    assert!(is_conflict(
        store
            .keep_first_answer(
                paid.id(),
                &refund_key("never-reserved").key,
                RefundStatus::Failed
            )
            .await
    ));
    assert_eq!(
        store
            .refund_by_key(paid.id(), &refund_key("never-reserved").key)
            .await
            .unwrap(),
        None
    );

    // The same key again loses, whatever it asks; so does a stale payment.
    let other = refund_of(&paid, 100);
    let again = reserved
        .reserve_refund(other.amount, RefundSource::Api, at(2_001))
        .unwrap();
    assert!(is_conflict(
        store
            .reserve_refund(&again, reserved.version(), &other, &key)
            .await
    ));
    let stale = paid
        .reserve_refund(other.amount, RefundSource::Api, at(2_001))
        .unwrap();
    assert!(is_conflict(
        store
            .reserve_refund(&stale, paid.version(), &other, &refund_key("k2"))
            .await
    ));
    assert_eq!(store.refunds_of(paid.id()).await.unwrap().len(), 1);
    assert_eq!(
        store
            .refund_by_key(paid.id(), &refund_key("k2").key)
            .await
            .unwrap(),
        None
    );

    let done = refund.succeeded(Some(ProviderRefundId::parse("REF01").unwrap()), at(3_000));
    let (settled, event) = reserved
        .refund_succeeded(&done, EventId::from_ulid(ulid::Ulid::new()), at(3_000))
        .unwrap();
    let outbox = OutboxEvent::from(&event);
    let settlement = RefundSettlement {
        payment: &settled,
        expected_version: reserved.version(),
        refund: &done,
        event: Some(&outbox),
        move_lock: false,
    };
    store.settle_refund(&settlement).await.unwrap();
    assert_eq!(
        store.refunds_of(paid.id()).await.unwrap(),
        vec![done.clone()]
    );
    let stored = store.get(paid.id()).await.unwrap().unwrap();
    assert_eq!(stored.amount_refunded(), 1295);
    assert_eq!(stored.status(), PaymentStatus::Approved, "partly refunded");
    assert!(store
        .pending_events(10)
        .await
        .unwrap()
        .iter()
        .any(|e| e.event_id == outbox.event_id && e.body.contains("\"refund_id\"")));
    // Settling again loses: the refund is no longer pending.
    assert!(is_conflict(store.settle_refund(&settlement).await));
}

async fn the_last_refund_makes_the_payment_refunded_and_frees_the_order(
    store: Arc<dyn PaymentStore>,
) {
    let paid = approved(&store, "ord-full-refund").await;
    let refund = refund_of(&paid, 2590);
    let (settled, _, _) = refund_fully_through(&store, &paid, &refund, true).await;
    let stored = store.get(paid.id()).await.unwrap().unwrap();
    assert_eq!(stored, settled);
    assert_eq!(stored.status(), PaymentStatus::Refunded);
    assert_eq!(stored.amount_refunded(), 2590);
    let lock = store.order_lock(paid.order_id()).await.unwrap().unwrap();
    assert_eq!(lock.state, OrderLockState::Closed);
}

async fn a_refund_mercado_pago_took_keeps_its_id_and_a_failure_keeps_its_kind(
    store: Arc<dyn PaymentStore>,
) {
    let paid = approved(&store, "ord-refund-taken").await;
    let refund = refund_of(&paid, 1000);
    let reserved = paid
        .reserve_refund(refund.amount, RefundSource::Api, at(2_000))
        .unwrap();
    store
        .reserve_refund(&reserved, paid.version(), &refund, &refund_key("taken-1"))
        .await
        .unwrap();
    // Taken at Mercado Pago under the first claim: its id is stored with the
    // claim let go, and it is pending still.
    let taken = refund.accepted(ProviderRefundId::parse("REF01TAKEN").unwrap(), at(2_500));
    store
        .claim_refund_ask(&taken, refund.ask.number)
        .await
        .unwrap();
    let stored = store.refunds_of(paid.id()).await.unwrap();
    assert_eq!(stored, vec![taken.clone()]);
    assert!(stored[0].is_accepted());
    assert_eq!(stored[0].claim_ask(at(2_600)), None, "never asked again");
    // Under a claim that is not the current one, nothing is written.
    let other = refund.accepted(ProviderRefundId::parse("REF01OTHER").unwrap(), at(2_700));
    assert!(is_conflict(
        store.claim_refund_ask(&other, refund.ask.number + 5).await
    ));

    // It fails at Mercado Pago: failed, with its kind, amount released, announced.
    let failed = taken.failed(
        RefundFailure::FailedAtProvider,
        "failed at Mercado Pago",
        at(3_000),
    );
    let (released, event) = reserved.refund_failed_at_provider(
        &failed,
        false,
        EventId::from_ulid(ulid::Ulid::new()),
        at(3_000),
    );
    let outbox = OutboxEvent::from(&event);
    store
        .settle_refund(&RefundSettlement {
            payment: &released,
            expected_version: reserved.version(),
            refund: &failed,
            event: Some(&outbox),
            move_lock: false,
        })
        .await
        .unwrap();
    let stored = store.refunds_of(paid.id()).await.unwrap();
    assert_eq!(stored, vec![failed]);
    assert_eq!(stored[0].failure, Some(RefundFailure::FailedAtProvider));
    let payment = store.get(paid.id()).await.unwrap().unwrap();
    assert_eq!(payment.refundable(), 2590, "refundable again");
    assert!(store
        .pending_events(10)
        .await
        .unwrap()
        .iter()
        .any(|e| e.event_id == outbox.event_id && e.body.contains("payment.refund_failed")));
}

async fn an_order_is_read_once_per_window_for_late_notifications(store: Arc<dyn PaymentStore>) {
    let order = ProviderOrderId::parse(&format!("ORD{}", ulid::Ulid::new())).unwrap();
    let other = ProviderOrderId::parse(&format!("ORD{}", ulid::Ulid::new())).unwrap();
    let minute = std::time::Duration::from_secs(60);
    // Real times: a store may expire items by their TTL.
    let base = payments_tests::now_millis();
    let at = |offset: i64| Timestamp::from_unix_millis(base + offset).unwrap();
    assert!(store
        .take_order_read(&order, at(10_000), at(10_000).plus(minute))
        .await
        .unwrap());
    assert!(
        !store
            .take_order_read(&order, at(40_000), at(40_000).plus(minute))
            .await
            .unwrap(),
        "held for the minute"
    );
    assert!(
        store
            .take_order_read(&other, at(40_000), at(40_000).plus(minute))
            .await
            .unwrap(),
        "another order is its own"
    );
    assert!(
        store
            .take_order_read(&order, at(71_000), at(71_000).plus(minute))
            .await
            .unwrap(),
        "free again after the minute"
    );
}

on_both_backends!(Arc<dyn PaymentStore> =>
    a_refund_mercado_pago_took_keeps_its_id_and_a_failure_keeps_its_kind,
    an_order_is_read_once_per_window_for_late_notifications,
    creates_and_reads_back,
    a_held_or_moved_lock_refuses_a_second_payment_atomically,
    updates_are_guarded_by_version,
    a_transition_commits_payment_event_and_lock_together,
    a_transition_needs_the_order_lock,
    lists_an_orders_payments_newest_first,
    an_orders_payments_come_in_pages_each_exactly_once,
    a_processed_delivery_is_remembered_until_its_time,
    a_payments_events_are_read_back_from_its_items,
    the_feed_pages_every_event_once_and_finds_one_by_id,
    the_outbox_yields_oldest_first_until_published,
    an_event_is_claimed_by_one_publisher_at_a_time,
    due_lists_what_the_sweeper_must_look_at_earliest_first,
    idempotency_keys_are_claimed_once_then_remembered,
    a_new_payment_records_its_idempotency_key_in_the_same_transaction,
    a_refund_is_reserved_with_its_key_then_settled_once,
    the_last_refund_makes_the_payment_refunded_and_frees_the_order,
);
