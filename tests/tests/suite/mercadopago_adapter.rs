//! The production Mercado Pago adapter (reqwest) against the mock over real HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use mercadopago_mock::{MockConfig, MockServer};
use payments::adapters::mercadopago::MercadoPagoClient;
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
    MercadoPagoClient::new(mercadopago::config(mock.base_url(), token, timeout))
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
    let unknown = ProviderOrderId::parse("ORD01NOSUCHORDER").unwrap();
    assert_eq!(
        client.get_order(&unknown).await,
        Err(ProviderError::NotFound)
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
