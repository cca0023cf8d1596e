//! A Mercado Pago order that contradicts its payment (its total, its currency,
//! its id) changes nothing, emits nothing and is counted as a mismatch. Tested
//! at the use case, with a provider that can say what the mock never would.

use std::sync::Arc;
use std::time::Duration;

use payments::adapters::memory::{MemoryPublisher, MemoryStore};
use payments::adapters::mercadopago::{MercadoPagoWebhook, SignaturePolicy};
use payments::adapters::secrets::Secret;
use payments::app::{CreatePayment, NotificationOutcome};
use payments::compose;
use payments::domain::{PaymentStatus, ProviderOrderId};
use payments::ports::{PaymentReads, ProviderOrderState, ProviderOutcome};
use payments_tests::backends::{command, notification};
use payments_tests::fake_provider::FakeProvider;
use payments_tests::WEBHOOK_SECRET;

async fn contradicted_by(change: impl FnOnce(&mut ProviderOrderState)) {
    let store = Arc::new(MemoryStore::new());
    let provider = Arc::new(FakeProvider::default());
    let publisher = Arc::new(MemoryPublisher::new());
    let ports = compose::store_ports(store.clone())
        .with_provider(provider.clone())
        .with_publisher(publisher.clone());
    let payment = CreatePayment::new(
        &ports,
        Duration::from_secs(900),
        payments_tests::fixtures::points_of_sale(),
    )
    .execute(command("ord-contradicted", 2590), None)
    .await
    .unwrap()
    .payment;
    let order = payment.provider().unwrap().order_id.clone();
    provider.settle(&order, ProviderOutcome::Approved);
    provider.tamper(&order, change);
    let webhook = MercadoPagoWebhook::new(
        &ports,
        SignaturePolicy::Required(Secret::fixed(WEBHOOK_SECRET)),
    );

    let outcome = webhook.receive(notification(order.as_str())).await.unwrap();
    assert_eq!(outcome, NotificationOutcome::Mismatch(payment.id().clone()));
    let stored = store.get(payment.id()).await.unwrap().unwrap();
    assert_eq!(stored, payment, "nothing changed");
    assert_eq!(stored.status(), PaymentStatus::Pending);
    assert!(store.all_events().is_empty(), "nothing committed");
    assert!(publisher.published().is_empty(), "nothing announced");
}

#[tokio::test]
async fn an_order_with_another_total_changes_nothing() {
    contradicted_by(|order| order.total_amount = Some("25.91".into())).await;
}

#[tokio::test]
async fn an_order_without_a_total_changes_nothing() {
    contradicted_by(|order| order.total_amount = None).await;
}

#[tokio::test]
async fn an_order_in_another_currency_changes_nothing() {
    contradicted_by(|order| order.currency = Some("ARS".into())).await;
}

#[tokio::test]
async fn an_order_with_another_id_changes_nothing() {
    contradicted_by(|order| {
        order.order_id = ProviderOrderId::parse("ORD01SOMEONEELSES").unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_partial_refund_without_mercado_pagos_payment_id_is_refused_and_reserves_nothing() {
    use payments::app::{AppError, RefundCommand, RefundPayment};
    use payments::domain::{EventId, IdempotencyKey, ProviderRef, TransitionDetails};
    use payments::http::Problem;
    use payments::ports::{OutboxEvent, PaymentCreation, PaymentTransitions};
    use payments_tests::fixtures::{at, payment};

    let store = Arc::new(MemoryStore::new());
    let ports = compose::store_ports(store.clone())
        .with_provider(Arc::new(FakeProvider::default()))
        .with_publisher(Arc::new(MemoryPublisher::new()));
    // Approved on an order whose payment Mercado Pago never named to us.
    let pending = payment("ord-no-payment-id", 0);
    store.insert_pending(&pending, None).await.unwrap();
    let order = ProviderRef {
        order_id: ProviderOrderId::parse("ORD01").unwrap(),
        payment_id: None,
    };
    let ready = pending.with_provider(order, "qr".into(), at(1));
    store
        .record_provider_order(&ready, pending.version())
        .await
        .unwrap();
    let (approved, event) = ready
        .transition(
            PaymentStatus::Approved,
            TransitionDetails {
                at: at(2),
                event_id: EventId::from_ulid(ulid::Ulid::new()),
                decline_reason: None,
                provider_order_id: None,
                provider_payment_id: None,
                requested_by: None,
            },
        )
        .unwrap();
    store
        .commit_transition(&approved, ready.version(), &OutboxEvent::from(&event))
        .await
        .unwrap();

    let refused = RefundPayment::new(&ports)
        .execute(RefundCommand {
            payment_id: approved.id().clone(),
            amount: Some(1000),
            reason: None,
            key: IdempotencyKey::parse("partial-1").unwrap(),
            requested_by: payments::domain::CallerId::anonymous(),
        })
        .await;

    let error = refused.unwrap_err();
    assert!(
        matches!(error, AppError::PartialRefundNotSupported { ref payment_id, .. } if payment_id == approved.id()),
        "{error:?}"
    );
    let problem = Problem::from(&error);
    assert_eq!(problem.kind.status().as_u16(), 422);
    assert_eq!(problem.kind.slug(), "partial-refund-not-supported");
    let stored = store.get(approved.id()).await.unwrap().unwrap();
    assert_eq!(stored.refundable(), 2590, "nothing reserved");
    assert!(store.refunds_of(approved.id()).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_sweeper_moves_no_money_on_an_order_that_contradicts_an_ended_payment() {
    use payments::app::SweepOverduePayments;
    use payments::domain::ProviderRefundId;
    use payments::ports::{PaymentReads as _, ProviderRefund, ProviderRefundStatus};

    let store = Arc::new(MemoryStore::new());
    let provider = Arc::new(FakeProvider::default());
    let ports = compose::store_ports(store.clone())
        .with_provider(provider.clone())
        .with_publisher(Arc::new(MemoryPublisher::new()));
    let payment = CreatePayment::new(
        &ports,
        Duration::from_secs(900),
        payments_tests::fixtures::points_of_sale(),
    )
    .execute(command("ord-watched-contradiction", 2590), None)
    .await
    .unwrap()
    .payment;
    let order = payment.provider().unwrap().order_id.clone();
    provider.settle(&order, ProviderOutcome::Approved);
    let webhook = MercadoPagoWebhook::new(
        &ports,
        SignaturePolicy::Required(Secret::fixed(WEBHOOK_SECRET)),
    );
    webhook.receive(notification(order.as_str())).await.unwrap();
    // Later the order reads as another total, with a refund listed.
    provider.tamper(&order, |state| {
        state.total_amount = Some("25.91".into());
        state.refunds.push(ProviderRefund {
            id: ProviderRefundId::parse("REF1").unwrap(),
            amount: "10.00".into(),
            status: ProviderRefundStatus::Processed,
        });
    });

    // The approved payment's first watch look reads that order.
    let report = SweepOverduePayments::new(&ports).execute().await.unwrap();

    assert_eq!(report.examined, 1, "{report:?}");
    assert!(
        store.refunds_of(payment.id()).await.unwrap().is_empty(),
        "nothing recorded"
    );
    let stored = store.get(payment.id()).await.unwrap().unwrap();
    assert_eq!(stored.amount_refunded(), 0);
    assert_eq!(stored.status(), PaymentStatus::Approved);
}
