//! The sweeper never guesses, on memory and on DynamoDB/SNS in moto: it
//! decides on a fresh read, a retried create never makes a Mercado Pago order
//! for an expired payment, and an interrupted expiry is finished correctly.

use std::time::Duration;

use payments::app::{AppError, RefundCommand};
use payments::domain::{IdempotencyKey, Payment, PaymentStatus, RefundStatus};
use payments_tests::backends::{command, notify, Backend};
use payments_tests::on_both_backends;

/// A payment created with a QR code that is already due.
async fn overdue(h: &Backend, order: &str) -> Payment {
    let create = h.create_with(
        h.provider.clone(),
        h.store.clone(),
        Duration::from_millis(1),
    );
    let created = create.execute(command(order, 2590), None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    created.payment
}

async fn a_create_retried_after_expiry_makes_no_provider_order_until_swept(h: Backend) {
    let first = overdue(&h, "ord-expired-retry").await;
    let create = h.create_with(
        h.provider.clone(),
        h.store.clone(),
        Duration::from_secs(900),
    );
    let retried = create
        .execute(command("ord-expired-retry", 2590), None)
        .await;
    assert!(
        matches!(retried, Err(AppError::PaymentExpired(ref id)) if id == first.id()),
        "{retried:?}"
    );
    assert_eq!(
        h.mock.state.orders_created(),
        1,
        "no second Mercado Pago order"
    );

    h.sweeper().execute().await.unwrap();
    let swept = h.store.get(first.id()).await.unwrap().unwrap();
    assert_eq!(swept.status(), PaymentStatus::Expired);
    let again = create
        .execute(command("ord-expired-retry", 2590), None)
        .await
        .unwrap();
    assert!(again.newly_created);
    assert_ne!(again.payment.id(), first.id());
    assert_eq!(h.mock.state.orders_created(), 2);
    h.stop().await;
}

async fn a_payment_listed_before_its_provider_order_is_read_at_mercado_pago(h: Backend) {
    let payment = overdue(&h, "ord-stale-listing").await;
    let order = payment.provider().unwrap().order_id.clone();
    // The listing saw the payment before its order and QR were recorded.
    let mut parts = payment.parts().clone();
    parts.provider = None;
    parts.qr_data = None;
    let stale = Payment::restore(parts);

    h.sweeper().settle_listed(vec![stale]).await;
    assert_eq!(
        h.mock.state.order_status(order.as_str()).as_deref(),
        Some("canceled"),
        "the QR code the customer saw can no longer be paid"
    );
    let swept = h.store.get(payment.id()).await.unwrap().unwrap();
    assert_eq!(swept.status(), PaymentStatus::Expired);
    h.stop().await;
}

async fn a_cancel_at_mercado_pago_whose_expiry_was_not_recorded_is_an_expiry(h: Backend) {
    let payment = overdue(&h, "ord-cancel-then-crash").await;
    let order = payment.provider().unwrap().order_id.clone();
    // An earlier run canceled the order, then died before recording anything.
    h.provider
        .cancel_order(&order, &payments::ports::cancel_key(payment.id()))
        .await
        .unwrap();

    h.sweeper().execute().await.unwrap();
    let swept = h.store.get(payment.id()).await.unwrap().unwrap();
    assert_eq!(
        swept.status(),
        PaymentStatus::Expired,
        "not declined, not canceled"
    );
    let delivered = h.delivered().await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].event_type, "payment.expired");
    h.stop().await;
}

async fn a_refund_mercado_pago_could_not_take_is_completed_by_the_sweeper(h: Backend) {
    let payment = overdue(&h, "ord-refund-retry").await;
    let order = payment.provider().unwrap().order_id.clone();
    h.settle_at_provider(&order, "approved").await;
    notify(&h.webhook(h.publisher()), &order).await.unwrap();

    h.mock.state.fail_next(3, 503);
    let pending = h
        .refund()
        .execute(RefundCommand {
            payment_id: payment.id().clone(),
            amount: None,
            reason: None,
            key: IdempotencyKey::parse("refund-while-down").unwrap(),
            requested_by: payments::domain::CallerId::anonymous(),
        })
        .await
        .unwrap();
    assert_eq!(pending.refund.status, RefundStatus::Pending);
    assert_eq!(h.refunds_at_provider(&payment), 0);

    let report = h.sweeper().execute().await.unwrap();
    assert_eq!(report.changed, 1, "{report:?}");
    let refunds = h.store.refunds_of(payment.id()).await.unwrap();
    assert_eq!(refunds[0].status, RefundStatus::Succeeded);
    assert_eq!(
        h.refunds_at_provider(&payment),
        1,
        "asked again with the same key: once"
    );
    let swept = h.store.get(payment.id()).await.unwrap().unwrap();
    assert_eq!(swept.status(), PaymentStatus::Refunded);
    let kinds: Vec<_> = h
        .delivered()
        .await
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    assert_eq!(kinds, ["payment.approved", "payment.refunded"]);
    // Nothing is left for the sweeper.
    assert_eq!(h.sweeper().execute().await.unwrap().examined, 0);
    h.stop().await;
}

async fn fifty_unsettleable_payments_do_not_hold_up_a_settleable_one(h: Backend) {
    let create = h.create_with(
        h.provider.clone(),
        h.store.clone(),
        Duration::from_millis(1),
    );
    let mut stuck = Vec::new();
    for i in 0..50 {
        let order = format!("ord-stuck-{i}");
        stuck.push(
            create
                .execute(command(&order, 2590), None)
                .await
                .unwrap()
                .payment,
        );
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let settleable = overdue(&h, "ord-settleable").await;
    // Mercado Pago refuses to tell about the first 50 orders it is asked about.
    h.mock.state.fail_next(50, 400);

    let report = h.sweeper().execute().await.unwrap();
    assert_eq!(report.rescheduled, 50, "{report:?}");
    let swept = h.store.get(settleable.id()).await.unwrap().unwrap();
    assert_eq!(
        swept.status(),
        PaymentStatus::Expired,
        "not held up: {report:?}"
    );
    for payment in &stuck {
        let stored = h.store.get(payment.id()).await.unwrap().unwrap();
        assert_eq!(stored.status(), PaymentStatus::Pending);
        assert_eq!(stored.sweep().attempts, 1);
        assert!(!stored.sweep().needs_review);
    }
    // They wait for their next check (a minute); only the expired one's
    // first watch look is due right now, and then nothing.
    let next = h.sweeper().execute().await.unwrap();
    assert_eq!((next.examined, next.changed), (1, 0), "{next:?}");
    assert_eq!(h.sweeper().execute().await.unwrap().examined, 0);
    h.stop().await;
}

on_both_backends!(Backend =>
    fifty_unsettleable_payments_do_not_hold_up_a_settleable_one,
    a_refund_mercado_pago_could_not_take_is_completed_by_the_sweeper,
    a_create_retried_after_expiry_makes_no_provider_order_until_swept,
    a_payment_listed_before_its_provider_order_is_read_at_mercado_pago,
    a_cancel_at_mercado_pago_whose_expiry_was_not_recorded_is_an_expiry,
);
