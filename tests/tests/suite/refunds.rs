//! `POST /payments/{payment_id}/refunds`: every answer, bad input, Mercado Pago
//! down or refusing; a refused request changes nothing.

use payments_tests::local_stack::{order_body, payment_id, provider_order_id, Reply, Stack};
use serde_json::Value;

fn assert_problem(reply: &Reply, status: u16, slug: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.content_type(), "application/problem+json");
    assert_eq!(
        reply.body["type"],
        format!("/problems/{slug}"),
        "{:?}",
        reply.body
    );
}

async fn read(stack: &Stack, payment: &str) -> Value {
    stack.get(&format!("/payments/{payment}")).await.body
}

#[tokio::test]
async fn a_partial_then_a_full_refund_are_given_back_and_announced() {
    let stack = Stack::start().await;
    let paid = stack.approved_payment("ord-refund-http").await;
    let payment = payment_id(&paid);

    let first = stack
        .refund(
            &payment,
            Some("r-1"),
            r#"{"amount": 1000, "reason": "cold fries"}"#,
        )
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.body["refund"]["status"], "succeeded");
    assert_eq!(first.body["refund"]["amount"], 1000);
    assert_eq!(first.body["refund"]["reason"], "cold fries");
    assert_eq!(first.body["refund"]["source"], "api");
    assert!(first.body["refund"]["provider_refund_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("REF")));
    assert_eq!(first.body["payment"]["status"], "approved");
    assert_eq!(first.body["payment"]["amount_refunded"], 1000);

    // No amount: all that remains.
    let rest = stack.refund(&payment, Some("r-2"), "").await;
    assert_eq!(rest.status, 201, "{:?}", rest.body);
    assert_eq!(rest.body["refund"]["amount"], 1590);
    assert_eq!(rest.body["payment"]["status"], "refunded");
    assert_eq!(rest.body["payment"]["amount_refunded"], 2590);

    let stored = read(&stack, &payment).await;
    assert_eq!(stored["refunds"].as_array().map(Vec::len), Some(2));
    let events = stack.events().await;
    let kinds: Vec<_> = events.iter().map(|e| e["event_type"].clone()).collect();
    assert_eq!(
        kinds,
        ["payment.approved", "payment.refunded", "payment.refunded"]
    );
    assert_eq!(events[1]["refund"]["amount"], 1000);
    assert_eq!(events[1]["status"], "approved");
    assert_eq!(events[2]["status"], "refunded");
    assert_eq!(events[2]["amount_refunded"], 2590);

    let nothing_left = stack.refund(&payment, Some("r-3"), "").await;
    assert_eq!(nothing_left.status, 409, "{:?}", nothing_left.body);
    assert_eq!(
        nothing_left.body["type"],
        "/problems/payment-not-refundable"
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_repeated_key_answers_the_same_refund_and_another_body_is_422() {
    let stack = Stack::start().await;
    let paid = stack.approved_payment("ord-refund-key").await;
    let payment = payment_id(&paid);
    let body = r#"{"amount": 500}"#;
    let first = stack.refund(&payment, Some("same"), body).await;
    let again = stack.refund(&payment, Some("same"), body).await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(
        first.body["refund"]["refund_id"],
        again.body["refund"]["refund_id"]
    );
    assert_eq!(
        again.body["payment"]["amount_refunded"], 500,
        "given back once"
    );

    let other = stack
        .refund(&payment, Some("same"), r#"{"amount": 600}"#)
        .await;
    assert_eq!(other.status, 422);
    assert_eq!(other.body["type"], "/problems/idempotency-key-reused");
    let stored = read(&stack, &payment).await;
    assert_eq!(stored["amount_refunded"], 500);
    assert_eq!(stored["refunds"].as_array().map(Vec::len), Some(1));
    stack.stop().await;
}

#[tokio::test]
async fn bad_refund_requests_are_clear_4xx_and_change_nothing() {
    let stack = Stack::start().await;
    let paid = stack.approved_payment("ord-refund-bad").await;
    let payment = payment_id(&paid);
    let cases: [(&str, Option<&str>, &str, u16, &str); 9] = [
        (
            "no key",
            None,
            r#"{"amount": 100}"#,
            400,
            "idempotency-key-required",
        ),
        (
            "zero",
            Some("k"),
            r#"{"amount": 0}"#,
            422,
            "validation-failed",
        ),
        (
            "negative",
            Some("k"),
            r#"{"amount": -5}"#,
            422,
            "validation-failed",
        ),
        (
            "float",
            Some("k"),
            r#"{"amount": 12.5}"#,
            400,
            "malformed-request",
        ),
        (
            "string",
            Some("k"),
            r#"{"amount": "100"}"#,
            400,
            "malformed-request",
        ),
        (
            "unknown field",
            Some("k"),
            r#"{"amount": 100, "amout": 1}"#,
            400,
            "malformed-request",
        ),
        (
            "array",
            Some("k"),
            r#"[100, "why"]"#,
            400,
            "malformed-request",
        ),
        (
            "above the amount",
            Some("k"),
            r#"{"amount": 2591}"#,
            422,
            "validation-failed",
        ),
        (
            "long reason",
            Some("k"),
            &format!(r#"{{"reason": "{}"}}"#, "x".repeat(151)),
            422,
            "validation-failed",
        ),
    ];
    for (name, key, body, status, slug) in cases {
        let reply = stack.refund(&payment, key, body).await;
        assert_eq!(reply.status, status, "{name}: {:?}", reply.body);
        assert_eq!(reply.content_type(), "application/problem+json", "{name}");
        assert_eq!(reply.body["type"], format!("/problems/{slug}"), "{name}");
        if status == 422 {
            assert!(
                reply.body["errors"][0]["field"].is_string(),
                "{name} names its field"
            );
        }
    }
    let unknown = stack
        .refund("pay_01JD0000000000000000000000", Some("k"), "")
        .await;
    assert_eq!(unknown.status, 404);
    let malformed = stack.refund("pay_nope", Some("k"), "").await;
    assert_eq!(malformed.status, 400);
    let stored = read(&stack, &payment).await;
    assert_eq!(stored["amount_refunded"], 0);
    assert_eq!(stored["refunds"], serde_json::json!([]));
    assert_eq!(stack.events().await.len(), 1, "only the approval");
    stack.stop().await;
}

#[tokio::test]
async fn only_an_approved_payment_is_refundable() {
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-refund-pending")).await;
    let reply = stack
        .refund(&payment_id(&created.body), Some("k"), "")
        .await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.body["type"], "/problems/payment-not-refundable");
    stack.stop().await;
}

#[tokio::test]
async fn mercado_pago_down_keeps_the_refund_pending_and_reserved() {
    let stack = Stack::start().await;
    let paid = stack.approved_payment("ord-refund-down").await;
    let payment = payment_id(&paid);
    stack.local.mock.state.fail_next(3, 503);
    let reply = stack
        .refund(&payment, Some("down"), r#"{"amount": 2000}"#)
        .await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    assert_eq!(reply.body["refund"]["status"], "pending");
    assert_eq!(reply.body["payment"]["amount_refunded"], 0);
    // The pending refund holds its amount: a second one cannot take it too.
    let second = stack
        .refund(&payment, Some("other"), r#"{"amount": 1000}"#)
        .await;
    assert_eq!(second.status, 422, "{:?}", second.body);
    assert_eq!(second.body["errors"][0]["field"], "amount");
    stack.stop().await;
}

#[tokio::test]
async fn a_refund_mercado_pago_refuses_is_422_recorded_failed_and_releases_its_amount() {
    let stack = Stack::start().await;
    let paid = stack.approved_payment("ord-refund-refused").await;
    let payment = payment_id(&paid);
    let order = provider_order_id(&paid);
    let closed = stack
        .mock_post(
            &format!("/mock/orders/{order}/refund-window"),
            &serde_json::json!({"open": false}),
        )
        .await;
    assert_eq!(closed.status, 200);
    let reply = stack.refund(&payment, Some("late"), "").await;
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    assert_eq!(reply.body["type"], "/problems/refund-rejected");
    let stored = read(&stack, &payment).await;
    assert_eq!(stored["refunds"][0]["status"], "failed");
    assert!(stored["refunds"][0]["failure_reason"].is_string());
    assert_eq!(stored["amount_refunded"], 0);
    assert_eq!(stored["status"], "approved");

    // Nothing stays reserved: once Mercado Pago accepts again, all of it can go back.
    stack
        .mock_post(
            &format!("/mock/orders/{order}/refund-window"),
            &serde_json::json!({"open": true}),
        )
        .await;
    let retried = stack.refund(&payment, Some("later"), "").await;
    assert_eq!(retried.status, 201, "{:?}", retried.body);
    assert_eq!(retried.body["payment"]["status"], "refunded");
    stack.stop().await;
}

#[tokio::test]
async fn a_refund_mercado_pago_will_not_make_in_part_is_422_and_reserves_nothing() {
    let stack = Stack::start().await;
    let paid = stack.approved_payment("ord-refund-no-part").await;
    let payment = payment_id(&paid);
    let order = provider_order_id(&paid);
    let switched = stack
        .mock_post(
            &format!("/mock/orders/{order}/partial-refunds"),
            &serde_json::json!({"supported": false}),
        )
        .await;
    assert_eq!(switched.status, 200, "{:?}", switched.body);
    let reply = stack
        .refund(&payment, Some("part"), r#"{"amount": 1000}"#)
        .await;
    assert_problem(&reply, 422, "partial-refund-not-supported");
    // The same key answers the same, from what was recorded.
    let again = stack
        .refund(&payment, Some("part"), r#"{"amount": 1000}"#)
        .await;
    assert_problem(&again, 422, "partial-refund-not-supported");
    let stored = read(&stack, &payment).await;
    assert_eq!(stored["refunds"][0]["status"], "failed");
    assert_eq!(stored["amount_refunded"], 0);
    // Nothing is held: all that remains still goes back.
    let whole = stack.refund(&payment, Some("whole"), "").await;
    assert_eq!(whole.status, 201, "{:?}", whole.body);
    assert_eq!(whole.body["payment"]["amount_refunded"], 2590);
    stack.stop().await;
}

#[tokio::test]
async fn a_refund_above_what_mercado_pago_holds_records_its_dashboard_refunds_and_says_what_remains(
) {
    let stack = Stack::start().await;
    let paid = stack.approved_payment("ord-refund-above").await;
    let payment = payment_id(&paid);
    let order = provider_order_id(&paid);
    // Refunded in Mercado Pago's dashboard, and its notification lost.
    let dashboard = stack
        .mock_post(
            &format!("/mock/orders/{order}/refund"),
            &serde_json::json!({"amount": "10.00", "notify": false}),
        )
        .await;
    assert_eq!(dashboard.status, 200, "{:?}", dashboard.body);

    let reply = stack
        .refund(&payment, Some("too-much"), r#"{"amount": 2000}"#)
        .await;
    assert_problem(&reply, 422, "validation-failed");
    assert_eq!(reply.body["errors"][0]["field"], "amount");
    assert!(
        reply.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("1590")),
        "names what truly remains: {:?}",
        reply.body
    );
    let stored = read(&stack, &payment).await;
    assert_eq!(
        stored["amount_refunded"], 1000,
        "the dashboard's refund recorded"
    );
    let sources: Vec<_> = stored["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["source"].clone(), r["status"].clone()))
        .collect();
    assert!(
        sources.contains(&("provider".into(), "succeeded".into())),
        "{sources:?}"
    );
    assert!(
        sources.contains(&("api".into(), "failed".into())),
        "{sources:?}"
    );
    let kinds: Vec<_> = stack
        .events()
        .await
        .iter()
        .map(|e| e["event_type"].clone())
        .collect();
    assert_eq!(kinds, ["payment.approved", "payment.refunded"]);
    stack.stop().await;
}
