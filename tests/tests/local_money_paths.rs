//! The money paths as a user tries them, from outside: HTTP against
//! payments-local and its Mercado Pago mock, with 30-second QR codes and the
//! relay and sweeper every second (`PAYMENT_EXPIRY=PT30S SCHEDULE_EVERY=PT1S`).
//! Its own test binary: the local stack's metrics are the process's one
//! global recorder.

use std::future::Future;
use std::time::{Duration, Instant};

use payments_local::KeptMetrics;
use payments_tests::local_stack::{order_body, payment_id, provider_order_id, Stack};
use serde_json::{json, Value};

async fn stack() -> Stack {
    Stack::start_with(|config| {
        config.payment_expiry = Duration::from_secs(30);
        config.scheduled_every = Some(Duration::from_secs(1));
        config.kept_metrics = KeptMetrics::install().or(config.kept_metrics.take());
    })
    .await
}

/// Polls `check` until it holds, for at most `within`; how long it took.
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < within {
        if check().await {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within {within:?}");
}

async fn payment(stack: &Stack, id: &str) -> Value {
    let reply = stack.get(&format!("/payments/{id}")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

/// The order as Mercado Pago (the mock) holds it.
async fn order_at_mock(stack: &Stack, order: &str) -> Value {
    let reply = stack.get_mock(&format!("/v1/orders/{order}")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

/// Minor units the mock's order has refunded, and how many refunds.
fn refunded_at_mock(order: &Value) -> (i64, usize) {
    let refunds = order["transactions"]["refunds"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let minor = refunds
        .iter()
        .map(|r| {
            let decimal: f64 = r["amount"].as_str().unwrap().parse().unwrap();
            (decimal * 100.0).round() as i64
        })
        .sum();
    (minor, refunds.len())
}

/// A payment created, then canceled by the kiosk (at Mercado Pago too).
async fn canceled_payment(stack: &Stack, order: &str) -> (String, String) {
    let created = stack.create(&order_body(order)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = payment_id(&created.body);
    let canceled = stack.cancel(&id).await;
    assert_eq!(canceled.status, 200, "{:?}", canceled.body);
    (id, provider_order_id(&created.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_money_paths_hold_on_the_local_stack() {
    let stack = stack().await;
    an_api_refund_made_while_mercado_pago_is_down_and_a_dashboard_refund_both_land(&stack).await;
    a_late_payment_mercado_pago_will_not_refund_is_flagged_then_given_back(&stack).await;
    a_late_payment_whose_webhook_is_lost_is_refunded_by_the_sweeper(&stack).await;
    a_cancel_names_its_request_on_its_event(&stack).await;
    stack.stop().await;
}

async fn an_api_refund_made_while_mercado_pago_is_down_and_a_dashboard_refund_both_land(
    stack: &Stack,
) {
    let approved = stack.approved_payment("ord-local-down").await;
    let id = payment_id(&approved);
    let order = provider_order_id(&approved);
    let down = stack
        .mock_post("/mock/faults", &json!({"fail_next": 20}))
        .await;
    assert!(down.status < 300, "{:?}", down.body);
    let refund = stack
        .refund(&id, Some("refund-while-down"), r#"{"amount": 1000}"#)
        .await;
    assert_eq!(
        refund.status, 202,
        "pending while Mercado Pago is down: {:?}",
        refund.body
    );
    stack.clear_mock_faults().await;
    // An operator refunds the same amount in Mercado Pago's dashboard.
    let dashboard = stack
        .mock_post(
            &format!("/mock/orders/{order}/refund"),
            &json!({"amount": "10.00"}),
        )
        .await;
    assert_eq!(dashboard.status, 200, "{:?}", dashboard.body);

    eventually(
        "both refunds made and recorded",
        Duration::from_secs(20),
        || async {
            let ours = payment(stack, &id).await;
            let (minor, count) = refunded_at_mock(&order_at_mock(stack, &order).await);
            count == 2 && minor == 2000 && ours["amount_refunded"] == 2000
        },
    )
    .await;
    let ours = payment(stack, &id).await;
    let sources: Vec<&str> = ours["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources.len(), 2, "{ours}");
    assert!(
        sources.contains(&"api") && sources.contains(&"provider"),
        "{sources:?}"
    );

    // Its events: approved, refunded, refunded, numbered 1, 2, 3, each
    // naming the request that caused it.
    let events: Vec<Value> = stack
        .events()
        .await
        .into_iter()
        .filter(|e| e["payment_id"] == id.as_str())
        .collect();
    let mut sequences: Vec<u64> = events
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    sequences.sort_unstable();
    assert_eq!(sequences, [1, 2, 3], "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e["correlation_id"].as_str().is_some_and(|c| !c.is_empty())),
        "{events:?}"
    );
}

async fn a_late_payment_mercado_pago_will_not_refund_is_flagged_then_given_back(stack: &Stack) {
    let (id, order) = canceled_payment(stack, "ord-local-window").await;
    let window = format!("/mock/orders/{order}/refund-window");
    stack.mock_post(&window, &json!({"open": false})).await;
    let paid = stack
        .mock_post(
            &format!("/mock/orders/{order}/pay"),
            &json!({"outcome": "approved", "force": true}),
        )
        .await;
    assert_eq!(paid.status, 200, "{:?}", paid.body);

    eventually("flagged for review", Duration::from_secs(10), || async {
        payment(stack, &id).await["needs_review"] == true
    })
    .await;
    let metrics = stack.get("/local/metrics").await;
    assert!(
        metrics.body["counters"]["LatePaymentRefundFailed"].as_u64() >= Some(1),
        "{:?}",
        metrics.body
    );
    assert_eq!(
        payment(stack, &id).await["status"],
        "canceled",
        "not given up"
    );

    stack.mock_post(&window, &json!({"open": true})).await;
    let took = eventually(
        "given back once the window reopens",
        Duration::from_secs(20),
        || async {
            let ours = payment(stack, &id).await;
            let (minor, _) = refunded_at_mock(&order_at_mock(stack, &order).await);
            ours["status"] == "refunded" && ours["needs_review"] == false && minor == 2590
        },
    )
    .await;
    assert!(took < Duration::from_secs(20), "within seconds: {took:?}");
}

async fn a_late_payment_whose_webhook_is_lost_is_refunded_by_the_sweeper(stack: &Stack) {
    let (id, order) = canceled_payment(stack, "ord-local-lost").await;
    let paid = stack
        .mock_post(
            &format!("/mock/orders/{order}/pay"),
            &json!({"outcome": "approved", "force": true, "notify": false}),
        )
        .await;
    assert_eq!(paid.status, 200, "{:?}", paid.body);
    eventually(
        "refunded by the sweeper",
        Duration::from_secs(30),
        || async {
            let ours = payment(stack, &id).await;
            let (minor, _) = refunded_at_mock(&order_at_mock(stack, &order).await);
            ours["status"] == "refunded" && minor == 2590
        },
    )
    .await;
}

async fn a_cancel_names_its_request_on_its_event(stack: &Stack) {
    let created = stack.create(&order_body("ord-local-request-id")).await;
    let id = payment_id(&created.body);
    let canceled = stack
        .send(
            stack
                .http
                .post(stack.api(&format!("/payments/{id}/cancel")))
                .header("x-request-id", "kiosk-7-cancel-1"),
        )
        .await;
    assert_eq!(canceled.status, 200, "{:?}", canceled.body);
    let events = stack.events().await;
    let event = events
        .iter()
        .find(|e| e["payment_id"] == id.as_str() && e["event_type"] == "payment.canceled")
        .unwrap();
    assert_eq!(event["correlation_id"], "kiosk-7-cancel-1");
    assert_eq!(event["sequence"], 1);
}
