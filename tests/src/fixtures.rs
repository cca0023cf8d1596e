//! Payments and events as the store tests build them: a fixed clock origin,
//! a pending X-Burger order, and a status change with its outbox event.

use payments::domain::{
    CallerId, Currency, EventId, Fingerprint, Item, Items, Money, NewPayment, OrderId, Payment,
    PaymentId, PaymentStatus, PointsOfSale, PosId, ProviderOrderId, ProviderPaymentId, Sku,
    Timestamp, Title, TransitionDetails,
};
use payments::ports::OutboxEvent;

pub const T0: i64 = 1_795_608_000_000;

/// The points of sale the tests' create use cases allow, the first the default.
pub const POS_IDS: [&str; 2] = ["POS001", "POS002"];

pub fn pos(raw: &str) -> PosId {
    PosId::parse(raw).unwrap()
}

/// `POS_IDS` as the create use case holds them.
pub fn points_of_sale() -> PointsOfSale {
    PointsOfSale::new(POS_IDS.iter().map(|raw| pos(raw)).collect()).unwrap()
}

pub fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(T0 + offset_ms).unwrap()
}

pub fn payment(order: &str, created_ms: i64) -> Payment {
    let amount = Money::new(2590, Currency::Brl).unwrap();
    let item = Item::new(
        Sku::parse("XB").unwrap(),
        Title::parse("X-Burger").unwrap(),
        2,
        Money::new(1295, Currency::Brl).unwrap(),
    )
    .unwrap();
    Payment::new_pending(NewPayment {
        created_by: CallerId::parse("arn:aws:iam::123456789012:role/orders").unwrap(),
        id: PaymentId::from_ulid(ulid::Ulid::new()),
        order_id: OrderId::parse(order).unwrap(),
        amount,
        items: Items::new(vec![item], amount).unwrap(),
        description: None,
        pos_id: pos(POS_IDS[0]),
        fingerprint: Fingerprint::of_canonical(order.as_bytes()),
        created_at: at(created_ms),
        expires_at: at(created_ms + 900_000),
    })
}

pub fn transition(payment: &Payment, to: PaymentStatus, at_ms: i64) -> (Payment, OutboxEvent) {
    let (next, event) = payment
        .transition(
            to,
            TransitionDetails {
                at: at(at_ms),
                event_id: EventId::from_ulid(ulid::Ulid::new()),
                decline_reason: (to == PaymentStatus::Declined).then(|| "rejected".to_owned()),
                provider_order_id: Some(ProviderOrderId::parse("ORD01").unwrap()),
                provider_payment_id: Some(ProviderPaymentId::parse("PAY01").unwrap()),
                requested_by: None,
            },
        )
        .unwrap();
    (next, OutboxEvent::from(&event))
}

/// The payments the `due` index lists, in order (every item here is readable).
pub async fn due_payments(
    store: &dyn payments::ports::DuePayments,
    now: payments::domain::Timestamp,
    limit: usize,
) -> Vec<payments::domain::Payment> {
    store
        .due_payments(now, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|item| item.payment().cloned().expect("every due item is readable"))
        .collect()
}
