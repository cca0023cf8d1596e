//! Forged and replayed webhooks change nothing; a late one (Mercado Pago's
//! retry with its first signature) is read, at most once a minute per order.

use mercadopago_mock::signing::signature_header;
use serde_json::Value;

use payments_tests::local_stack::{order_body, payment_id, provider_order_id, Stack};
use payments_tests::{now_millis, WEBHOOK_SECRET as SECRET};

const FIVE_MINUTES_MS: i64 = 5 * 60 * 1000;

/// A pending payment whose MP order is already approved, so any webhook that got
/// through would approve it.
async fn approved_at_provider(stack: &Stack, order: &str) -> (String, String) {
    let created = stack.create(&order_body(order)).await;
    assert_eq!(created.status, 201);
    let provider_order = provider_order_id(&created.body);
    let paid = stack.pay_silently(&provider_order, "approved").await;
    assert_eq!(paid.status, 200);
    assert_eq!(paid.body["webhook"], Value::Null, "no webhook sent yet");
    (payment_id(&created.body), provider_order)
}

async fn status_of(stack: &Stack, payment: &str) -> String {
    stack.get(&format!("/payments/{payment}")).await.body["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn forged_webhooks_are_401_and_change_nothing() {
    let stack = Stack::start().await;
    let (payment, order) = approved_at_provider(&stack, "ord-forged").await;
    let query = format!("data.id={order}&type=order");
    let now = now_millis();
    let other = approved_at_provider(&stack, "ord-other").await.1;

    let valid_for_other = signature_header(SECRET, &other, "req-1", now);
    let wrong_secret = signature_header("not-the-secret", &order, "req-1", now);
    // Outside the window and not made with our secret: still a forgery.
    let stale_forged = signature_header(
        "not-the-secret",
        &order,
        "req-1",
        now - FIVE_MINUTES_MS - 1000,
    );
    let other_request_id = signature_header(SECRET, &order, "req-2", now);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("missing signature", vec![("x-request-id", "req-1")]),
        (
            "malformed signature",
            vec![("x-signature", "v1=abc"), ("x-request-id", "req-1")],
        ),
        (
            "wrong secret",
            vec![("x-signature", &wrong_secret), ("x-request-id", "req-1")],
        ),
        (
            "signed for another data.id",
            vec![("x-signature", &valid_for_other), ("x-request-id", "req-1")],
        ),
        (
            "signed for another request id",
            vec![
                ("x-signature", &other_request_id),
                ("x-request-id", "req-1"),
            ],
        ),
        (
            "ts older than 5 minutes, wrong secret",
            vec![("x-signature", &stale_forged), ("x-request-id", "req-1")],
        ),
    ];
    for (name, headers) in cases {
        let reply = stack.webhook(&query, &headers).await;
        assert_eq!(reply.status, 401, "{name}");
        assert_eq!(reply.content_type(), "application/problem+json", "{name}");
        assert_eq!(reply.body["type"], "/problems/invalid-signature", "{name}");
        assert_eq!(status_of(&stack, &payment).await, "pending", "{name}");
        assert!(stack.events().await.is_empty(), "{name}");
    }
    // Proof the setup could change something: the real signature applies.
    let genuine = signature_header(SECRET, &order, "req-1", now);
    let reply = stack
        .webhook(
            &query,
            &[("x-signature", &genuine), ("x-request-id", "req-1")],
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(status_of(&stack, &payment).await, "approved");
    stack.stop().await;
}

#[tokio::test]
async fn a_replayed_valid_webhook_is_200_and_neither_reads_mercado_pago_nor_emits_again() {
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-replay")).await;
    let order = provider_order_id(&created.body);
    let paid = stack.pay(&order, "approved").await;
    let delivery = &paid.body["webhook"];
    assert_eq!(delivery["status"], 200);
    assert_eq!(stack.events().await.len(), 1);

    // Replay exactly what MP sent, three times.
    let query = delivery["url"]
        .as_str()
        .unwrap()
        .split_once('?')
        .unwrap()
        .1
        .to_owned();
    let signature = delivery["x_signature"].as_str().unwrap().to_owned();
    let request_id = delivery["x_request_id"].as_str().unwrap().to_owned();
    let calls = stack.local.mock.state.api_calls();
    // The same signature respelled (upper-case hex, spaces, an extra part)
    // still verifies, and is still the same delivery.
    let (ts, v1) = signature.split_once(",v1=").unwrap();
    let respelled = [
        signature.clone(),
        format!("{ts},v1={}", v1.to_uppercase()),
        format!(" {ts} , v1={v1} "),
        format!("{ts},v1={v1},v2=whatever"),
    ];
    for signature in &respelled {
        let reply = stack
            .webhook(
                &query,
                &[("x-signature", signature), ("x-request-id", &request_id)],
            )
            .await;
        assert_eq!(reply.status, 200, "{signature}: {:?}", reply.body);
        assert_eq!(reply.body["outcome"], "duplicate", "{signature}");
    }
    assert_eq!(
        stack.local.mock.state.api_calls(),
        calls,
        "a replay within the window reads nothing at Mercado Pago"
    );
    assert_eq!(stack.events().await.len(), 1);
    // Another delivery about the same order (another request id) is read.
    let again = signature_header(SECRET, &order, "req-other", now_millis());
    let reply = stack
        .webhook(
            &query,
            &[("x-signature", &again), ("x-request-id", "req-other")],
        )
        .await;
    assert_eq!(reply.body["outcome"], "unchanged");
    assert_eq!(stack.local.mock.state.api_calls(), calls + 1);
    assert_eq!(
        status_of(&stack, &payment_id(&created.body)).await,
        "approved"
    );
    stack.stop().await;
}

#[tokio::test]
async fn the_sdk_style_signature_over_the_id_as_received_is_accepted() {
    let stack = Stack::start().await;
    let (payment, order) = approved_at_provider(&stack, "ord-sdk").await;
    // MP's Python SDK signs the id as received (upper case here), ts in seconds.
    let ts = (now_millis() / 1000).to_string();
    let manifest = format!("id:{order};request-id:req-9;ts:{ts};");
    let v1 = mercadopago_mock::signing::sign_manifest(SECRET, &manifest);
    let header = format!("ts={ts},v1={v1}");
    let reply = stack
        .webhook(
            &format!("data.id={order}&type=order"),
            &[("x-signature", &header), ("x-request-id", "req-9")],
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(status_of(&stack, &payment).await, "approved");
    stack.stop().await;
}

#[tokio::test]
async fn a_late_delivery_signed_with_our_secret_is_read_at_most_once_a_minute_per_order() {
    let stack = Stack::start().await;
    let now = now_millis();
    for (name, order_id, ts) in [
        ("ts 16 minutes old", "ord-late-old", now - 16 * 60 * 1000),
        (
            "ts 6 minutes ahead",
            "ord-late-ahead",
            now + FIVE_MINUTES_MS + 60_000,
        ),
    ] {
        let (payment, order) = approved_at_provider(&stack, order_id).await;
        let query = format!("data.id={order}&type=order");
        let late = signature_header(SECRET, &order, "req-1", ts);
        let headers = [("x-signature", late.as_str()), ("x-request-id", "req-1")];
        let reply = stack.webhook(&query, &headers).await;
        assert_eq!(reply.status, 200, "{name}: {:?}", reply.body);
        assert_eq!(reply.body["outcome"], "applied", "{name}");
        assert_eq!(status_of(&stack, &payment).await, "approved", "{name}");
        // The same (or any late) delivery again within the minute: not
        // read, and not acknowledged, so Mercado Pago delivers it later.
        let calls = stack.local.mock.state.api_calls();
        let reply = stack.webhook(&query, &headers).await;
        assert_eq!(reply.status, 429, "{name}: {:?}", reply.body);
        assert_eq!(
            reply.body["type"], "/problems/notification-deferred",
            "{name}"
        );
        assert_eq!(reply.headers["retry-after"], "60", "{name}");
        assert_eq!(
            stack.local.mock.state.api_calls(),
            calls,
            "{name}: Mercado Pago was read again within the minute"
        );
    }
    // A fresh signature is never held back by that minute.
    let (_, order) = approved_at_provider(&stack, "ord-late-fresh").await;
    let query = format!("data.id={order}&type=order");
    let old = signature_header(SECRET, &order, "req-1", now - 16 * 60 * 1000);
    let reply = stack
        .webhook(&query, &[("x-signature", &old), ("x-request-id", "req-1")])
        .await;
    assert_eq!(reply.body["outcome"], "applied");
    let fresh = signature_header(SECRET, &order, "req-2", now_millis());
    let reply = stack
        .webhook(
            &query,
            &[("x-signature", &fresh), ("x-request-id", "req-2")],
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["outcome"], "unchanged", "read, and nothing new");
}

#[tokio::test]
async fn other_topics_and_unknown_orders_are_acknowledged_without_change() {
    let stack = Stack::start().await;
    let now = now_millis();
    let unknown = "ORD01UNKNOWN0000000000000000";
    let signature = signature_header(SECRET, unknown, "req-1", now);
    let headers = [
        ("x-signature", signature.as_str()),
        ("x-request-id", "req-1"),
    ];
    let reply = stack
        .webhook(&format!("data.id={unknown}&type=order"), &headers)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["outcome"], "ignored");
    let reply = stack
        .webhook(&format!("data.id={unknown}&type=payment"), &headers)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["outcome"], "ignored");
    assert!(stack.events().await.is_empty());
    stack.stop().await;
}

#[tokio::test]
async fn provider_unreachable_on_a_webhook_is_503_then_the_redelivery_applies() {
    let stack = Stack::start().await;
    let (payment, order) = approved_at_provider(&stack, "ord-mp-down").await;
    stack.local.mock.state.fail_next(3, 500);
    let signature = signature_header(SECRET, &order, "req-1", now_millis());
    let headers = [
        ("x-signature", signature.as_str()),
        ("x-request-id", "req-1"),
    ];
    let query = format!("data.id={order}&type=order");
    let reply = stack.webhook(&query, &headers).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.content_type(), "application/problem+json");
    assert_eq!(status_of(&stack, &payment).await, "pending");
    assert!(stack.events().await.is_empty());

    // Not marked processed while it failed: the same delivery is applied.
    let reply = stack.webhook(&query, &headers).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["outcome"], "applied");
    assert_eq!(status_of(&stack, &payment).await, "approved");
    assert_eq!(stack.events().await.len(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn a_webhook_for_a_malformed_order_id_is_checked_first_then_ignored_without_asking_mercado_pago(
) {
    let stack = Stack::start().await;
    let malformed = "ORD/../1";
    let query = format!("data.id={malformed}&type=order");
    let now = now_millis();
    let calls = stack.local.mock.state.api_calls();

    let forged = signature_header("not-the-secret", malformed, "req-1", now);
    let reply = stack
        .webhook(
            &query,
            &[("x-signature", &forged), ("x-request-id", "req-1")],
        )
        .await;
    assert_eq!(reply.status, 401, "the signature is checked first");

    let signed = signature_header(SECRET, malformed, "req-1", now);
    let reply = stack
        .webhook(
            &query,
            &[("x-signature", &signed), ("x-request-id", "req-1")],
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["outcome"], "ignored");
    assert_eq!(
        stack.local.mock.state.api_calls(),
        calls,
        "Mercado Pago was not asked about an id it cannot have issued"
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_signature_off_by_one_digit_or_wrong_in_upper_case_is_401_and_changes_nothing() {
    let stack = Stack::start().await;
    let (payment, order) = approved_at_provider(&stack, "ord-near-miss").await;
    let now = now_millis();
    let right = signature_header(SECRET, &order, "req-1", now);
    let (head, last) = right.split_at(right.len() - 1);
    let off_by_one = format!("{head}{}", if last == "0" { "1" } else { "0" });
    let wrong = signature_header(SECRET, &order, "req-2", now);
    let (ts, v1) = wrong.split_once(",v1=").unwrap();
    let wrong_upper = format!("{ts},v1={}", v1.to_uppercase());
    for (name, header) in [
        ("off by one digit", off_by_one),
        ("upper-case wrong", wrong_upper),
    ] {
        let reply = stack
            .webhook(
                &format!("data.id={order}&type=order"),
                &[("x-signature", &header), ("x-request-id", "req-1")],
            )
            .await;
        assert_eq!(reply.status, 401, "{name}: {:?}", reply.body);
        assert_eq!(status_of(&stack, &payment).await, "pending", "{name}");
    }
    assert!(stack.events().await.is_empty());
    stack.stop().await;
}

#[tokio::test]
async fn while_the_secret_rotates_both_are_accepted_and_no_other() {
    let stack = Stack::start_with(|config| {
        config.webhook_secret = "the-new-secret,the-old-secret".into();
    })
    .await;
    // Mercado Pago signs with the current secret.
    let created = stack.create(&order_body("ord-rotation-new")).await;
    let paid = stack
        .pay(&provider_order_id(&created.body), "approved")
        .await;
    assert_eq!(paid.body["webhook"]["status"], 200, "{:?}", paid.body);

    // A delivery signed with the previous one is still accepted.
    let (payment, order) = approved_at_provider(&stack, "ord-rotation-old").await;
    let query = format!("data.id={order}&type=order");
    let now = now_millis();
    let neither = signature_header("some-other-secret", &order, "req-1", now);
    let reply = stack
        .webhook(
            &query,
            &[("x-signature", &neither), ("x-request-id", "req-1")],
        )
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(status_of(&stack, &payment).await, "pending");
    let previous = signature_header("the-old-secret", &order, "req-1", now);
    let reply = stack
        .webhook(
            &query,
            &[("x-signature", &previous), ("x-request-id", "req-1")],
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(status_of(&stack, &payment).await, "approved");
    stack.stop().await;
}
