//! Mercado Pago's answers the service must handle as Mercado Pago documents
//! them (docs/mercadopago.md, the fidelity table), met through the mock, on
//! both backends: an unsigned delivery, a create answer for another total, a
//! refund Mercado Pago will not make in part.

use payments::adapters::mercadopago::{
    MercadoPagoWebhook, SignaturePolicy, WebhookDelivery, WebhookError,
};
use payments::app::{AppError, NotificationOutcome, RefundCommand};
use payments::domain::{IdempotencyKey, PaymentStatus, RefundFailure, RefundStatus};
use serde_json::json;

use payments_tests::backends::{command, Backend};
use payments_tests::on_both_backends;

/// A delivery as an account Mercado Pago does not sign for sends it.
fn unsigned(provider_order: &str) -> WebhookDelivery {
    WebhookDelivery {
        kind: Some("order".into()),
        data_id: Some(provider_order.into()),
        signature: None,
        request_id: Some(ulid::Ulid::new().to_string()),
    }
}

async fn an_unsigned_delivery_is_read_at_most_once_a_minute_per_order(h: Backend) {
    let webhook = MercadoPagoWebhook::new(
        &h.ports().with_publisher(h.publisher()),
        SignaturePolicy::Unsigned,
    );
    let created = h
        .create()
        .execute(command("ord-unsigned", 2590), None)
        .await
        .unwrap()
        .payment;
    let order = created.provider().unwrap().order_id.clone();
    h.settle_at_provider(&order, "approved").await;

    let first = webhook.receive(unsigned(order.as_str())).await.unwrap();
    assert!(
        matches!(
            first,
            NotificationOutcome::Applied {
                status: PaymentStatus::Approved,
                ..
            }
        ),
        "{first:?}"
    );
    // Anyone can send these: a flood of them reads Mercado Pago once a
    // minute; the rest are deferred (not acknowledged: Mercado Pago's own
    // delivery comes again, so a change is never dropped).
    let calls = h.mock.state.api_calls();
    for _ in 0..5 {
        let again = webhook.receive(unsigned(order.as_str())).await;
        assert!(matches!(again, Err(WebhookError::Deferred(_))), "{again:?}");
    }
    assert_eq!(
        h.mock.state.api_calls(),
        calls,
        "not read again within the minute"
    );
    // Another order is not held back by this one's minute.
    let other = h
        .create()
        .execute(command("ord-unsigned-2", 2590), None)
        .await
        .unwrap()
        .payment;
    let other_order = other.provider().unwrap().order_id.clone();
    let read = webhook
        .receive(unsigned(other_order.as_str()))
        .await
        .unwrap();
    assert!(
        matches!(read, NotificationOutcome::Unchanged { .. }),
        "{read:?}"
    );
    h.stop().await;
}

async fn a_create_answer_for_another_total_is_canceled_and_never_shown(h: Backend) {
    h.mock
        .state
        .set_next_create_answer(json!({"total_amount": "1.00"}));
    let result = h
        .create()
        .execute(command("ord-create-mismatch", 2590), None)
        .await;
    let Err(AppError::ProviderMismatch { payment_id, reason }) = result else {
        panic!("expected a provider mismatch, got {result:?}");
    };
    assert_eq!(reason, "total amount differs");
    let stored = h.store.get(&payment_id).await.unwrap().unwrap();
    assert_eq!(stored.provider(), None, "no order recorded");
    assert_eq!(stored.qr_data(), None, "no QR code to show");
    let orders = h.mock.state.orders_created();
    assert_eq!(orders, 1);
    let listed: serde_json::Value = reqwest::get(format!("{}/mock/orders", h.mock.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at_mercado_pago: Vec<_> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["external_reference"] == payment_id.as_str())
        .collect();
    assert_eq!(at_mercado_pago.len(), 1);
    assert_eq!(
        at_mercado_pago[0]["status"], "canceled",
        "nobody can pay it"
    );
    h.stop().await;
}

async fn a_refund_mercado_pago_will_not_make_in_part_fails_and_keeps_nothing_reserved(h: Backend) {
    let paid = h.approved_payment("ord-no-partial", 2590).await;
    let order = paid.provider().unwrap().order_id.clone();
    assert!(h.mock.state.set_partial_refunds(order.as_str(), false));
    let outcome = h
        .refund()
        .execute(RefundCommand {
            payment_id: paid.id().clone(),
            amount: Some(1000),
            reason: None,
            key: IdempotencyKey::parse("part").unwrap(),
            requested_by: payments::domain::CallerId::anonymous(),
        })
        .await
        .unwrap();
    assert_eq!(outcome.refund.status, RefundStatus::Failed);
    assert_eq!(
        outcome.refund.failure,
        Some(RefundFailure::PartialNotSupported)
    );
    assert_eq!(outcome.payment.refundable(), 2590, "nothing reserved");
    // All that remains is still given back.
    let whole = h
        .refund()
        .execute(RefundCommand {
            payment_id: paid.id().clone(),
            amount: None,
            reason: None,
            key: IdempotencyKey::parse("whole").unwrap(),
            requested_by: payments::domain::CallerId::anonymous(),
        })
        .await
        .unwrap();
    assert_eq!(whole.refund.status, RefundStatus::Succeeded);
    assert_eq!(whole.payment.status(), PaymentStatus::Refunded);
    h.stop().await;
}

on_both_backends!(Backend =>
    an_unsigned_delivery_is_read_at_most_once_a_minute_per_order,
    a_create_answer_for_another_total_is_canceled_and_never_shown,
    a_refund_mercado_pago_will_not_make_in_part_fails_and_keeps_nothing_reserved,
);
