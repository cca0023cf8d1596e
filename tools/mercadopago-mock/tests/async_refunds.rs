//! Refunds as Mercado Pago makes them: taken `processing`, settled later
//! (`processed`, the order updated, then its webhook), or failed by a control
//! call; one at a time per order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const SETTLE: Duration = Duration::from_millis(300);
const WITHIN: Duration = Duration::from_secs(5);

/// Reads the order until its refund `refund_id` is `status`.
async fn until_refund(mock: &Mock, order: &Value, refund_id: &str, status: &str) -> Value {
    eventually(WITHIN, || async {
        let read = mock.get(order).await;
        let found = refunds(&read)
            .iter()
            .any(|r| r["id"] == refund_id && r["status"] == status);
        found.then_some(read)
    })
    .await
}

#[tokio::test]
async fn an_api_refund_is_processing_first_then_processed_and_notified() {
    let receiver = Receiver::start().await;
    let mock = Mock::settling(SETTLE).await;
    let order = mock.paid("25.90", Some(&receiver.url)).await;

    let asked = Instant::now();
    let answer = mock
        .refund(&order, "async-partial", Some(partial(&order, "10.00")))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let taken = answer.body;
    assert_eq!(taken["status"], "processed", "the order's status waits");
    assert_eq!(taken["status_detail"], "processed");
    let made = refunds(&taken);
    assert_eq!(made.len(), 1);
    assert_refund(&made[0], &order, "10.00", "processing");
    assert!(
        receiver.received().is_empty(),
        "no webhook before it settles"
    );
    let read = mock.get(&order).await;
    assert_eq!(refunds(&read)[0]["status"], "processing");
    assert_eq!(read["status_detail"], "processed");

    let refund_id = made[0]["id"].as_str().unwrap();
    let settled = until_refund(&mock, &order, refund_id, "processed").await;
    assert!(asked.elapsed() >= SETTLE, "settled after the delay");
    assert_eq!(settled["status"], "processed");
    assert_eq!(settled["status_detail"], "partially_refunded");
    let bodies = receiver.wait_for(1).await;
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["action"], "order.refunded");
    assert_eq!(bodies[0]["data"]["id"], id(&order));
    assert_eq!(bodies[0]["data"]["status_detail"], "partially_refunded");
    assert_signed(&receiver.received()[0].1, id(&order));

    // The rest: the order ends `refunded` once that settles too.
    let rest = mock.refund(&order, "async-rest", None).await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    assert_eq!(rest.body["status_detail"], "partially_refunded");
    let second = refunds(&rest.body)[1].clone();
    assert_refund(&second, &order, "15.90", "processing");
    let done = until_refund(&mock, &order, second["id"].as_str().unwrap(), "processed").await;
    assert_eq!(done["status"], "refunded");
    assert_eq!(done["status_detail"], "refunded");
    assert_eq!(done["transactions"]["payments"][0]["status"], "refunded");
    let bodies = receiver.wait_for(2).await;
    assert_eq!(bodies[1]["data"]["status"], "refunded");
    // A redelivery repeats `order.refunded`.
    let again = mock
        .control(&format!("/mock/orders/{}/notify", id(&order)), None)
        .await;
    assert_eq!(again.body["webhook"]["body"]["action"], "order.refunded");
    mock.stop().await;
    receiver.stop().await;
}

#[tokio::test]
async fn a_new_refund_while_one_is_processing_is_409_refund_in_progress() {
    let mock = Mock::settling(Duration::from_secs(30)).await;
    let order = mock.paid("25.90", None).await;
    let first = mock
        .refund(&order, "in-progress-1", Some(partial(&order, "5.00")))
        .await;
    assert_eq!(first.status, 201);

    let answer = mock
        .refund(&order, "in-progress-2", Some(partial(&order, "5.00")))
        .await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert_eq!(answer.code(), "refund_in_progress");
    let answer = mock.refund(&order, "in-progress-3", None).await;
    assert_eq!(answer.status, 409);
    assert_eq!(answer.code(), "refund_in_progress");
    let answer = mock
        .control(&format!("/mock/orders/{}/refund", id(&order)), None)
        .await;
    assert_eq!(answer.status, 409, "the dashboard too");
    assert_eq!(answer.code(), "refund_in_progress");
    assert_eq!(refunds(&mock.get(&order).await).len(), 1);

    // The first key still replays its first answer (processing).
    let again = mock
        .refund(&order, "in-progress-1", Some(partial(&order, "5.00")))
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    mock.stop().await;
}

#[tokio::test]
async fn failing_a_processing_refund_keeps_the_order_and_notifies() {
    let receiver = Receiver::start().await;
    let mock = Mock::settling(Duration::from_secs(30)).await;
    let order = mock.paid("25.90", Some(&receiver.url)).await;
    let answer = mock.refund(&order, "to-fail", None).await;
    assert_eq!(answer.status, 201);
    let refund_id = refunds(&answer.body)[0]["id"].as_str().unwrap().to_owned();
    let fail = format!("/mock/orders/{}/refunds/{refund_id}/fail", id(&order));

    let failed = mock.control(&fail, None).await;
    assert_eq!(failed.status, 200, "{}", failed.body);
    assert_eq!(failed.body["refund"]["status"], "failed");
    assert_eq!(failed.body["refund"]["id"], refund_id.as_str());
    assert_eq!(failed.body["order"]["status"], "processed");
    assert_eq!(failed.body["order"]["status_detail"], "processed");
    assert_eq!(failed.body["webhook"]["status"], 200);
    let bodies = receiver.wait_for(1).await;
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["data"]["id"], id(&order));
    assert_eq!(bodies[0]["data"]["status"], "processed");
    let read = mock.get(&order).await;
    assert_eq!(read["status"], "processed");
    assert_eq!(refunds(&read)[0]["status"], "failed");

    // Not processing any more: 409 in MP's shape; unknown refund or order: 404.
    let again = mock.control(&fail, None).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.code(), "refund_not_processing");
    let unknown = mock
        .control(
            &format!(
                "/mock/orders/{}/refunds/REF00000000000000000000000000/fail",
                id(&order)
            ),
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.code(), "refund_not_found");
    let unknown = mock
        .control(
            &format!("/mock/orders/{UNKNOWN_ORDER}/refunds/{refund_id}/fail"),
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.code(), "order_not_found");

    // Its money is refundable again: the whole amount.
    let whole = mock.refund(&order, "after-fail", None).await;
    assert_eq!(whole.status, 201, "{}", whole.body);
    assert_refund(&refunds(&whole.body)[1], &order, "25.90", "processing");
    mock.stop().await;
    receiver.stop().await;
}

#[tokio::test]
async fn a_failed_refund_is_never_settled_afterwards() {
    let mock = Mock::settling(Duration::from_millis(200)).await;
    let order = mock.paid("25.90", None).await;
    let answer = mock.refund(&order, "fail-then-wait", None).await;
    let refund_id = refunds(&answer.body)[0]["id"].as_str().unwrap().to_owned();
    let failed = mock
        .control(
            &format!("/mock/orders/{}/refunds/{refund_id}/fail", id(&order)),
            None,
        )
        .await;
    assert_eq!(failed.status, 200);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let read = mock.get(&order).await;
    assert_eq!(refunds(&read)[0]["status"], "failed");
    assert_eq!(read["status"], "processed");
    assert_eq!(read["status_detail"], "processed");
    mock.stop().await;
}

#[tokio::test]
async fn a_dashboard_refund_settles_later_and_then_sends_its_webhook() {
    let receiver = Receiver::start().await;
    let mock = Mock::settling(SETTLE).await;
    let order = mock.paid("25.90", Some(&receiver.url)).await;

    let answer = mock
        .control(
            &format!("/mock/orders/{}/refund", id(&order)),
            Some(json!({"amount": "5.00"})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_refund(&answer.body["refund"], &order, "5.00", "processing");
    assert_eq!(answer.body["order"]["status_detail"], "processed");
    assert_eq!(answer.body["webhook"], Value::Null, "not yet");
    assert!(receiver.received().is_empty());

    let bodies = receiver.wait_for(1).await;
    assert_eq!(bodies[0]["action"], "order.refunded");
    assert_eq!(bodies[0]["data"]["status_detail"], "partially_refunded");
    let read = mock.get(&order).await;
    assert_eq!(refunds(&read)[0]["status"], "processed");

    // `"notify": false`: settled, but silently.
    let rest = mock
        .control(
            &format!("/mock/orders/{}/refund", id(&order)),
            Some(json!({"notify": false})),
        )
        .await;
    assert_eq!(rest.status, 200, "{}", rest.body);
    let rest_id = rest.body["refund"]["id"].as_str().unwrap().to_owned();
    let done = until_refund(&mock, &order, &rest_id, "processed").await;
    assert_eq!(done["status"], "refunded");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 1, "no second webhook");
    mock.stop().await;
    receiver.stop().await;
}

#[tokio::test]
async fn with_no_settle_delay_the_answer_already_shows_the_refund_processed() {
    let receiver = Receiver::start().await;
    let mock = Mock::settling(Duration::ZERO).await;
    let order = mock.paid("25.90", Some(&receiver.url)).await;
    let answer = mock.refund(&order, "sync", None).await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.body["status"], "refunded");
    assert_refund(&refunds(&answer.body)[0], &order, "25.90", "processed");
    // As the synchronous mock always did: an API refund sends no webhook.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(receiver.received().is_empty());
    mock.stop().await;
    receiver.stop().await;
}
