//! Refunds (API and dashboard) settled at once (`refund_settle` zero), the
//! refund window, partial refunds refused, forced payment and the access
//! token, against a mock on 127.0.0.1:0 driven over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use mercadopago_mock::MockConfig;
use serde_json::{json, Value};

#[tokio::test]
async fn a_full_refund_refunds_everything_paid() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90", None).await;
    assert_eq!(order["status"], "processed");
    assert!(order["transactions"].get("refunds").is_none());

    let refunded = mock.refund(&order, "refund-full", None).await;
    assert_eq!(refunded.status, 201, "{}", refunded.body);
    let refunded = refunded.body;
    assert_eq!(refunded["id"], order["id"]);
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["status_detail"], "refunded");
    assert_eq!(
        refunded["transactions"]["payments"][0]["status"],
        "refunded"
    );
    let made = refunds(&refunded);
    assert_eq!(made.len(), 1);
    assert_refund(&made[0], &order, "25.90", "processed");

    // GET shows the same; a refunded order cannot be refunded again.
    let read = mock.get(&order).await;
    assert_eq!(read["status"], "refunded");
    assert_eq!(refunds(&read), made);
    let again = mock.refund(&order, "refund-full-2", None).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.code(), "order_already_refunded");
    assert_eq!(refunds(&mock.get(&order).await).len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn a_partial_refund_then_the_rest() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90", None).await;

    let first = mock
        .refund(&order, "refund-part-1", Some(partial(&order, "12.95")))
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let first = first.body;
    assert_eq!(first["status"], "processed");
    assert_eq!(first["status_detail"], "partially_refunded");
    assert_eq!(first["transactions"]["payments"][0]["status"], "processed");
    assert_eq!(refunds(&first).len(), 1);
    assert_refund(&refunds(&first)[0], &order, "12.95", "processed");
    assert_eq!(
        mock.get(&order).await["status_detail"],
        "partially_refunded"
    );

    // `{}` is a full refund: all that remains.
    let rest = mock.refund(&order, "refund-part-2", Some(json!({}))).await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    let rest = rest.body;
    assert_eq!(rest["status"], "refunded");
    assert_eq!(rest["status_detail"], "refunded");
    let made = refunds(&rest);
    assert_eq!(made.len(), 2);
    assert_eq!(made[0], refunds(&first)[0]);
    assert_refund(&made[1], &order, "12.95", "processed");
    assert_ne!(made[0]["id"], made[1]["id"]);
    assert_eq!(refunds(&mock.get(&order).await), made);
    mock.stop().await;
}

#[tokio::test]
async fn a_refund_of_more_than_remains_or_of_a_bad_amount_is_refused_with_mercado_pagos_codes() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90", None).await;
    let first = mock
        .refund(&order, "refund-20", Some(partial(&order, "20.00")))
        .await;
    assert_eq!(first.status, 201);

    let unknown = json!({"transactions": [{"id": "PAY01UNKNOWN", "amount": "1.00"}]});
    let number = json!({"transactions": [{"id": payment_id(&order), "amount": 1.5}]});
    let twice = json!({"transactions": [
        {"id": payment_id(&order), "amount": "3.00"},
        {"id": payment_id(&order), "amount": "3.00"},
    ]});
    let no_amount = json!({"transactions": [{"id": payment_id(&order)}]});
    let extra =
        json!({"transactions": [{"id": payment_id(&order), "amount": "1.00", "reason": "x"}]});
    let top_extra = json!({"amount": "1.00"});
    for (body, status, code) in [
        (partial(&order, "5.91"), 400, "refund_amount_exceeds"),
        (twice, 400, "refund_amount_exceeds"),
        (partial(&order, "0.00"), 400, "property_value"),
        (partial(&order, "-1.00"), 400, "property_value"),
        (partial(&order, "1.999"), 400, "property_value"),
        (partial(&order, "1,00"), 400, "property_value"),
        (number, 400, "property_type"),
        (json!({"transactions": "all"}), 400, "property_type"),
        (json!({"transactions": []}), 400, "property_value"),
        (no_amount, 400, "required_properties"),
        (extra, 400, "unsupported_properties"),
        (top_extra, 400, "unsupported_properties"),
        (unknown, 404, "transaction_not_found"),
    ] {
        let answer = mock.refund(&order, "refund-bad", Some(body.clone())).await;
        assert_eq!(answer.status, status, "{body} -> {}", answer.body);
        assert_eq!(answer.code(), code, "{body}");
        assert!(answer.body["errors"][0]["message"].as_str().unwrap().len() > 5);
    }
    let not_json = mock
        .send(
            mock.http
                .post(mock.url(&format!("/v1/orders/{}/refund", id(&order))))
                .bearer_auth(TOKEN)
                .header("x-idempotency-key", "refund-bad")
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.code(), "json_syntax_error");

    let read = mock.get(&order).await;
    assert_eq!(refunds(&read).len(), 1, "nothing more recorded");
    assert_eq!(read["status_detail"], "partially_refunded");

    // A refused refund does not use up its key; exactly what remains is fine.
    let rest = mock
        .refund(&order, "refund-bad", Some(partial(&order, "5.90")))
        .await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    assert_eq!(rest.body["status"], "refunded");
    mock.stop().await;
}

#[tokio::test]
async fn whole_unit_orders_refund_whole_units() {
    let mock = Mock::start().await;
    let order = mock.paid("1500", None).await;
    assert_eq!(order["total_paid_amount"], "1500");
    let answer = mock
        .refund(&order, "clp-decimals", Some(partial(&order, "500.00")))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), "property_value");
    let first = mock
        .refund(&order, "clp-500", Some(partial(&order, "500")))
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_refund(&refunds(&first.body)[0], &order, "500", "processed");
    let rest = mock.refund(&order, "clp-rest", None).await;
    assert_eq!(rest.status, 201);
    assert_refund(&refunds(&rest.body)[1], &order, "1000", "processed");
    assert_eq!(rest.body["status"], "refunded");
    let unpaid = mock.create("990", None).await;
    assert_eq!(unpaid["total_paid_amount"], "0");
    mock.stop().await;
}

#[tokio::test]
async fn only_a_paid_order_can_be_refunded() {
    let mock = Mock::start().await;
    let created = mock.create("25.90", None).await;
    let answer = mock.refund(&created, "unpaid", None).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert_eq!(answer.code(), "cannot_refund_order");

    let failed = mock.create("25.90", None).await;
    let ended = mock
        .control(
            &format!("/mock/orders/{}/pay", id(&failed)),
            Some(json!({"outcome": "rejected", "final": true, "notify": false})),
        )
        .await;
    assert_eq!(ended.status, 200);
    let answer = mock
        .refund(&failed, "rejected", Some(partial(&failed, "1.00")))
        .await;
    assert_eq!(answer.status, 409);
    assert_eq!(answer.code(), "cannot_refund_order");
    assert!(refunds(&mock.get(&created).await).is_empty());
    assert!(refunds(&mock.get(&failed).await).is_empty());

    let answer = mock.refund_id(UNKNOWN_ORDER, "missing", None).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.code(), "order_not_found");
    mock.stop().await;
}

#[tokio::test]
async fn a_refund_key_replays_its_first_answer_and_refuses_another_body() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90", None).await;
    let body = partial(&order, "10.00");

    let first = mock.refund(&order, "refund-key", Some(body.clone())).await;
    assert_eq!(first.status, 201);
    let again = mock.refund(&order, "refund-key", Some(body.clone())).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "the same answer again");
    let read = mock.get(&order).await;
    assert_eq!(refunds(&read).len(), 1, "no second refund");
    assert_eq!(read["status_detail"], "partially_refunded");

    let other = mock
        .refund(&order, "refund-key", Some(partial(&order, "5.00")))
        .await;
    assert_eq!(other.status, 409, "{}", other.body);
    assert_eq!(other.code(), "idempotency_key_already_used");
    let other = mock.refund(&order, "refund-key", None).await;
    assert_eq!(other.status, 409);
    assert_eq!(other.code(), "idempotency_key_already_used");
    assert_eq!(refunds(&mock.get(&order).await).len(), 1);

    // A key belongs to its order: the same key and body on another order is 409.
    let one = mock.paid("25.90", None).await;
    let other = mock.paid("25.90", None).await;
    assert_eq!(mock.refund(&one, "shared-key", None).await.status, 201);
    let answer = mock.refund(&other, "shared-key", None).await;
    assert_eq!(answer.status, 409);
    assert_eq!(answer.code(), "idempotency_key_already_used");
    assert!(refunds(&mock.get(&other).await).is_empty());

    // No key, or one of more than 64 characters: 400.
    let answer = mock
        .send(
            mock.http
                .post(mock.url(&format!("/v1/orders/{}/refund", id(&order))))
                .bearer_auth(TOKEN),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), "empty_required_header");
    let answer = mock.refund(&order, &"k".repeat(65), None).await;
    assert_eq!(answer.status, 400);
    assert_eq!(refunds(&mock.get(&order).await).len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn a_closed_refund_window_refuses_refunds() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90", None).await;
    let id = id(&order);
    let window = format!("/mock/orders/{id}/refund-window");

    let answer = mock.control(&window, Some(json!({"open": false}))).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({"id": id, "refund_window": {"open": false}})
    );
    let answer = mock.refund(&order, "late", None).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.code(), "in_store_payment_refund_order");
    assert!(!answer.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .is_empty());
    let answer = mock
        .control(&format!("/mock/orders/{id}/refund"), None)
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), "in_store_payment_refund_order");
    let read = mock.get(&order).await;
    assert!(refunds(&read).is_empty());
    assert_eq!(read["status"], "processed");

    assert_eq!(
        mock.control(&window, Some(json!({"open": true})))
            .await
            .status,
        200
    );
    let answer = mock.refund(&order, "late", None).await;
    assert_eq!(answer.status, 201, "the refused key was not used up");

    let answer = mock
        .control(
            &format!("/mock/orders/{UNKNOWN_ORDER}/refund-window"),
            Some(json!({"open": false})),
        )
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.code(), "order_not_found");
    mock.stop().await;
}

#[tokio::test]
async fn an_order_refusing_partial_refunds_refuses_amounts_but_takes_a_full_refund() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90", None).await;
    let id = id(&order);
    let switch = format!("/mock/orders/{id}/partial-refunds");

    let answer = mock
        .control(&switch, Some(json!({"supported": false})))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({"id": id, "partial_refunds": {"supported": false}})
    );
    let answer = mock
        .refund(&order, "partial-no", Some(partial(&order, "5.00")))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.code(), "unsupported_partially_refunds");
    let answer = mock
        .control(
            &format!("/mock/orders/{id}/refund"),
            Some(json!({"amount": "5.00"})),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), "unsupported_partially_refunds");
    assert!(refunds(&mock.get(&order).await).is_empty());

    // Allowed again, a partial refund goes through; a full one always does.
    assert_eq!(
        mock.control(&switch, Some(json!({"supported": true})))
            .await
            .status,
        200
    );
    let answer = mock
        .refund(&order, "partial-no", Some(partial(&order, "5.00")))
        .await;
    assert_eq!(answer.status, 201, "the refused key was not used up");
    let other = mock.paid("10.00", None).await;
    assert!(mock.server.state.set_partial_refunds(id_of(&other), false));
    let answer = mock.refund(&other, "full-anyway", None).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.body["status"], "refunded");

    assert!(!mock.server.state.set_partial_refunds(UNKNOWN_ORDER, false));
    let answer = mock
        .control(
            &format!("/mock/orders/{UNKNOWN_ORDER}/partial-refunds"),
            Some(json!({"supported": false})),
        )
        .await;
    assert_eq!(answer.status, 404);
    mock.stop().await;
}

fn id_of(order: &Value) -> &str {
    order["id"].as_str().unwrap()
}

#[tokio::test]
async fn a_dashboard_refund_sends_a_signed_order_refunded_webhook() {
    let receiver = Receiver::start().await;
    let mock = Mock::start().await;
    let order = mock.paid("25.90", Some(&receiver.url)).await;
    let id = id(&order);
    assert!(receiver.received().is_empty());

    let answer = mock
        .control(
            &format!("/mock/orders/{id}/refund"),
            Some(json!({"amount": "5.00"})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = answer.body;
    assert_eq!(answer["order"]["status"], "processed");
    assert_eq!(answer["order"]["status_detail"], "partially_refunded");
    assert_refund(&answer["refund"], &order, "5.00", "processed");
    assert_eq!(refunds(&answer["order"]), vec![answer["refund"].clone()]);
    let delivery = &answer["webhook"];
    assert_eq!(delivery["status"], 200);
    assert_eq!(delivery["body"]["action"], "order.refunded");

    let received = receiver.received();
    assert_eq!(received.len(), 1, "one webhook");
    let (uri, headers, body) = &received[0];
    assert_eq!(uri.path(), "/webhook");
    let query = uri.query().unwrap();
    assert!(query.contains(&format!("data.id={id}")), "{query}");
    assert!(query.contains("type=order"), "{query}");
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["action"], "order.refunded");
    assert_eq!(body["type"], "order");
    assert_eq!(body["data"]["id"], id);
    assert_eq!(body["data"]["status"], "processed");
    assert_eq!(body["data"]["status_detail"], "partially_refunded");
    assert_eq!(
        headers["x-signature"],
        delivery["x_signature"].as_str().unwrap()
    );
    assert_signed(headers, id);

    // The API shows it too; a redelivery repeats `order.refunded`.
    assert_eq!(refunds(&mock.get(&order).await).len(), 1);
    let again = mock
        .control(&format!("/mock/orders/{id}/notify"), None)
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["webhook"]["body"]["action"], "order.refunded");
    assert_eq!(receiver.received().len(), 2);

    // No amount: all that remains; `"notify": false`: no webhook.
    let rest = mock
        .control(
            &format!("/mock/orders/{id}/refund"),
            Some(json!({"notify": false})),
        )
        .await;
    assert_eq!(rest.status, 200, "{}", rest.body);
    assert_eq!(rest.body["webhook"], Value::Null);
    assert_refund(&rest.body["refund"], &order, "20.90", "processed");
    assert_eq!(rest.body["order"]["status"], "refunded");
    assert_eq!(receiver.received().len(), 2, "no webhook");
    let read = mock.get(&order).await;
    assert_eq!(read["status"], "refunded");
    assert_eq!(refunds(&read).len(), 2);

    mock.stop().await;
    receiver.stop().await;
}

#[tokio::test]
async fn a_dashboard_refund_without_a_body_refunds_everything() {
    let receiver = Receiver::start().await;
    let mock = Mock::with(MockConfig {
        webhook_secret: SECRET.into(),
        default_notification_url: Some(receiver.url.clone()),
        access_token: None,
        refund_settle: Duration::ZERO,
        points_of_sale: None,
        browser_origins: Vec::new(),
    })
    .await;
    let order = mock.paid("25.90", None).await;
    let id = id(&order);
    let answer = mock
        .control(&format!("/mock/orders/{id}/refund"), None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["order"]["status"], "refunded");
    assert_refund(&answer.body["refund"], &order, "25.90", "processed");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let body: Value = serde_json::from_slice(&received[0].2).unwrap();
    assert_eq!(body["action"], "order.refunded");
    assert_eq!(body["data"]["status"], "refunded");
    assert_signed(&received[0].1, id);

    // Unpaid: 409, and no webhook.
    let unpaid = mock.create("25.90", None).await;
    let answer = mock
        .control(
            &format!("/mock/orders/{}/refund", unpaid["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(answer.status, 409);
    assert_eq!(answer.code(), "cannot_refund_order");
    assert_eq!(receiver.received().len(), 1);
    mock.stop().await;
    receiver.stop().await;
}

#[tokio::test]
async fn a_forced_payment_pays_a_canceled_order() {
    let receiver = Receiver::start().await;
    let mock = Mock::start().await;
    let order = mock.create("25.90", Some(&receiver.url)).await;
    let id = id(&order);
    assert_eq!(mock.cancel(id, Some("cancel-forced")).await.status, 200);
    assert_eq!(mock.get(&order).await["status"], "canceled");

    let pay = format!("/mock/orders/{id}/pay");
    let answer = mock
        .control(&pay, Some(json!({"outcome": "approved"})))
        .await;
    assert_eq!(answer.status, 409, "without force: as before");
    assert_eq!(answer.code(), "order_not_open");
    let answer = mock
        .control(&pay, Some(json!({"outcome": "rejected", "force": true})))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), "invalid_force");
    assert!(receiver.received().is_empty());

    let answer = mock
        .control(&pay, Some(json!({"outcome": "approved", "force": true})))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = answer.body;
    assert_eq!(answer["order"]["status"], "processed");
    assert_eq!(answer["order"]["status_detail"], "processed");
    assert_eq!(
        answer["order"]["transactions"]["payments"][0]["status"],
        "processed"
    );
    assert_eq!(answer["webhook"]["status"], 200);
    let read = mock.get(&order).await;
    assert_eq!(read["status"], "processed");
    assert_eq!(read["total_paid_amount"], "25.90");

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let body: Value = serde_json::from_slice(&received[0].2).unwrap();
    assert_eq!(body["action"], "order.processed");
    assert_signed(&received[0].1, id);

    // An expired order too, here without a webhook; then it can be refunded.
    let expired = mock.create("10.00", None).await;
    let expired_id = expired["id"].as_str().unwrap();
    let answer = mock
        .control(&format!("/mock/orders/{expired_id}/expire"), None)
        .await;
    assert_eq!(answer.status, 200);
    let answer = mock
        .control(
            &format!("/mock/orders/{expired_id}/pay"),
            Some(json!({"outcome": "approved", "force": true, "notify": false})),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["webhook"], Value::Null);
    assert_eq!(mock.get(&expired).await["status"], "processed");
    assert_eq!(mock.refund(&expired, "after-force", None).await.status, 201);
    assert_eq!(receiver.received().len(), 1);
    mock.stop().await;
    receiver.stop().await;
}

#[tokio::test]
async fn a_configured_access_token_is_the_only_one_accepted() {
    let mock = Mock::with(MockConfig {
        webhook_secret: SECRET.into(),
        default_notification_url: None,
        access_token: Some(TOKEN.into()),
        refund_settle: Duration::ZERO,
        points_of_sale: None,
        browser_origins: Vec::new(),
    })
    .await;
    let order = mock.create("25.90", None).await;
    let read = |token: &'static str| {
        mock.http
            .get(mock.url(&format!("/v1/orders/{}", order["id"].as_str().unwrap())))
            .bearer_auth(token)
            .send()
    };
    let right = read(TOKEN).await.unwrap();
    assert_eq!(right.status(), StatusCode::OK.as_u16());

    let wrong = read("TEST-another-token").await.unwrap();
    assert_eq!(wrong.status(), 401);
    let answer: Value = wrong.json().await.unwrap();
    assert_eq!(answer["errors"][0]["code"], "unauthorized");
    let prefix = read("TEST-mock").await.unwrap();
    assert_eq!(prefix.status(), 401);
    let missing = mock
        .http
        .get(mock.url(&format!("/v1/orders/{}", order["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let answer = mock
        .send(
            mock.http
                .post(mock.url(&format!(
                    "/v1/orders/{}/refund",
                    order["id"].as_str().unwrap()
                )))
                .bearer_auth("TEST-another-token")
                .header("x-idempotency-key", "k"),
        )
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.code(), "unauthorized");
    mock.stop().await;

    // Not configured: any non-empty token, as before.
    let open = Mock::start().await;
    let answer = open
        .send(
            open.http
                .get(open.url(&format!("/v1/orders/{UNKNOWN_ORDER}")))
                .bearer_auth("anything"),
        )
        .await;
    assert_eq!(answer.status, 404);
    open.stop().await;
}

#[test]
fn the_config_does_not_print_secrets() {
    let config = MockConfig {
        webhook_secret: "s3cret".into(),
        default_notification_url: None,
        access_token: Some("TEST-t0ken".into()),
        refund_settle: Duration::ZERO,
        points_of_sale: None,
        browser_origins: Vec::new(),
    };
    let printed = format!("{config:?}");
    assert!(!printed.contains("s3cret") && !printed.contains("TEST-t0ken"));
}

#[test]
fn refunds_take_half_a_second_to_settle_unless_configured() {
    assert_eq!(
        MockConfig::default().refund_settle,
        Duration::from_millis(500)
    );
}
