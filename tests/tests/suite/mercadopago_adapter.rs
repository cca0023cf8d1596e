//! The production Mercado Pago adapter (reqwest) against the mock over real HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use mercadopago_mock::{MockConfig, MockServer};
use payments::adapters::mercadopago::MercadoPagoClient;
use payments::compose::tls::TrustRoots;
use payments::domain::{
    CallerId, Currency, Fingerprint, Item, Items, Money, NewPayment, OrderId, Payment, PaymentId,
    ProviderOrderId, Sku, Timestamp, Title,
};
use payments::ports::{PaymentProvider, ProviderError, ProviderOutcome};
use payments_tests::mercadopago;
use serde_json::Value;

async fn mock() -> MockServer {
    MockServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), MockConfig::default())
        .await
        .expect("mock listens on a free port")
}

fn client(mock: &MockServer, token: &str, timeout: Duration) -> MercadoPagoClient {
    MercadoPagoClient::new(
        mercadopago::config(mock.base_url(), token, timeout),
        TrustRoots::Compiled
            .for_mercado_pago()
            .expect("the compiled roots make a TLS configuration"),
    )
    .expect("client builds")
}

fn payment(currency: Currency, unit_price: i64, quantity: u32) -> Payment {
    let unit = Money::new(unit_price, currency).unwrap();
    let amount = Money::new(unit_price * i64::from(quantity), currency).unwrap();
    let item = Item::new(
        Sku::parse("XB").unwrap(),
        Title::parse("X-Burger").unwrap(),
        quantity,
        unit,
    )
    .unwrap();
    let now = Timestamp::from_unix_millis(1_795_608_000_000).unwrap();
    Payment::new_pending(NewPayment {
        created_by: CallerId::parse("arn:aws:iam::123456789012:role/orders").unwrap(),
        id: PaymentId::from_ulid(ulid::Ulid::new()),
        order_id: OrderId::parse("ord-1").unwrap(),
        amount,
        items: Items::new(vec![item], amount).unwrap(),
        description: None,
        pos_id: payments_tests::fixtures::pos("POS001"),
        fingerprint: Fingerprint::of_canonical(b"x"),
        created_at: now,
        expires_at: now.plus(Duration::from_secs(900)),
    })
}

async fn mock_order(mock: &MockServer, id: &str) -> Value {
    reqwest::get(format!("{}/mock/orders", mock.base_url()))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
        .cloned()
        .expect("order exists at the mock")
}

#[tokio::test]
async fn creates_orders_with_exact_decimal_strings_and_one_order_per_payment() {
    let mock = mock().await;
    let client = client(&mock, "TEST-token", Duration::from_secs(2));
    let brl = payment(Currency::Brl, 1295, 2);
    let first = client.create_order(&brl).await.unwrap();
    let again = client.create_order(&brl).await.unwrap();
    assert_eq!(first, again, "same idempotency key, same order");
    assert!(first.order_id.as_str().starts_with("ORD"));
    assert!(!first.qr_data.is_empty());
    assert_eq!(mock.state.orders_created(), 1);

    let order = mock_order(&mock, first.order_id.as_str()).await;
    assert_eq!(order["total_amount"], "25.90");
    assert_eq!(order["items"][0]["unit_price"], "12.95");
    assert_eq!(order["items"][0]["external_code"], "XB");
    assert_eq!(order["external_reference"], brl.id().as_str());
    assert_eq!(order["config"]["qr"]["mode"], "dynamic");

    let clp = payment(Currency::Clp, 1500, 3);
    let created = client.create_order(&clp).await.unwrap();
    let order = mock_order(&mock, created.order_id.as_str()).await;
    assert_eq!(order["total_amount"], "4500");
    assert_eq!(order["items"][0]["unit_price"], "1500");
    assert_eq!(mock.state.orders_created(), 2);
    mock.shutdown().await;
}

#[tokio::test]
async fn retries_5xx_429_and_423_then_succeeds() {
    let mock = mock().await;
    let client = client(&mock, "TEST-token", Duration::from_secs(2));
    for status in [503, 429, 423, 500] {
        let before = mock.state.api_calls();
        mock.state.fail_next(2, status);
        let created = client.create_order(&payment(Currency::Brl, 100, 1)).await;
        assert!(created.is_ok(), "{status}: {created:?}");
        assert_eq!(
            mock.state.api_calls() - before,
            3,
            "{status}: two failures, one success"
        );
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn gives_up_after_bounded_retries_as_unavailable() {
    let mock = mock().await;
    let client = client(&mock, "TEST-token", Duration::from_secs(2));
    mock.state.fail_next(10, 502);
    let result = client.create_order(&payment(Currency::Brl, 100, 1)).await;
    assert!(
        matches!(result, Err(ProviderError::Unavailable(_))),
        "{result:?}"
    );
    assert_eq!(mock.state.api_calls(), 3);
    assert_eq!(mock.state.orders_created(), 0);
    mock.shutdown().await;
}

#[tokio::test]
async fn does_not_retry_client_errors() {
    let mock = mock().await;
    let client = client(&mock, "TEST-token", Duration::from_secs(2));
    mock.state.fail_next(1, 400);
    let result = client.create_order(&payment(Currency::Brl, 100, 1)).await;
    assert!(
        matches!(result, Err(ProviderError::Rejected { status: 400, .. })),
        "{result:?}"
    );
    assert_eq!(mock.state.api_calls(), 1);

    let unauthorized = self::client(&mock, "", Duration::from_secs(2));
    let result = unauthorized
        .create_order(&payment(Currency::Brl, 100, 1))
        .await;
    assert!(
        matches!(result, Err(ProviderError::Rejected { status: 401, .. })),
        "{result:?}"
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn a_timeout_is_retried_with_the_same_key_and_yields_one_order() {
    let mock = mock().await;
    let client = client(&mock, "TEST-token", Duration::from_millis(300));
    // The first call is held past the client's timeout, then completes at the mock.
    mock.state.delay_next(1, Duration::from_millis(600));
    let result = client.create_order(&payment(Currency::Brl, 100, 1)).await;
    assert!(result.is_ok(), "{result:?}");
    // Let the slow first call finish, then the same payment still maps to one order.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(mock.state.orders_created(), 1);
    mock.shutdown().await;
}

#[tokio::test]
async fn reads_and_cancels_orders_mapping_status() {
    let mock = mock().await;
    let client = client(&mock, "TEST-token", Duration::from_secs(2));
    let p = payment(Currency::Brl, 100, 1);
    let created = client.create_order(&p).await.unwrap();
    let state = client.get_order(&created.order_id).await.unwrap();
    assert_eq!(state.outcome, ProviderOutcome::Pending);
    assert_eq!(state.external_reference.as_deref(), Some(p.id().as_str()));
    assert_eq!(state.total_amount.as_deref(), Some("1.00"));
    assert_eq!(state.payment_id, created.payment_id);

    let canceled = client
        .cancel_order(&created.order_id, &payments::ports::cancel_key(p.id()))
        .await
        .unwrap();
    assert_eq!(canceled.outcome, ProviderOutcome::Canceled);
    // Mercado Pago's form, but no order of its: its 404.
    let unknown = ProviderOrderId::parse("ORD00000000000000000000000000").unwrap();
    assert_eq!(
        client.get_order(&unknown).await,
        Err(ProviderError::NotFound)
    );
    // Not Mercado Pago's form (it would answer 400 invalid_path_param): no
    // order of its, and never sent.
    let calls = mock.state.api_calls();
    let malformed = ProviderOrderId::parse("ORD01NOSUCHORDER").unwrap();
    assert_eq!(
        client.get_order(&malformed).await,
        Err(ProviderError::NotFound)
    );
    assert_eq!(
        mock.state.api_calls(),
        calls,
        "a malformed id is never sent"
    );
    // An id that would leave the orders path cannot even be built.
    assert!(ProviderOrderId::parse("../etc").is_err());
    mock.shutdown().await;
}

#[tokio::test]
async fn the_mock_validates_bodies_like_mercado_pago() {
    let mock = mock().await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/orders", mock.base_url());
    let good = serde_json::json!({
        "type": "qr", "external_reference": "pay_1", "total_amount": "25.90",
        "config": {"qr": {"external_pos_id": "POS001", "mode": "dynamic"}},
        "transactions": {"payments": [{"amount": "25.90"}]},
        "items": [{"title": "X", "unit_price": "12.95", "quantity": 2, "unit_measure": "unit", "external_code": "XB"}]
    });
    let post = |body: Value, key: &str| {
        http.post(&url)
            .bearer_auth("TEST")
            .header("X-Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let mut bad_amount = good.clone();
    bad_amount["total_amount"] = "25.901".into();
    let mut missing = good.clone();
    missing
        .as_object_mut()
        .unwrap()
        .remove("external_reference");
    let mut mismatch = good.clone();
    mismatch["transactions"]["payments"][0]["amount"] = "25.00".into();
    for (index, body) in [bad_amount, missing, mismatch].into_iter().enumerate() {
        let response = post(body, &format!("bad-{index}")).await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "case {index}");
    }
    assert_eq!(
        post(good.clone(), "k1").await.unwrap().status().as_u16(),
        201
    );
    assert_eq!(
        post(good.clone(), "k1").await.unwrap().status().as_u16(),
        201
    );
    let mut other = good.clone();
    other["external_reference"] = "pay_2".into();
    assert_eq!(post(other, "k1").await.unwrap().status().as_u16(), 409);
    assert_eq!(mock.state.orders_created(), 1);
    mock.shutdown().await;
}

/// Posts a control call to the mock (`/mock/...`).
async fn control(mock: &MockServer, path: &str, body: Value) {
    mercadopago::mock_control(&mock.base_url(), path, &body).await;
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says_then_retried() {
    let mock = mock().await;
    // Its own backoff is milliseconds: only Retry-After makes it wait a second.
    let client = client(&mock, "TEST-token", Duration::from_secs(2));
    let created = client
        .create_order(&payment(Currency::Brl, 100, 1))
        .await
        .unwrap();
    control(
        &mock,
        "/mock/faults",
        serde_json::json!({"fail_next": 1, "status": 429, "retry_after": 1, "on": "get"}),
    )
    .await;
    let started = std::time::Instant::now();
    let state = client.get_order(&created.order_id).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}, not what Retry-After said",
        started.elapsed()
    );
    assert_eq!(state.outcome, ProviderOutcome::Pending);
    assert_eq!(mock.state.api_calls(), 3, "create, the 429, the read");
    mock.shutdown().await;
}

#[tokio::test]
async fn a_retry_after_longer_than_five_seconds_fails_the_call_at_once() {
    let mock = mock().await;
    let client = client(&mock, "TEST-token", Duration::from_secs(2));
    let created = client
        .create_order(&payment(Currency::Brl, 100, 1))
        .await
        .unwrap();
    control(
        &mock,
        "/mock/faults",
        serde_json::json!({"fail_next": 1, "status": 429, "retry_after": 30, "on": "get"}),
    )
    .await;
    let started = std::time::Instant::now();
    let result = client.get_order(&created.order_id).await;
    assert!(
        matches!(result, Err(ProviderError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "did not wait 30 s"
    );
    assert_eq!(mock.state.api_calls(), 2, "create and the one 429");
    mock.shutdown().await;
}

#[tokio::test]
async fn an_order_status_mercado_pago_may_add_later_leaves_the_payment_pending() {
    let mock = mock().await;
    let client = client(&mock, "TEST-token", Duration::from_secs(2));
    let created = client
        .create_order(&payment(Currency::Brl, 100, 1))
        .await
        .unwrap();
    let order = created.order_id.as_str();
    for (status, detail) in [
        ("something_new", "something_new"),
        // Paid in a way Mercado Pago does not document: not approved on a guess.
        ("processed", "something_new"),
    ] {
        assert!(mock.state.set_order_status(order, status, detail));
        let state = client.get_order(&created.order_id).await.unwrap();
        assert_eq!(state.outcome, ProviderOutcome::Pending, "{status}/{detail}");
    }
    assert!(mock
        .state
        .set_order_status(order, "processed", "accredited"));
    let state = client.get_order(&created.order_id).await.unwrap();
    assert_eq!(state.outcome, ProviderOutcome::Approved);
    mock.shutdown().await;
}

#[tokio::test]
async fn refund_errors_are_told_apart_by_mercado_pagos_codes() {
    use payments::ports::{ProviderRefundStatus, RefundRequest, Refusal};

    let mock = MockServer::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockConfig {
            refund_settle: Duration::from_millis(300),
            ..MockConfig::default()
        },
    )
    .await
    .unwrap();
    let client = client(&mock, "TEST-token", Duration::from_secs(2));
    let created = client
        .create_order(&payment(Currency::Brl, 2590, 1))
        .await
        .unwrap();
    let order = created.order_id.clone();
    control(
        &mock,
        &format!("/mock/orders/{order}/pay"),
        serde_json::json!({"outcome": "approved", "notify": false}),
    )
    .await;
    let ask = |key: &str, amount: i64| RefundRequest {
        idempotency_key: key.into(),
        payment_id: created.payment_id.clone(),
        amount: Some(Money::new(amount, Currency::Brl).unwrap()),
    };

    assert!(mock.state.set_partial_refunds(order.as_str(), false));
    let refused = client.refund_order(&order, &ask("r-1", 1000)).await;
    assert!(
        matches!(
            refused,
            Err(ProviderError::Rejected {
                refusal: Refusal::PartialRefundNotSupported,
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(mock.state.set_partial_refunds(order.as_str(), true));

    let taken = client
        .refund_order(&order, &ask("r-2", 1000))
        .await
        .unwrap();
    assert_eq!(taken.refunds.len(), 1);
    assert_eq!(taken.refunds[0].status, ProviderRefundStatus::Processing);
    let busy = client.refund_order(&order, &ask("r-3", 500)).await;
    assert!(matches!(busy, Err(ProviderError::Busy(_))), "{busy:?}");

    // Once the first is processed, more than remains is refused as such.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let settled = client.get_order(&order).await.unwrap();
    assert_eq!(settled.refunds[0].status, ProviderRefundStatus::Processed);
    let above = client.refund_order(&order, &ask("r-4", 2000)).await;
    assert!(
        matches!(
            above,
            Err(ProviderError::Rejected {
                refusal: Refusal::AmountAboveRemaining,
                ..
            })
        ),
        "{above:?}"
    );
    mock.shutdown().await;
}
