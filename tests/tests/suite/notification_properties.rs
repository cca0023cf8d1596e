//! Property: whatever mix of deliveries, duplicates, replays and forgeries
//! arrives, before or after the order settles at the provider, the stored status
//! ends as the provider's final answer, one event per transition, and a terminal
//! status never moves again.

use std::sync::Arc;
use std::time::Duration;

use payments::adapters::memory::{MemoryPublisher, MemoryStore};
use payments::adapters::mercadopago::{
    MercadoPagoWebhook, SignaturePolicy, WebhookDelivery, WebhookError,
};
use payments::adapters::secrets::Secret;
use payments::app::{CreatePayment, NotificationOutcome};
use payments::compose;
use payments::domain::PaymentStatus;
use payments::ports::{PaymentReads, ProviderOutcome};
use proptest::prelude::*;

use payments_tests::backends::{command, notification};
use payments_tests::fake_provider::FakeProvider;
use payments_tests::WEBHOOK_SECRET as SECRET;

#[derive(Debug, Clone, Copy)]
enum Arrival {
    Delivery,
    ReplayOfTheLast,
    Forged,
}

fn arrival() -> impl Strategy<Value = Arrival> {
    prop_oneof![
        3 => Just(Arrival::Delivery),
        2 => Just(Arrival::ReplayOfTheLast),
        1 => Just(Arrival::Forged),
    ]
}

fn final_outcome() -> impl Strategy<Value = (ProviderOutcome, PaymentStatus)> {
    prop_oneof![
        Just((ProviderOutcome::Approved, PaymentStatus::Approved)),
        Just((
            ProviderOutcome::Declined {
                reason: Some("rejected_by_issuer".into())
            },
            PaymentStatus::Declined
        )),
        Just((ProviderOutcome::Expired, PaymentStatus::Expired)),
    ]
}

async fn run(
    arrivals: Vec<Arrival>,
    settle_at: usize,
    outcome: ProviderOutcome,
    expected: PaymentStatus,
) {
    let store = Arc::new(MemoryStore::new());
    let provider = Arc::new(FakeProvider::default());
    let publisher = Arc::new(MemoryPublisher::new());
    let ports = compose::store_ports(store.clone())
        .with_provider(provider.clone())
        .with_publisher(publisher.clone());
    let create = CreatePayment::new(
        &ports,
        Duration::from_secs(900),
        payments_tests::fixtures::points_of_sale(),
    );
    let webhook = MercadoPagoWebhook::new(&ports, SignaturePolicy::Required(Secret::fixed(SECRET)));
    let payment = create
        .execute(command("ord-prop", 2590), None)
        .await
        .unwrap()
        .payment;
    let order = payment.provider().unwrap().order_id.clone();

    let mut last: Option<WebhookDelivery> = None;
    let mut transitions = 0;
    let mut reached_terminal = false;
    for (step, arrival) in arrivals.iter().enumerate() {
        if step == settle_at {
            provider.settle(&order, outcome.clone());
        }
        let sent = match arrival {
            Arrival::ReplayOfTheLast if last.is_some() => last.clone().unwrap(),
            Arrival::Forged => {
                let mut forged = notification(order.as_str());
                forged.signature = Some(format!("ts=1,v1={}", "0".repeat(64)));
                forged
            }
            _ => notification(order.as_str()),
        };
        match webhook.receive(sent.clone()).await {
            Ok(NotificationOutcome::Applied { status, .. }) => {
                assert_eq!(status, expected);
                transitions += 1;
            }
            Ok(NotificationOutcome::Unchanged { .. }) => {}
            // The very delivery already processed: answered without a read.
            Ok(NotificationOutcome::Duplicate) => {
                assert!(matches!(arrival, Arrival::ReplayOfTheLast))
            }
            Err(WebhookError::Unauthorized(_)) => assert!(matches!(arrival, Arrival::Forged)),
            other => panic!("unexpected {other:?}"),
        }
        if !matches!(arrival, Arrival::Forged) {
            last = Some(sent);
        }
        let now = store.get(payment.id()).await.unwrap().unwrap().status();
        if reached_terminal {
            assert_eq!(now, expected, "a terminal status never moves");
        }
        reached_terminal |= now.is_terminal() || now == PaymentStatus::Approved;
    }
    // Mercado Pago keeps notifying until answered after the order settles.
    provider.settle(&order, outcome);
    if let Ok(NotificationOutcome::Applied { .. }) =
        webhook.receive(notification(order.as_str())).await
    {
        transitions += 1;
    }
    let stored = store.get(payment.id()).await.unwrap().unwrap();
    assert_eq!(stored.status(), expected);
    assert_eq!(transitions, 1);
    assert_eq!(
        store.all_events().len(),
        transitions,
        "one event per transition"
    );
    assert_eq!(publisher.published().len(), transitions);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn deliveries_replays_and_forgeries_end_in_the_providers_answer(
        arrivals in proptest::collection::vec(arrival(), 1..25),
        settle_at in 0usize..30,
        (outcome, expected) in final_outcome(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(arrivals, settle_at, outcome, expected));
    }
}
