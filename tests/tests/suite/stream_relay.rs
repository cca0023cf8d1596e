//! event-relay on a stream batch (images read back from the table on moto):
//! each waiting event is published once, and exactly the records whose publish
//! failed come back as batchItemFailures, still in the outbox.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use payments::adapters::dynamodb::DynamoStore;
use payments::adapters::system::{SystemClock, UlidGenerator};
use payments::app::RelayEvents;
use payments::domain::{EventId, PaymentStatus};
use payments::ports::{
    EventPublisher, Outbox, OutboxEvent, PaymentCreation, PaymentTransitions, Ports, PublishError,
};
use payments::triggers::{self, RelayAnswer};
use payments_tests::backends::Backend;
use payments_tests::fixtures::{payment, transition};
use payments_tests::moto;
use payments_tests::on_both_backends;

/// A topic that refuses one event and records the rest.
struct RefusesOne {
    refused: EventId,
    published: Mutex<Vec<EventId>>,
}

#[async_trait]
impl EventPublisher for RefusesOne {
    async fn publish(&self, event: &OutboxEvent) -> Result<(), PublishError> {
        if event.event_id == self.refused {
            return Err(PublishError("topic refused it".into()));
        }
        self.published.lock().unwrap().push(event.event_id.clone());
        Ok(())
    }
}

#[tokio::test]
async fn a_stream_batch_publishes_each_event_once_and_reports_exactly_the_failed_records() {
    let client = aws_sdk_dynamodb::Client::new(&moto::sdk_config().await);
    let table = moto::table_from_template(&client).await;
    let store = Arc::new(DynamoStore::new(client.clone(), table.clone()));
    let mut events = Vec::new();
    for n in 0..3 {
        let pending = payment(&format!("ord-stream-{n}"), 0);
        let (approved, event) = transition(&pending, PaymentStatus::Approved, n * 1000 + 1);
        store.insert_pending(&pending, None).await.unwrap();
        store
            .commit_transition(&approved, pending.version(), &event)
            .await
            .unwrap();
        events.push(event);
    }

    // The stream records the table would emit: each event item's INSERT, as
    // stored, in the order written.
    let trigger = moto::stream_batch(&client, &table, &events).await;

    let publisher = Arc::new(RefusesOne {
        refused: events[1].event_id.clone(),
        published: Mutex::new(Vec::new()),
    });
    let ports = Ports::new(
        store.clone(),
        Arc::new(SystemClock),
        Arc::new(UlidGenerator::default()),
    )
    .with_publisher(publisher.clone());
    let relay = RelayEvents::new(&ports);

    let RelayAnswer::Stream(answer) = triggers::relay(&relay, trigger).await.unwrap() else {
        panic!("a stream batch gets batchItemFailures")
    };
    let failures: Vec<_> = answer
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(failures, vec!["101".to_owned()], "only the refused record");
    let published = publisher.published.lock().unwrap().clone();
    assert_eq!(
        published,
        vec![events[0].event_id.clone(), events[2].event_id.clone()],
        "each other event once"
    );
    let waiting: HashSet<_> = store
        .pending_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(waiting, HashSet::from([events[1].event_id.clone()]));
}

/// Without faults, the writer (right after its commit) and the stream relay
/// (on the event item's INSERT) both see every event; whoever claims it first
/// publishes it, so each reaches the topic's subscriber once, whichever of
/// the two comes first, and a scheduled run after them adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_faults_each_event_reaches_sns_once_though_the_writer_and_the_stream_both_see_it() {
    use payments::app::outbox::publish_and_clear;
    use payments::ports::Clock;
    use payments_tests::backends::{Backend, OnBackend};

    let h = Backend::dynamodb().await;
    let (client, table) = h.table.clone().unwrap();
    let publisher = h.publisher();
    let mut events = Vec::new();
    for (n, stream_first) in [false, true].into_iter().enumerate() {
        let pending = payment(&format!("ord-once-{n}"), 0);
        let (approved, event) = transition(&pending, PaymentStatus::Approved, 1);
        h.store.insert_pending(&pending, None).await.unwrap();
        h.store
            .commit_transition(&approved, pending.version(), &event)
            .await
            .unwrap();
        // The INSERT the stream hands over: the item as committed.
        let batch = moto::stream_batch(&client, &table, std::slice::from_ref(&event)).await;
        let writer = || {
            publish_and_clear(
                h.store.as_ref(),
                publisher.as_ref(),
                &event,
                SystemClock.now(),
            )
        };
        if stream_first {
            triggers::relay(&h.relay(), batch).await.unwrap();
            assert!(writer().await);
        } else {
            assert!(writer().await);
            triggers::relay(&h.relay(), batch).await.unwrap();
        }
        events.push(event);
    }
    h.relay().execute().await.unwrap();

    let delivered = h.delivered().await;
    for event in &events {
        let copies = delivered
            .iter()
            .filter(|d| d.body.contains(event.event_id.as_str()))
            .count();
        assert_eq!(
            copies, 1,
            "{} reached the subscriber {copies} times",
            event.event_id
        );
    }
    assert!(h.store.pending_events(10).await.unwrap().is_empty());
    h.stop().await;
}

/// Each event carries its place in its payment's history and the request
/// that caused it, in its body and as message attributes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_carry_their_sequence_and_the_request_that_caused_them_on_sns() {
    use payments::app::{correlation, RefundCommand};
    use payments::domain::{CorrelationId, IdempotencyKey};
    use payments_tests::backends::{command, notify, Backend, OnBackend};

    let h = Backend::dynamodb().await;
    let payment = h
        .create()
        .execute(command("ord-sequence", 2590), None)
        .await
        .unwrap()
        .payment;
    let order = payment.provider().unwrap().order_id.clone();
    h.settle_at_provider(&order, "approved").await;
    let webhook = h.webhook(h.publisher());
    let delivery = CorrelationId::parse("mp-delivery-1").unwrap();
    correlation::within(Some(delivery), notify(&webhook, &order))
        .await
        .unwrap();
    let refunds = h.refund();
    for n in 0..2 {
        let request = CorrelationId::parse(&format!("refund-request-{n}")).unwrap();
        let refund = refunds.execute(RefundCommand {
            payment_id: payment.id().clone(),
            amount: Some(1000),
            reason: None,
            key: IdempotencyKey::parse(&format!("refund-{n}")).unwrap(),
            requested_by: payments::domain::CallerId::anonymous(),
        });
        correlation::within(Some(request), refund).await.unwrap();
    }

    let delivered = h.delivered().await;
    let seen: Vec<(String, Option<String>, Option<String>)> = delivered
        .iter()
        .map(|d| {
            let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
            assert_eq!(
                body["sequence"].to_string(),
                d.sequence.clone().unwrap_or_default(),
                "the attribute says what the body says"
            );
            assert_eq!(body["correlation_id"].as_str(), d.correlation_id.as_deref());
            (
                d.event_type.clone(),
                d.sequence.clone(),
                d.correlation_id.clone(),
            )
        })
        .collect();
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        seen,
        vec![
            ("payment.approved".into(), some("1"), some("mp-delivery-1")),
            (
                "payment.refunded".into(),
                some("2"),
                some("refund-request-0")
            ),
            (
                "payment.refunded".into(),
                some("3"),
                some("refund-request-1")
            ),
        ]
    );
    h.stop().await;
}

/// A stored event redelivered reaches subscribers again, the same message
/// marked `redelivered`; an unknown id is refused and publishes nothing.
async fn a_redelivered_event_reaches_subscribers_again_marked_as_such(h: Backend) {
    use payments::app::{AppError, RedeliverEvent};
    let paid = h.approved_payment("ord-redeliver", 2590).await;
    let first = h.delivered().await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(!first[0].redelivered);
    let events = h.store.events_of(paid.id()).await.unwrap();
    let redeliver = RedeliverEvent::new(&h.ports());
    let again = redeliver.execute(&events[0].event_id).await.unwrap();
    assert_eq!(again.event_id, events[0].event_id);
    let delivered = h.delivered().await;
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert_eq!(delivered[1].body, delivered[0].body, "the same message");
    assert!(delivered[1].redelivered, "marked as a redelivery");
    let unknown = payments::domain::EventId::from_ulid(ulid::Ulid::new());
    assert!(matches!(
        redeliver.execute(&unknown).await,
        Err(AppError::EventNotFound(_))
    ));
    assert_eq!(h.delivered().await.len(), 2);
    h.stop().await;
}

on_both_backends!(Backend => a_redelivered_event_reaches_subscribers_again_marked_as_such);
