//! `POST /payments/{payment_id}/cancel`: every answer a kiosk can get, and
//! nothing changed when it is refused.

use payments_tests::local_stack::{order_body, payment_id, provider_order_id, Stack};

async fn status_of(stack: &Stack, payment: &str) -> String {
    stack.get(&format!("/payments/{payment}")).await.body["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn an_approved_payment_is_409_already_approved_and_stays_approved() {
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-cancel-paid")).await;
    let payment = payment_id(&created.body);
    let paid = stack
        .pay(&provider_order_id(&created.body), "approved")
        .await;
    assert_eq!(paid.body["webhook"]["status"], 200);

    let reply = stack.cancel(&payment).await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.content_type(), "application/problem+json");
    assert_eq!(reply.body["type"], "/problems/payment-already-approved");
    assert_eq!(status_of(&stack, &payment).await, "approved");
    assert_eq!(
        stack.events().await.len(),
        1,
        "no event besides the approval"
    );
    stack.stop().await;
}

#[tokio::test]
async fn declined_and_expired_payments_are_409_not_cancelable() {
    let stack = Stack::start().await;
    for (order, settle) in [
        ("ord-cancel-declined", "rejected"),
        ("ord-cancel-expired", "expire"),
    ] {
        let created = stack.create(&order_body(order)).await;
        let provider_order = provider_order_id(&created.body);
        if settle == "expire" {
            stack.expire(&provider_order).await;
        } else {
            stack.pay(&provider_order, settle).await;
        }
        let payment = payment_id(&created.body);
        let before = status_of(&stack, &payment).await;
        assert_ne!(before, "pending", "{order} settled first");
        let reply = stack.cancel(&payment).await;
        assert_eq!(reply.status, 409, "{order}: {:?}", reply.body);
        assert_eq!(reply.body["type"], "/problems/payment-not-cancelable");
        assert_eq!(status_of(&stack, &payment).await, before);
    }
    assert_eq!(stack.events().await.len(), 2, "only the two settlements");
    stack.stop().await;
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404_and_400() {
    let stack = Stack::start().await;
    let unknown = stack.cancel("pay_01JD0000000000000000000000").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["type"], "/problems/payment-not-found");
    let malformed = stack.cancel("not-a-payment").await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.body["errors"][0]["field"], "payment_id");
    stack.stop().await;
}

#[tokio::test]
async fn mercado_pago_down_is_503_and_nothing_changes_then_a_retry_cancels() {
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-cancel-down")).await;
    let payment = payment_id(&created.body);
    stack.local.mock.state.fail_next(3, 503);
    let reply = stack.cancel(&payment).await;
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert_eq!(reply.body["type"], "/problems/provider-unavailable");
    assert_eq!(status_of(&stack, &payment).await, "pending");
    assert_eq!(
        stack
            .local
            .mock
            .state
            .order_status(&provider_order_id(&created.body))
            .as_deref(),
        Some("created"),
        "the QR code is still payable: nothing was canceled"
    );
    assert!(stack.events().await.is_empty());

    let retried = stack.cancel(&payment).await;
    assert_eq!(retried.status, 200, "{:?}", retried.body);
    assert_eq!(retried.body["status"], "canceled");
    stack.stop().await;
}

#[tokio::test]
async fn a_cancel_at_mercado_pago_that_we_did_not_record_is_recorded_on_retry() {
    // Our earlier attempt canceled at Mercado Pago, then died before the commit.
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-cancel-crash")).await;
    let payment = payment_id(&created.body);
    let order = provider_order_id(&created.body);
    let canceled_there = stack
        .send(
            stack
                .http
                .post(stack.mock(&format!("/v1/orders/{order}/cancel")))
                .bearer_auth(payments_local::LOCAL_ACCESS_TOKEN)
                .header("x-idempotency-key", format!("cancel-{payment}")),
        )
        .await;
    assert_eq!(canceled_there.status, 200, "{:?}", canceled_there.body);

    let reply = stack.cancel(&payment).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "canceled");
    let events = stack.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_type"], "payment.canceled");
    stack.stop().await;
}
