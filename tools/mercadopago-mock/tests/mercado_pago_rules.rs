//! Mercado Pago's rules the mock enforces: order ids in the path, who may be
//! canceled and how cancel keys replay, validation codes and the error shape,
//! the customer's rejected attempt, and the order's fields.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::*;
use mercadopago_mock::MockConfig;
use serde_json::{json, Value};

#[tokio::test]
async fn an_order_id_not_of_mercado_pagos_form_is_400_before_any_lookup() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90", None).await;
    let lower = id(&order).to_lowercase();
    for bad in [
        "ORD01MISSING",
        "ORD0000000000000000000000000",
        "ORD000000000000000000000000000",
        "PAY00000000000000000000000000",
        lower.as_str(),
        "ORD0000000000000000000000000_",
    ] {
        let read = mock.read(bad).await;
        assert_eq!(read.status, 400, "{bad}: {}", read.body);
        assert_eq!(read.code(), "invalid_path_param");
        let cancel = mock.cancel(bad, Some("cancel-bad")).await;
        assert_eq!(cancel.status, 400, "{bad}");
        assert_eq!(cancel.code(), "invalid_path_param");
        let refund = mock.refund_id(bad, "refund-bad", None).await;
        assert_eq!(refund.status, 400, "{bad}");
        assert_eq!(refund.code(), "invalid_path_param");
    }
    // Well-formed but unknown: 404, as before.
    for answer in [
        mock.read(UNKNOWN_ORDER).await,
        mock.cancel(UNKNOWN_ORDER, Some("cancel-unknown")).await,
        mock.refund_id(UNKNOWN_ORDER, "refund-unknown", None).await,
    ] {
        assert_eq!(answer.status, 404, "{}", answer.body);
        assert_eq!(answer.code(), "order_not_found");
    }
    // The lower-cased id of a real order is refused, not found.
    assert_eq!(mock.get(&order).await["status"], "processed");
    mock.stop().await;
}

#[tokio::test]
async fn a_cancel_without_an_idempotency_key_is_refused_as_mercado_pago_refuses_it() {
    let mock = Mock::start().await;
    let order = mock.create("25.90", None).await;
    let refused = mock.cancel(id(&order), None).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.code(), "empty_required_header");
    assert_eq!(
        mock.get(&order).await["status"],
        "created",
        "nothing canceled"
    );
    let canceled = mock.cancel(id(&order), Some("cancel-pay_1")).await;
    assert_eq!(canceled.status, 200);
    assert_eq!(mock.get(&order).await["status"], "canceled");
    mock.stop().await;
}

#[tokio::test]
async fn only_an_order_still_created_can_be_canceled() {
    let mock = Mock::start().await;
    let paid = mock.paid("25.90", None).await;
    let answer = mock.cancel(id(&paid), Some("cancel-paid")).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert_eq!(answer.code(), "order_already_canceled");
    assert_eq!(mock.get(&paid).await["status"], "processed");

    let expired = mock.create("10.00", None).await;
    mock.control(&format!("/mock/orders/{}/expire", id(&expired)), None)
        .await;
    let answer = mock.cancel(id(&expired), Some("cancel-expired")).await;
    assert_eq!(answer.status, 409);
    assert_eq!(answer.code(), "order_already_canceled");

    // Canceled once; canceled again with another key: 409 (no second cancel).
    let open = mock.create("10.00", None).await;
    assert_eq!(mock.cancel(id(&open), Some("cancel-1")).await.status, 200);
    let again = mock.cancel(id(&open), Some("cancel-2")).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.code(), "order_already_canceled");

    // A refused cancel did not use up its key.
    let fresh = mock.create("10.00", None).await;
    let answer = mock.cancel(id(&fresh), Some("cancel-paid")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], "canceled");
    mock.stop().await;
}

#[tokio::test]
async fn a_cancel_key_replays_its_first_answer_and_belongs_to_its_order() {
    let mock = Mock::start().await;
    let order = mock.create("25.90", None).await;
    let first = mock.cancel(id(&order), Some("cancel-key")).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["status"], "canceled");

    // The order moves on (a customer paid in that instant); the key still
    // answers what it answered first.
    let forced = mock
        .control(
            &format!("/mock/orders/{}/pay", id(&order)),
            Some(json!({"outcome": "approved", "force": true, "notify": false})),
        )
        .await;
    assert_eq!(forced.status, 200);
    let again = mock.cancel(id(&order), Some("cancel-key")).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body, first.body, "the first answer, as it was");
    assert_eq!(mock.get(&order).await["status"], "processed");

    let other = mock.create("10.00", None).await;
    let answer = mock.cancel(id(&other), Some("cancel-key")).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert_eq!(answer.code(), "idempotency_key_already_used");
    assert_eq!(mock.get(&other).await["status"], "created");
    mock.stop().await;
}

#[tokio::test]
async fn create_bodies_are_refused_with_mercado_pagos_validation_codes() {
    let mock = Mock::start().await;
    let good = Mock::create_body("25.90", None);
    let with = |pointer: &str, value: Value| {
        let mut body = good.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    let set = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let mut extra = good.clone();
    extra["currency_id"] = json!("BRL");
    let mut extra_qr = good.clone();
    extra_qr["config"]["qr"]["color"] = json!("blue");
    let mut extra_item = good.clone();
    extra_item["items"] =
        json!([{"title": "X", "unit_price": "25.90", "quantity": 1, "sku": "XB"}]);
    let mut bad_quantity = good.clone();
    bad_quantity["items"] = json!([{"title": "X", "unit_price": "25.90", "quantity": "1"}]);
    let mut zero_quantity = good.clone();
    zero_quantity["items"] = json!([{"title": "X", "unit_price": "25.90", "quantity": 0}]);
    let mut items_off = good.clone();
    items_off["items"] = json!([{"title": "X", "unit_price": "12.00", "quantity": 2}]);
    let mut long_description = good.clone();
    long_description["description"] = json!("x".repeat(151));

    for (body, code) in [
        (without("type"), "required_properties"),
        (without("external_reference"), "required_properties"),
        (without("total_amount"), "required_properties"),
        (without("transactions"), "required_properties"),
        (without("config"), "required_properties"),
        (
            with("/config/qr", json!({"mode": "dynamic"})),
            "required_properties",
        ),
        (with("/total_amount", json!(25.90)), "property_type"),
        (with("/external_reference", json!(42)), "property_type"),
        (with("/transactions/payments", json!({})), "property_type"),
        (bad_quantity, "property_type"),
        (json!([1, 2]), "property_type"),
        (with("/type", json!("online")), "property_value"),
        (with("/total_amount", json!("25.9O")), "property_value"),
        (with("/total_amount", json!("0.00")), "property_value"),
        (with("/config/qr/mode", json!("sideways")), "property_value"),
        (
            with("/external_reference", json!("pay 1")),
            "property_value",
        ),
        (
            with("/external_reference", json!("p".repeat(65))),
            "property_value",
        ),
        (
            set("expiration_time", json!("15 minutes")),
            "property_value",
        ),
        (set("expiration_time", json!(900)), "property_type"),
        (set("notification_url", json!("ftp://x")), "property_value"),
        (with("/transactions/payments", json!([])), "property_value"),
        (zero_quantity, "property_value"),
        (long_description, "property_value"),
        (extra, "unsupported_properties"),
        (extra_qr, "unsupported_properties"),
        (extra_item, "unsupported_properties"),
        (
            with("/transactions/payments", json!([{"amount": "20.00"}])),
            "invalid_total_amount",
        ),
        (items_off, "invalid_total_amount"),
    ] {
        let answer = mock.try_create(&body).await;
        assert_eq!(answer.status, 400, "{body} -> {}", answer.body);
        assert_eq!(answer.code(), code, "{body}");
        let error = &answer.body["errors"][0];
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(
            error["details"].as_array().is_some_and(|d| !d.is_empty()),
            "details say what: {error}"
        );
    }

    let not_json = mock
        .send(
            mock.http
                .post(mock.url("/v1/orders"))
                .bearer_auth(TOKEN)
                .header("x-idempotency-key", "not-json")
                .header("content-type", "application/json")
                .body("{\"type\": \"qr\","),
        )
        .await;
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.code(), "json_syntax_error");
    assert_eq!(
        not_json
            .body
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["errors"],
        "MP's shape: errors only"
    );

    let no_key = mock
        .send(
            mock.http
                .post(mock.url("/v1/orders"))
                .bearer_auth(TOKEN)
                .json(&good),
        )
        .await;
    assert_eq!(no_key.status, 400);
    assert_eq!(no_key.code(), "empty_required_header");
    assert_eq!(mock.server.state.orders_created(), 0);

    // Everything the service sends is accepted.
    let mut full = good.clone();
    full["description"] = json!("Kiosk 3");
    full["expiration_time"] = json!("PT15M");
    full["items"] = json!([{"title": "X-Burger", "unit_price": "12.95", "quantity": 2,
                            "unit_measure": "unit", "external_code": "XB"}]);
    full["notification_url"] = json!("http://127.0.0.1:9/webhook");
    let answer = mock.try_create(&full).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    mock.stop().await;
}

#[tokio::test]
async fn an_order_carries_its_country_and_no_currency() {
    let mock = Mock::start().await;
    let order = mock.create("25.90", None).await;
    assert_eq!(order["country_code"], "BRA");
    assert!(order.get("currency").is_none(), "{order}");
    assert!(mock.get(&order).await.get("currency").is_none());
    mock.stop().await;
}

#[tokio::test]
async fn a_rejected_payment_leaves_the_qr_order_open_and_notifies() {
    let receiver = Receiver::start().await;
    let mock = Mock::start().await;
    let order = mock.create("25.90", Some(&receiver.url)).await;
    let pay = format!("/mock/orders/{}/pay", id(&order));

    let answer = mock
        .control(&pay, Some(json!({"outcome": "rejected"})))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["order"]["status"], "created");
    assert_eq!(answer.body["order"]["status_detail"], "created");
    assert_eq!(answer.body["webhook"]["status"], 200);
    let bodies = receiver.wait_for(1).await;
    assert_eq!(bodies[0]["data"]["id"], id(&order));
    assert_eq!(bodies[0]["data"]["status"], "created");
    assert_eq!(bodies[0]["action"], "order.failed");
    assert_eq!(mock.get(&order).await["status"], "created");

    // The customer tries again, and pays.
    let answer = mock
        .control(&pay, Some(json!({"outcome": "approved"})))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["order"]["status"], "processed");
    assert_eq!(receiver.wait_for(2).await.len(), 2);

    // `"final": true`: the order ends `failed`, as before.
    let ended = mock.create("10.00", Some(&receiver.url)).await;
    let answer = mock
        .control(
            &format!("/mock/orders/{}/pay", id(&ended)),
            Some(json!({"outcome": "rejected", "final": true})),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["order"]["status"], "failed");
    assert_eq!(answer.body["order"]["status_detail"], "rejected_by_issuer");
    let bodies = receiver.wait_for(3).await;
    assert_eq!(bodies[2]["action"], "order.failed");
    assert_eq!(bodies[2]["data"]["status"], "failed");
    mock.stop().await;
    receiver.stop().await;
}

#[tokio::test]
async fn any_status_can_be_set_on_an_order_with_a_webhook_only_when_asked() {
    let receiver = Receiver::start().await;
    let mock = Mock::start().await;
    let order = mock.create("25.90", Some(&receiver.url)).await;
    let path = format!("/mock/orders/{}/status", id(&order));

    let answer = mock
        .control(
            &path,
            Some(json!({"status": "action_required", "status_detail": "waiting_payment"})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["webhook"], Value::Null);
    let read = mock.get(&order).await;
    assert_eq!(read["status"], "action_required");
    assert_eq!(read["status_detail"], "waiting_payment");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(receiver.received().is_empty(), "no webhook by default");

    let answer = mock
        .control(
            &path,
            Some(json!({"status": "in_review", "status_detail": "pending_review", "notify": true})),
        )
        .await;
    assert_eq!(answer.status, 200);
    let bodies = receiver.wait_for(1).await;
    assert_eq!(bodies[0]["action"], "order.in_review");
    assert_eq!(bodies[0]["data"]["status"], "in_review");
    assert_eq!(bodies[0]["data"]["status_detail"], "pending_review");

    assert!(mock
        .server
        .state
        .set_order_status(id(&order), "created", "created"));
    assert_eq!(mock.get(&order).await["status"], "created");
    let answer = mock
        .control(
            &format!("/mock/orders/{UNKNOWN_ORDER}/status"),
            Some(json!({"status": "x"})),
        )
        .await;
    assert_eq!(answer.status, 404);
    mock.stop().await;
    receiver.stop().await;
}

#[tokio::test]
async fn the_next_create_answer_can_disagree_with_what_was_asked_once() {
    let mock = Mock::start().await;
    let answer = mock
        .control(
            "/mock/next-create-answer",
            Some(json!({"currency": "USD", "total_amount": "1.00"})),
        )
        .await;
    assert_eq!(answer.status, 204);

    let body = Mock::create_body("25.90", None);
    let first = mock.try_create(&body).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.body["currency"], "USD");
    assert_eq!(first.body["total_amount"], "1.00");
    assert!(
        first.body["type_response"]["qr_data"].is_string(),
        "the rest as usual"
    );
    // The order itself is what was asked; the next answer is normal again.
    let read = mock.get(&first.body).await;
    assert_eq!(read["total_amount"], "25.90");
    assert!(read.get("currency").is_none());
    let second = mock.create("10.00", None).await;
    assert_eq!(second["total_amount"], "10.00");
    assert!(second.get("currency").is_none());

    // In-process too; `null` removes a field.
    mock.server
        .state
        .set_next_create_answer(json!({"type_response": null}));
    let third = mock.create("10.00", None).await;
    assert!(third.get("type_response").is_none(), "{third}");

    let answer = mock
        .control(
            "/mock/next-create-answer",
            Some(json!(["not", "an object"])),
        )
        .await;
    assert_eq!(answer.status, 400);
    mock.stop().await;
}

#[tokio::test]
async fn a_create_at_a_point_of_sale_the_account_does_not_have_is_404_pos_not_found() {
    let mock = Mock::with(MockConfig {
        points_of_sale: Some(vec!["POS001".into(), "POS002".into()]),
        ..MockConfig::default()
    })
    .await;
    let mut body = Mock::create_body("25.90", None);
    assert_eq!(mock.try_create(&body).await.status, 201, "a known one");
    body["config"]["qr"]["external_pos_id"] = serde_json::json!("POS999");
    let refused = mock.try_create(&body).await;
    assert_eq!(refused.status, 404);
    assert_eq!(refused.code(), "pos_not_found");
    mock.stop().await;
}
