//! The payment flow end to end over HTTP (DESIGN 3, 5, 7, 10).

use serde_json::Value;

use crate::support::{order_body, payment_id, provider_order_id, Stack};

const EVENT_FIELDS: [&str; 11] = [
    "amount",
    "currency",
    "decline_reason",
    "event_id",
    "event_type",
    "occurred_at",
    "order_id",
    "payment_id",
    "provider_payment_id",
    "schema_version",
    "status",
];

fn assert_event(event: &Value, payment: &Value, event_type: &str, status: &str) {
    let mut keys: Vec<&str> = event
        .as_object()
        .expect("event is an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut expected: Vec<&str> = EVENT_FIELDS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected, "event body has exactly the DESIGN 7 fields");
    assert!(event["event_id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(event["event_id"].as_str().unwrap().len(), 30);
    assert_eq!(event["event_type"], event_type);
    assert_eq!(event["schema_version"], 1);
    assert_eq!(event["payment_id"], payment["payment_id"]);
    assert_eq!(event["order_id"], payment["order_id"]);
    assert_eq!(event["status"], status);
    assert_eq!(event["amount"], 2590);
    assert_eq!(event["currency"], "BRL");
    assert_eq!(
        event["provider_payment_id"],
        payment["provider"]["payment_id"]
    );
    assert!(time::OffsetDateTime::parse(
        event["occurred_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339
    )
    .is_ok());
}

#[tokio::test]
async fn approved_payment_is_stored_and_broadcast_once() {
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-approve")).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = payment_id(&created.body);
    assert_eq!(
        created.headers["location"].to_str().unwrap(),
        format!("/payments/{id}")
    );
    assert_eq!(created.body["status"], "pending");
    assert!(created.body["qr_data"]
        .as_str()
        .is_some_and(|q| !q.is_empty()));
    assert!(stack.events().await.is_empty());

    let paid = stack
        .pay(&provider_order_id(&created.body), "approved")
        .await;
    assert_eq!(paid.status, 200);
    assert_eq!(paid.body["webhook"]["status"], 200);

    let read = stack.get(&format!("/payments/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["status"], "approved");
    assert_eq!(read.body["decline_reason"], Value::Null);
    let events = stack.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_event(&events[0], &read.body, "payment.approved", "approved");
    stack.stop().await;
}

#[tokio::test]
async fn rejected_payment_is_declined_with_reason() {
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-reject")).await;
    assert_eq!(created.status, 201);
    let paid = stack
        .pay(&provider_order_id(&created.body), "rejected")
        .await;
    assert_eq!(paid.body["webhook"]["status"], 200);

    let read = stack
        .get(&format!("/payments/{}", payment_id(&created.body)))
        .await;
    assert_eq!(read.body["status"], "declined");
    assert_eq!(read.body["decline_reason"], "rejected_by_issuer");
    let events = stack.events().await;
    assert_eq!(events.len(), 1);
    assert_event(&events[0], &read.body, "payment.declined", "declined");
    assert_eq!(events[0]["decline_reason"], "rejected_by_issuer");
    stack.stop().await;
}

#[tokio::test]
async fn expired_order_expires_the_payment() {
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-expire")).await;
    let expired = stack.expire(&provider_order_id(&created.body)).await;
    assert_eq!(expired.body["webhook"]["status"], 200);

    let read = stack
        .get(&format!("/payments/{}", payment_id(&created.body)))
        .await;
    assert_eq!(read.body["status"], "expired");
    let events = stack.events().await;
    assert_eq!(events.len(), 1);
    assert_event(&events[0], &read.body, "payment.expired", "expired");
    stack.stop().await;
}

#[tokio::test]
async fn retried_create_returns_the_same_payment_and_one_provider_order() {
    let stack = Stack::start().await;
    let body = order_body("ord-retry");
    let first = stack.create(&body).await;
    let second = stack.create(&body).await;
    assert_eq!(first.status, 201);
    assert_eq!(second.status, 200);
    assert_eq!(first.body["payment_id"], second.body["payment_id"]);
    assert_eq!(first.body["qr_data"], second.body["qr_data"]);
    assert_eq!(stack.orders_created(), 1);
    let list = stack.get("/payments?order_id=ord-retry").await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
    stack.stop().await;
}

#[tokio::test]
async fn a_different_request_for_a_pending_order_conflicts() {
    let stack = Stack::start().await;
    let first = stack.create(&order_body("ord-twice")).await;
    assert_eq!(first.status, 201);
    let mut other = order_body("ord-twice");
    other["description"] = "another kiosk".into();
    let second = stack.create(&other).await;
    assert_eq!(second.status, 409);
    assert_eq!(second.content_type(), "application/problem+json");
    assert_eq!(second.body["type"], "/problems/order-has-live-payment");
    assert_eq!(stack.orders_created(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn after_a_decline_a_new_attempt_gets_a_new_payment() {
    let stack = Stack::start().await;
    let body = order_body("ord-again");
    let first = stack.create(&body).await;
    stack.pay(&provider_order_id(&first.body), "rejected").await;

    let second = stack.create(&body).await;
    assert_eq!(second.status, 201, "{:?}", second.body);
    assert_ne!(second.body["payment_id"], first.body["payment_id"]);
    assert_eq!(second.body["status"], "pending");
    assert_eq!(stack.orders_created(), 2);

    let list = stack.get("/payments?order_id=ord-again").await;
    let items = list.body["items"].as_array().cloned().unwrap_or_default();
    let ids: Vec<&Value> = items.iter().map(|p| &p["payment_id"]).collect();
    assert_eq!(
        ids,
        vec![&second.body["payment_id"], &first.body["payment_id"]],
        "newest first"
    );
    stack.stop().await;
}

#[tokio::test]
async fn an_approved_order_cannot_be_charged_again() {
    let stack = Stack::start().await;
    let body = order_body("ord-paid");
    let first = stack.create(&body).await;
    stack.pay(&provider_order_id(&first.body), "approved").await;

    for attempt in [body.clone(), {
        let mut other = body.clone();
        other["description"] = "different".into();
        other
    }] {
        let again = stack.create(&attempt).await;
        assert_eq!(again.status, 409);
        assert_eq!(again.content_type(), "application/problem+json");
        assert_eq!(again.body["type"], "/problems/order-already-paid");
        assert_eq!(again.body["status"], 409);
    }
    assert_eq!(stack.orders_created(), 1);
    assert_eq!(stack.local.store.payment_count(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn reads_answer_404_and_400_as_problems() {
    let stack = Stack::start().await;
    let unknown = stack.get("/payments/pay_01JD0000000000000000000000").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.content_type(), "application/problem+json");
    for (path, field) in [
        ("/payments/not-a-payment", "payment_id"),
        ("/payments", "order_id"),
        ("/payments?order_id=bad%20id", "order_id"),
    ] {
        let reply = stack.get(path).await;
        assert_eq!(reply.status, 400, "{path}");
        assert_eq!(reply.content_type(), "application/problem+json");
        assert_eq!(reply.body["errors"][0]["field"], field, "{path}");
    }
    let empty = stack.get("/payments?order_id=nobody").await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body["items"], serde_json::json!([]));
    stack.stop().await;
}

#[tokio::test]
async fn provider_outage_on_create_is_503_and_a_retry_completes_the_same_payment() {
    let stack = Stack::start().await;
    // More failures than the client's retries: the create gives up.
    stack.local.mock.state.fail_next(3, 503);
    let body = order_body("ord-outage");
    let failed = stack.create(&body).await;
    assert_eq!(failed.status, 503);
    assert_eq!(failed.content_type(), "application/problem+json");
    assert_eq!(failed.body["type"], "/problems/provider-unavailable");
    assert_eq!(stack.orders_created(), 0);

    let retried = stack.create(&body).await;
    assert_eq!(retried.status, 200, "{:?}", retried.body);
    assert!(retried.body["qr_data"].as_str().is_some());
    assert_eq!(stack.orders_created(), 1);
    assert_eq!(stack.local.store.payment_count(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let stack = Stack::start().await;
    let body = order_body("ord-keyed");
    let keyed = |body: &Value, key: &str| {
        stack
            .http
            .post(stack.api("/payments"))
            .header("Idempotency-Key", key)
            .json(body)
    };
    let first = stack.send(keyed(&body, "kiosk-7-attempt-1")).await;
    assert_eq!(first.status, 201);
    stack.pay(&provider_order_id(&first.body), "approved").await;

    // Even after the payment moved on, the key answers with that payment.
    let again = stack.send(keyed(&body, "kiosk-7-attempt-1")).await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body["payment_id"], first.body["payment_id"]);
    assert_eq!(again.body["status"], "approved");
    // Without the key, the order rule applies.
    assert_eq!(stack.create(&body).await.status, 409);

    let mut other = body.clone();
    other["description"] = "a different request".into();
    let reused = stack.send(keyed(&other, "kiosk-7-attempt-1")).await;
    assert_eq!(reused.status, 422);
    assert_eq!(reused.content_type(), "application/problem+json");
    assert_eq!(reused.body["type"], "/problems/idempotency-key-reused");

    let bad_key = stack.send(keyed(&body, &"k".repeat(256))).await;
    assert_eq!(bad_key.status, 400);
    assert_eq!(bad_key.body["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(stack.orders_created(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn the_local_schedule_expires_a_payment_whose_webhook_never_came() {
    let stack = Stack::start_with(|config| {
        config.payment_expiry = std::time::Duration::from_millis(300);
        config.scheduled_every = Some(std::time::Duration::from_millis(100));
    })
    .await;
    let created = stack.create(&order_body("ord-abandoned")).await;
    assert_eq!(created.status, 201);
    let id = payment_id(&created.body);
    let mut status = String::new();
    for _ in 0..50 {
        status = stack.get(&format!("/payments/{id}")).await.body["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status != "pending" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "expired");
    let order = provider_order_id(&created.body);
    assert_eq!(
        stack.local.mock.state.order_status(&order).as_deref(),
        Some("canceled")
    );
    let events = stack.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_type"], "payment.expired");
    // Paying the canceled order is no longer possible.
    assert_eq!(stack.pay(&order, "approved").await.status, 409);
    stack.stop().await;
}
