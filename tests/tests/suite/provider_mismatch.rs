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
    let payment = CreatePayment::new(&ports, Duration::from_secs(900))
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
