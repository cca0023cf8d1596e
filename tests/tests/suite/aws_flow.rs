//! The AWS wiring end to end on moto: DynamoDB store (table from template.yaml),
//! SNS publisher, an SQS queue subscribed to the topic; Mercado Pago is the mock.

use std::collections::HashMap;

use payments::app::NotificationOutcome;
use serde_json::Value;

use payments_tests::backends::{command, notify, Backend, OnBackend};

#[tokio::test]
async fn approved_declined_and_expired_reach_subscribers_with_exact_bodies_and_attributes() {
    let h = Backend::dynamodb().await;
    let create = h.create();
    let webhook = h.webhook(h.publisher());
    let mut expected = HashMap::new();
    for (order, outcome, event_type) in [
        ("ord-sns-approved", "approved", "payment.approved"),
        ("ord-sns-declined", "rejected", "payment.declined"),
        ("ord-sns-expired", "expire", "payment.expired"),
    ] {
        let created = create.execute(command(order, 2590), None).await.unwrap();
        let provider_order = created.payment.provider().unwrap().order_id.clone();
        h.settle_at_provider(&provider_order, outcome).await;
        let applied = notify(&webhook, &provider_order).await.unwrap();
        assert!(
            matches!(applied, NotificationOutcome::Applied { .. }),
            "{applied:?}"
        );
        // A duplicate delivery publishes nothing more.
        let again = notify(&webhook, &provider_order).await.unwrap();
        assert!(
            matches!(again, NotificationOutcome::Unchanged { .. }),
            "{again:?}"
        );
        expected.insert(created.payment.id().to_string(), (event_type, order));
    }

    let delivered = h.delivered().await;
    assert_eq!(delivered.len(), 3, "{delivered:?}");
    for message in delivered {
        let body: Value = serde_json::from_str(&message.body).unwrap();
        let payment_id = body["payment_id"].as_str().unwrap();
        let (event_type, order) = expected
            .remove(payment_id)
            .expect("one message per payment");
        assert_eq!(message.event_type, event_type, "event_type attribute");
        assert_eq!(message.order_id, order, "order_id attribute");
        assert_eq!(body["event_type"], event_type);
        assert_eq!(body["order_id"], order);
        // The body describes the stored transition (the relay tests compare it
        // byte for byte with the outbox item).
        let stored = h
            .store
            .get(&payments::domain::PaymentId::parse(payment_id).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(body["status"], stored.status().as_str());
        assert_eq!(body["occurred_at"], stored.updated_at().to_rfc3339());
    }
    assert!(expected.is_empty());
    assert!(
        h.store.pending_events(10).await.unwrap().is_empty(),
        "outbox cleared"
    );
    h.stop().await;
}
