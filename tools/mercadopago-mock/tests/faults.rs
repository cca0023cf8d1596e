//! The fault switches: failures with Mercado Pago's codes, `Retry-After` on
//! 429, scoped to one endpoint, and delays.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use common::*;
use mercadopago_mock::Endpoint;
use serde_json::json;

#[tokio::test]
async fn an_injected_failure_carries_mercado_pagos_code_for_its_status() {
    let mock = Mock::start().await;
    let order = mock.create("25.90", None).await;
    for (status, code) in [
        (500, "internal_error"),
        (503, "service_unavailable"),
        (429, "too_many_requests"),
        (423, "idempotency_key_locked"),
    ] {
        let set = mock
            .control(
                "/mock/faults",
                Some(json!({"fail_next": 1, "status": status})),
            )
            .await;
        assert_eq!(set.status, 204);
        let answer = mock.read(id(&order)).await;
        assert_eq!(answer.status, status);
        assert_eq!(answer.code(), code, "{status}");
        assert_eq!(mock.read(id(&order)).await.status, 200, "one call only");
    }

    // A code of the caller's choosing.
    mock.control(
        "/mock/faults",
        Some(json!({"fail_next": 1, "status": 500, "code": "idempotency_validation_failed"})),
    )
    .await;
    let answer = mock.read(id(&order)).await;
    assert_eq!(answer.status, 500);
    assert_eq!(answer.code(), "idempotency_validation_failed");
    mock.stop().await;
}

#[tokio::test]
async fn a_429_says_when_to_retry() {
    let mock = Mock::start().await;
    let order = mock.create("25.90", None).await;
    mock.control("/mock/faults", Some(json!({"fail_next": 1, "status": 429})))
        .await;
    let answer = mock.read(id(&order)).await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.headers["retry-after"], "1", "one second by default");

    mock.control(
        "/mock/faults",
        Some(json!({"fail_next": 1, "status": 429, "retry_after": 7})),
    )
    .await;
    let answer = mock.read(id(&order)).await;
    assert_eq!(answer.headers["retry-after"], "7");

    mock.control("/mock/faults", Some(json!({"fail_next": 1, "status": 503})))
        .await;
    let answer = mock.read(id(&order)).await;
    assert_eq!(answer.status, 503);
    assert!(answer.headers.get("retry-after").is_none());
    mock.stop().await;
}

#[tokio::test]
async fn a_fault_on_one_endpoint_lets_the_others_pass_and_does_not_count_them() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90", None).await;
    let set = mock
        .control(
            "/mock/faults",
            Some(json!({"fail_next": 2, "status": 503, "on": "refund"})),
        )
        .await;
    assert_eq!(set.status, 204, "{}", set.body);

    // Reads, creates and cancels pass and leave the count alone.
    for _ in 0..3 {
        assert_eq!(mock.read(id(&order)).await.status, 200);
    }
    let other = mock.create("10.00", None).await;
    assert_eq!(mock.cancel(id(&other), Some("cancel-on")).await.status, 200);

    let first = mock.refund(&order, "refund-on", None).await;
    assert_eq!(first.status, 503);
    assert_eq!(first.code(), "service_unavailable");
    assert_eq!(mock.refund(&order, "refund-on", None).await.status, 503);
    let third = mock.refund(&order, "refund-on", None).await;
    assert_eq!(third.status, 201, "two refund calls failed, then through");

    // Each endpoint by name; in-process too.
    for (on, endpoint) in [
        ("create", Endpoint::Create),
        ("get", Endpoint::Get),
        ("cancel", Endpoint::Cancel),
        ("refund", Endpoint::Refund),
    ] {
        assert_eq!(Endpoint::parse(on), Some(endpoint));
    }
    mock.server.state.fail_next_on(Endpoint::Create, 1, 500);
    assert_eq!(mock.read(id(&order)).await.status, 200);
    let refused = mock.try_create(&Mock::create_body("10.00", None)).await;
    assert_eq!(refused.status, 500);
    assert_eq!(refused.code(), "internal_error");
    assert_eq!(
        mock.try_create(&Mock::create_body("10.00", None))
            .await
            .status,
        201
    );
    mock.stop().await;
}

#[tokio::test]
async fn delays_follow_the_endpoint_too() {
    let mock = Mock::start().await;
    let order = mock.create("25.90", None).await;
    mock.control(
        "/mock/faults",
        Some(json!({"delay_next": 1, "delay_ms": 400, "on": "cancel"})),
    )
    .await;
    let started = Instant::now();
    assert_eq!(mock.read(id(&order)).await.status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "reads pass at once"
    );
    let started = Instant::now();
    assert_eq!(mock.cancel(id(&order), Some("slow")).await.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the cancel waited"
    );
    mock.stop().await;
}

#[tokio::test]
async fn an_unknown_endpoint_or_field_in_the_fault_switch_is_400() {
    let mock = Mock::start().await;
    let answer = mock
        .control(
            "/mock/faults",
            Some(json!({"fail_next": 1, "on": "capture"})),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), "invalid_on");
    let answer = mock
        .control("/mock/faults", Some(json!({"fail_next": 1, "staus": 500})))
        .await;
    assert!(
        answer.status >= 400 && answer.status < 500,
        "a typo is refused"
    );
    let answer = mock
        .control("/mock/faults", Some(json!({"fail_next": 1, "status": 200})))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), "invalid_status");
    // None of them armed anything.
    let order = mock.create("25.90", None).await;
    assert_eq!(mock.read(id(&order)).await.status, 200);

    // DELETE clears the switches.
    mock.control("/mock/faults", Some(json!({"fail_next": 5, "status": 500})))
        .await;
    let cleared = mock.send(mock.http.delete(mock.url("/mock/faults"))).await;
    assert_eq!(cleared.status, 204);
    assert_eq!(mock.read(id(&order)).await.status, 200);
    mock.stop().await;
}
