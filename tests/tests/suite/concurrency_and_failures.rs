//! Never charge twice, never lose an event: concurrency and failure, on the
//! memory backend and on DynamoDB/SNS in moto.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use payments::app::outbox::PUBLISH_LEASE;
use payments::app::{AppError, NotificationOutcome};
use payments::domain::{
    Fingerprint, IdempotencyKey, OrderId, Payment, PaymentId, PaymentStatus, ProviderOrderId,
    Refund, RefundStatus, Timestamp,
};
use payments::ports::{
    DueItem, DuePayments, IdempotencyKeys, IdempotencyRecord, IdempotentOutcome, KeyClaim,
    MadeRefund, OrderLock, OrderReadLimits, Outbox, OutboxEvent, PaymentCreation, PaymentReads,
    PaymentStore, PaymentTransitions, ProviderError, RefundKey, RefundSettlement, Refunds,
    StoreError, UnreadableItem,
};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use payments_tests::backends::{command, notify, provider_for, Backend, CrashingPublisher};
use payments_tests::on_both_backends;

const CONCURRENCY: usize = 20;

async fn concurrent_identical_creates_make_one_payment_and_one_provider_order(h: Backend) {
    let create = Arc::new(h.create());
    let start = Arc::new(Barrier::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (create, start) = (create.clone(), start.clone());
        tasks.spawn(async move {
            start.wait().await;
            create.execute(command("ord-same", 2590), None).await
        });
    }
    let mut answers = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        answers.push(joined.unwrap().expect("every identical create succeeds"));
    }
    let ids: HashSet<_> = answers.iter().map(|c| c.payment.id().clone()).collect();
    let qrs: HashSet<_> = answers
        .iter()
        .map(|c| c.payment.qr_data().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 1, "one payment id in every answer");
    assert_eq!(qrs.len(), 1, "one QR in every answer");
    assert!(qrs.iter().all(Option::is_some));
    assert_eq!(answers.iter().filter(|c| c.newly_created).count(), 1);
    assert_eq!(h.mock.state.orders_created(), 1, "one Mercado Pago order");
    let order = OrderId::parse("ord-same").unwrap();
    assert_eq!(h.store.list_by_order(&order).await.unwrap().len(), 1);
    h.stop().await;
}

async fn concurrent_different_creates_one_wins_the_others_conflict(h: Backend) {
    let create = Arc::new(h.create());
    let start = Arc::new(Barrier::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    for i in 0..CONCURRENCY {
        let (create, start) = (create.clone(), start.clone());
        let amount = 1000 + i as i64;
        tasks.spawn(async move {
            start.wait().await;
            create.execute(command("ord-race", amount), None).await
        });
    }
    let (mut won, mut conflicts) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            Ok(_) => won += 1,
            Err(AppError::OrderHasLivePayment(_)) => conflicts += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((won, conflicts), (1, CONCURRENCY - 1));
    let order = OrderId::parse("ord-race").unwrap();
    assert_eq!(h.store.list_by_order(&order).await.unwrap().len(), 1);
    assert_eq!(h.mock.state.orders_created(), 1);
    h.stop().await;
}

async fn concurrent_duplicate_webhooks_make_one_transition_and_one_message(h: Backend) {
    let created = h
        .create()
        .execute(command("ord-dup", 2590), None)
        .await
        .unwrap();
    let provider_order = created.payment.provider().unwrap().order_id.clone();
    h.settle_at_provider(&provider_order, "approved").await;
    let webhook = Arc::new(h.webhook(h.publisher()));
    // Hold every read at MP so the deliveries reach the store together.
    h.mock
        .state
        .delay_next(CONCURRENCY as u32, Duration::from_millis(50));
    let start = Arc::new(Barrier::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (webhook, provider_order, start) =
            (webhook.clone(), provider_order.clone(), start.clone());
        tasks.spawn(async move {
            start.wait().await;
            notify(&webhook, &provider_order).await
        });
    }
    let mut applied = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap().unwrap() {
            NotificationOutcome::Applied { .. } => applied += 1,
            NotificationOutcome::Unchanged { status, .. } => {
                assert_eq!(status, PaymentStatus::Approved)
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(applied, 1);
    let delivered = h.delivered().await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0].event_type, "payment.approved");
    assert!(h.store.pending_events(10).await.unwrap().is_empty());
    let stored = h.store.get(created.payment.id()).await.unwrap().unwrap();
    assert_eq!(stored.status(), PaymentStatus::Approved);
    assert_eq!(
        stored.version(),
        created.payment.version() + 1,
        "exactly one transition"
    );
    h.stop().await;
}

async fn racing_notifications_follow_what_the_provider_says(h: Backend) {
    // Deliveries race while the order changes at MP: those that read it still
    // open change nothing, the rest apply its final word, exactly once. What a
    // notification's body claims never reaches the use case.
    let created = h
        .create()
        .execute(command("ord-flip", 2590), None)
        .await
        .unwrap();
    let provider_order = created.payment.provider().unwrap().order_id.clone();
    let webhook = Arc::new(h.webhook(h.publisher()));
    let spawn_deliveries = |tasks: &mut JoinSet<_>| {
        for _ in 0..CONCURRENCY / 2 {
            let (webhook, provider_order) = (webhook.clone(), provider_order.clone());
            tasks.spawn(async move { notify(&webhook, &provider_order).await });
        }
    };
    let mut tasks = JoinSet::new();
    spawn_deliveries(&mut tasks);
    h.settle_at_provider(&provider_order, "rejected").await;
    spawn_deliveries(&mut tasks);
    let mut applied = 0;
    while let Some(joined) = tasks.join_next().await {
        if let NotificationOutcome::Applied { status, .. } = joined.unwrap().unwrap() {
            assert_eq!(status, PaymentStatus::Declined);
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    let stored = h.store.get(created.payment.id()).await.unwrap().unwrap();
    assert_eq!(stored.status(), PaymentStatus::Declined);
    let delivered = h.delivered().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].event_type, "payment.declined");
    h.stop().await;
}

async fn topic_down_at_commit_then_the_relay_publishes_exactly_once(h: Backend) {
    let created = h
        .create()
        .execute(command("ord-sns-down", 2590), None)
        .await
        .unwrap();
    let provider_order = created.payment.provider().unwrap().order_id.clone();
    h.settle_at_provider(&provider_order, "approved").await;
    let outcome = notify(&h.webhook(h.dead_publisher()), &provider_order)
        .await
        .unwrap();
    assert!(
        matches!(outcome, NotificationOutcome::Applied { .. }),
        "the webhook still succeeds"
    );
    let stored = h.store.get(created.payment.id()).await.unwrap().unwrap();
    assert_eq!(stored.status(), PaymentStatus::Approved);
    let waiting = h.store.pending_events(10).await.unwrap();
    assert_eq!(waiting.len(), 1, "the event waits in the outbox");
    assert!(h.delivered().await.is_empty());

    let report = h.relay().execute().await.unwrap();
    assert_eq!((report.published, report.failed), (1, 0));
    let again = h.relay().execute().await.unwrap();
    assert_eq!(again.published, 0, "nothing left to relay");
    let delivered = h.delivered().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].body, waiting[0].body);
    assert!(h.store.pending_events(10).await.unwrap().is_empty());
    h.stop().await;
}

async fn a_crash_between_commit_and_publish_loses_nothing(h: Backend) {
    let created = h
        .create()
        .execute(command("ord-crash", 2590), None)
        .await
        .unwrap();
    let provider_order = created.payment.provider().unwrap().order_id.clone();
    h.settle_at_provider(&provider_order, "expire").await;
    let webhook = Arc::new(h.webhook(Arc::new(CrashingPublisher)));
    let crashed = tokio::spawn({
        let provider_order = provider_order.clone();
        async move { notify(&webhook, &provider_order).await }
    })
    .await;
    assert!(crashed.unwrap_err().is_panic(), "the process died mid-way");
    let stored = h.store.get(created.payment.id()).await.unwrap().unwrap();
    assert_eq!(
        stored.status(),
        PaymentStatus::Expired,
        "the commit survived"
    );
    assert_eq!(h.store.pending_events(10).await.unwrap().len(), 1);

    // The dead writer claimed the event: a relay run while its claim lasts
    // leaves it alone, the next one after it publishes it.
    h.relay().execute().await.unwrap();
    assert!(h.delivered().await.is_empty(), "not while the claim lasts");
    let later = PUBLISH_LEASE + Duration::from_secs(1);
    assert_eq!(h.relay_later(later).execute().await.unwrap().published, 1);
    let delivered = h.delivered().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].event_type, "payment.expired");
    assert!(h.store.pending_events(10).await.unwrap().is_empty());
    h.stop().await;
}

async fn two_relays_at_once_publish_every_event_and_clear_the_outbox(h: Backend) {
    let webhook = h.webhook(h.dead_publisher());
    let mut bodies = HashSet::new();
    for i in 0..5 {
        let created = h
            .create()
            .execute(command(&format!("ord-relay-{i}"), 2590), None)
            .await
            .unwrap();
        let provider_order = created.payment.provider().unwrap().order_id.clone();
        h.settle_at_provider(&provider_order, "approved").await;
        notify(&webhook, &provider_order).await.unwrap();
    }
    for event in h.store.pending_events(10).await.unwrap() {
        bodies.insert(event.body);
    }
    assert_eq!(bodies.len(), 5);
    let (first, second) = (h.relay(), h.relay());
    let (a, b) = tokio::join!(first.execute(), second.execute());
    let published = a.unwrap().published + b.unwrap().published;
    assert!(published >= 5, "each event at least once");
    let delivered: HashSet<String> = h.delivered().await.into_iter().map(|d| d.body).collect();
    assert_eq!(delivered, bodies);
    assert!(h.store.pending_events(10).await.unwrap().is_empty());
    h.stop().await;
}

async fn provider_failure_on_create_then_a_retry_completes_one_payment(h: Backend) {
    let quick = provider_for(&h.mock, Duration::from_millis(300));
    let create = h.create_with(quick, h.store.clone(), Duration::from_secs(900));
    h.mock.state.fail_next(3, 500);
    let failed = create.execute(command("ord-mp-5xx", 2590), None).await;
    assert!(
        matches!(
            failed,
            Err(AppError::Provider(ProviderError::Unavailable(_)))
        ),
        "{failed:?}"
    );
    h.mock.state.delay_next(3, Duration::from_millis(600));
    let timed_out = create.execute(command("ord-mp-5xx", 2590), None).await;
    assert!(
        matches!(
            timed_out,
            Err(AppError::Provider(ProviderError::Unavailable(_)))
        ),
        "{timed_out:?}"
    );

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let done = create
        .execute(command("ord-mp-5xx", 2590), None)
        .await
        .unwrap();
    assert!(done.payment.is_ready());
    assert_eq!(
        h.mock.state.orders_created(),
        1,
        "the slow attempts and the retry share one order"
    );
    let order = OrderId::parse("ord-mp-5xx").unwrap();
    assert_eq!(h.store.list_by_order(&order).await.unwrap().len(), 1);
    h.stop().await;
}

/// Fails the first `record_provider_order` (storing the QR), as a crash right
/// after MP answered.
struct LosesTheFirstQrWrite {
    inner: Arc<dyn PaymentStore>,
    failed_once: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl OrderReadLimits for LosesTheFirstQrWrite {
    async fn delivery_processed(
        &self,
        d: &payments::ports::DeliveryKey,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.delivery_processed(d, now).await
    }

    async fn mark_delivery_processed(
        &self,
        d: &payments::ports::DeliveryKey,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<(), StoreError> {
        self.inner.mark_delivery_processed(d, now, until).await
    }

    async fn take_order_read(
        &self,
        o: &ProviderOrderId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.take_order_read(o, now, until).await
    }
}

#[async_trait]
impl PaymentReads for LosesTheFirstQrWrite {
    async fn get(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        self.inner.get(id).await
    }

    async fn page_by_order(
        &self,
        o: &OrderId,
        after: Option<&payments::ports::OrderCursor>,
        limit: usize,
    ) -> Result<payments::ports::OrderPage, StoreError> {
        self.inner.page_by_order(o, after, limit).await
    }

    async fn refunds_of(&self, id: &PaymentId) -> Result<Vec<Refund>, StoreError> {
        self.inner.refunds_of(id).await
    }

    async fn events_of(
        &self,
        id: &PaymentId,
    ) -> Result<Vec<payments::ports::OutboxEvent>, StoreError> {
        self.inner.events_of(id).await
    }

    async fn events_after(
        &self,
        query: &payments::ports::FeedQuery,
    ) -> Result<payments::ports::FeedPage, StoreError> {
        self.inner.events_after(query).await
    }

    async fn event(
        &self,
        id: &payments::domain::EventId,
    ) -> Result<Option<payments::ports::OutboxEvent>, StoreError> {
        self.inner.event(id).await
    }
}

#[async_trait]
impl PaymentCreation for LosesTheFirstQrWrite {
    async fn order_lock(&self, o: &OrderId) -> Result<Option<OrderLock>, StoreError> {
        self.inner.order_lock(o).await
    }

    async fn create_pending(
        &self,
        p: &Payment,
        v: Option<u64>,
        k: Option<&IdempotencyKey>,
    ) -> Result<(), StoreError> {
        self.inner.create_pending(p, v, k).await
    }

    async fn record_provider_order(&self, p: &Payment, v: u64) -> Result<(), StoreError> {
        if !self
            .failed_once
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(StoreError::Unavailable(
                "crashed before storing the QR".into(),
            ));
        }
        self.inner.record_provider_order(p, v).await
    }
}

#[async_trait]
impl PaymentTransitions for LosesTheFirstQrWrite {
    async fn commit_transition(
        &self,
        p: &Payment,
        v: u64,
        e: &OutboxEvent,
    ) -> Result<(), StoreError> {
        self.inner.commit_transition(p, v, e).await
    }
}

#[async_trait]
impl Outbox for LosesTheFirstQrWrite {
    async fn pending_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.inner.pending_events(limit).await
    }

    async fn mark_published(&self, e: &OutboxEvent) -> Result<(), StoreError> {
        self.inner.mark_published(e).await
    }
    async fn claim_publish(
        &self,
        e: &OutboxEvent,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.claim_publish(e, now, until).await
    }
    async fn release_publish(&self, e: &OutboxEvent, until: Timestamp) -> Result<(), StoreError> {
        self.inner.release_publish(e, until).await
    }
}

#[async_trait]
impl IdempotencyKeys for LosesTheFirstQrWrite {
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.inner.claim_idempotency_key(claim).await
    }

    async fn complete_idempotency_key(
        &self,
        k: &IdempotencyKey,
        o: &IdempotentOutcome,
    ) -> Result<(), StoreError> {
        self.inner.complete_idempotency_key(k, o).await
    }
}

#[async_trait]
impl DuePayments for LosesTheFirstQrWrite {
    async fn due_payments(&self, now: Timestamp, limit: usize) -> Result<Vec<DueItem>, StoreError> {
        self.inner.due_payments(now, limit).await
    }
    async fn set_aside(&self, item: &UnreadableItem, until: Timestamp) -> Result<(), StoreError> {
        self.inner.set_aside(item, until).await
    }

    async fn reschedule(&self, p: &Payment, v: u64) -> Result<(), StoreError> {
        self.inner.reschedule(p, v).await
    }
}

#[async_trait]
impl Refunds for LosesTheFirstQrWrite {
    async fn reserve_refund(
        &self,
        p: &Payment,
        v: u64,
        r: &Refund,
        k: &RefundKey,
    ) -> Result<(), StoreError> {
        self.inner.reserve_refund(p, v, r, k).await
    }

    async fn settle_refund(&self, settlement: &RefundSettlement<'_>) -> Result<(), StoreError> {
        self.inner.settle_refund(settlement).await
    }

    async fn record_made_refund(&self, made: &MadeRefund<'_>) -> Result<(), StoreError> {
        self.inner.record_made_refund(made).await
    }

    async fn claim_refund_ask(
        &self,
        claimed: &Refund,
        expected_claim: u32,
    ) -> Result<(), StoreError> {
        self.inner.claim_refund_ask(claimed, expected_claim).await
    }

    async fn refund_by_key(
        &self,
        id: &PaymentId,
        k: &IdempotencyKey,
    ) -> Result<Option<(Refund, Fingerprint)>, StoreError> {
        self.inner.refund_by_key(id, k).await
    }

    async fn keep_first_answer(
        &self,
        id: &PaymentId,
        k: &IdempotencyKey,
        answered: RefundStatus,
    ) -> Result<RefundStatus, StoreError> {
        self.inner.keep_first_answer(id, k, answered).await
    }
}

async fn a_crash_after_the_provider_order_before_the_qr_is_stored_is_recovered(h: Backend) {
    let flaky = Arc::new(LosesTheFirstQrWrite {
        inner: h.store.clone(),
        failed_once: Default::default(),
    });
    let create = h.create_with(h.provider.clone(), flaky, Duration::from_secs(900));
    let first = create.execute(command("ord-qr-lost", 2590), None).await;
    assert!(
        matches!(first, Err(AppError::Store(StoreError::Unavailable(_)))),
        "{first:?}"
    );
    assert_eq!(h.mock.state.orders_created(), 1, "MP created the order");

    let retried = create
        .execute(command("ord-qr-lost", 2590), None)
        .await
        .unwrap();
    assert!(retried.payment.is_ready());
    assert_eq!(
        h.mock.state.orders_created(),
        1,
        "the retry found the same MP order"
    );
    let order = OrderId::parse("ord-qr-lost").unwrap();
    let stored = h.store.list_by_order(&order).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id(), retried.payment.id());
    h.stop().await;
}

async fn the_sweeper_settles_overdue_payments_from_the_provider(h: Backend) {
    let create = h.create_with(
        h.provider.clone(),
        h.store.clone(),
        Duration::from_millis(1),
    );
    let open = create
        .execute(command("ord-sweep-open", 2590), None)
        .await
        .unwrap()
        .payment;
    let paid = create
        .execute(command("ord-sweep-paid", 2590), None)
        .await
        .unwrap()
        .payment;
    h.settle_at_provider(&paid.provider().unwrap().order_id, "approved")
        .await;
    tokio::time::sleep(Duration::from_millis(20)).await;

    let report = h.sweeper().execute().await.unwrap();
    assert_eq!((report.examined, report.changed, report.failed), (2, 2, 0));
    let open_now = h.store.get(open.id()).await.unwrap().unwrap();
    assert_eq!(open_now.status(), PaymentStatus::Expired);
    assert_eq!(
        h.mock
            .state
            .order_status(open.provider().unwrap().order_id.as_str())
            .as_deref(),
        Some("canceled"),
        "the open MP order was canceled so it can no longer be paid"
    );
    assert_eq!(
        h.store.get(paid.id()).await.unwrap().unwrap().status(),
        PaymentStatus::Approved
    );
    let mut types: Vec<String> = h
        .delivered()
        .await
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    types.sort();
    assert_eq!(types, ["payment.approved", "payment.expired"]);
    // Both ended with a Mercado Pago order: looked at once more (a late
    // payment, a dashboard refund), nothing changes, and then not again
    // until the next point of their watch.
    let watch = h.sweeper().execute().await.unwrap();
    assert_eq!((watch.examined, watch.changed), (2, 0), "{watch:?}");
    assert_eq!(h.sweeper().execute().await.unwrap().examined, 0);
    h.stop().await;
}

on_both_backends!(Backend =>
    concurrent_identical_creates_make_one_payment_and_one_provider_order,
    concurrent_different_creates_one_wins_the_others_conflict,
    concurrent_duplicate_webhooks_make_one_transition_and_one_message,
    racing_notifications_follow_what_the_provider_says,
    topic_down_at_commit_then_the_relay_publishes_exactly_once,
    a_crash_between_commit_and_publish_loses_nothing,
    two_relays_at_once_publish_every_event_and_clear_the_outbox,
    provider_failure_on_create_then_a_retry_completes_one_payment,
    a_crash_after_the_provider_order_before_the_qr_is_stored_is_recovered,
    the_sweeper_settles_overdue_payments_from_the_provider,
);
