//! Refunds (API and dashboard), the refund window, forced payment and the
//! access token, against a mock on 127.0.0.1:0 driven over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use axum::Router;
use mercadopago_mock::{signing, MockConfig, MockServer};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TOKEN: &str = "TEST-refunds-token";
const SECRET: &str = "refunds-test-secret";

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The mock plus an HTTP client that speaks to it.
struct Mock {
    server: MockServer,
    http: reqwest::Client,
}

impl Mock {
    async fn start() -> Self {
        Self::with(MockConfig {
            webhook_secret: SECRET.into(),
            ..MockConfig::default()
        })
        .await
    }

    async fn with(config: MockConfig) -> Self {
        let server = MockServer::start(loopback(), config).await.unwrap();
        Self {
            server,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    async fn stop(self) {
        self.server.shutdown().await;
    }

    /// Creates an order for `total` (payments adding up), 201 expected.
    async fn create(&self, total: &str, notification_url: Option<&str>) -> Value {
        let reference = format!("pay_{}", ulid::Ulid::new());
        let mut body = json!({
            "type": "qr",
            "external_reference": reference,
            "total_amount": total,
            "config": {"qr": {"external_pos_id": "POS001", "mode": "dynamic"}},
            "transactions": {"payments": [{"amount": total}]},
        });
        if let Some(url) = notification_url {
            body["notification_url"] = json!(url);
        }
        let response = self
            .http
            .post(self.url("/v1/orders"))
            .bearer_auth(TOKEN)
            .header("x-idempotency-key", &reference)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    /// A paid order for `total`, without a webhook.
    async fn paid(&self, total: &str) -> Value {
        let order = self.create(total, None).await;
        let (status, _) = self
            .control(
                &format!("/mock/orders/{}/pay", order["id"].as_str().unwrap()),
                Some(json!({"outcome": "approved", "notify": false})),
            )
            .await;
        assert_eq!(status, 200);
        self.get(&order).await
    }

    async fn get(&self, order: &Value) -> Value {
        let response = self
            .http
            .get(self.url(&format!("/v1/orders/{}", order["id"].as_str().unwrap())))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// `POST /v1/orders/{id}/refund` with `key`; `body` None sends no body.
    async fn refund(&self, order: &Value, key: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url(&format!(
                "/v1/orders/{}/refund",
                order["id"].as_str().unwrap()
            )))
            .bearer_auth(TOKEN)
            .header("x-idempotency-key", key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// A `/mock/...` POST; `body` None sends no body.
    async fn control(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.post(self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

fn partial(order: &Value, amount: &str) -> Value {
    json!({"transactions": [{"id": payment_id(order), "amount": amount}]})
}

fn payment_id(order: &Value) -> &str {
    order["transactions"]["payments"][0]["id"].as_str().unwrap()
}

fn refunds(order: &Value) -> Vec<Value> {
    order["transactions"]["refunds"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn error_code(answer: &Value) -> &str {
    answer["errors"][0]["code"].as_str().unwrap()
}

fn assert_refund(refund: &Value, order: &Value, amount: &str) {
    assert!(
        refund["id"].as_str().unwrap().starts_with("REF"),
        "{refund}"
    );
    assert_eq!(refund["id"].as_str().unwrap().len(), 3 + 26, "REF + ULID");
    assert_eq!(refund["transaction_id"], payment_id(order));
    assert_eq!(refund["amount"], amount);
    assert_eq!(refund["status"], "processed");
}

/// Records the webhooks the mock sends.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<(Uri, HeaderMap, Bytes)>>>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

type Received = Arc<Mutex<Vec<(Uri, HeaderMap, Bytes)>>>;

async fn record(State(received): State<Received>, uri: Uri, headers: HeaderMap, body: Bytes) {
    received.lock().push((uri, headers, body));
}

impl Receiver {
    async fn start() -> Self {
        let listener = TcpListener::bind(loopback()).await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        let received = Received::default();
        let app = Router::new()
            .route("/webhook", post(record))
            .with_state(received.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            url,
            received,
            stop,
            task,
        }
    }

    fn received(&self) -> Vec<(Uri, HeaderMap, Bytes)> {
        self.received.lock().clone()
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

/// Checks `x-signature` as a receiver would: HMAC over MP's manifest.
fn assert_signed(headers: &HeaderMap, order_id: &str) {
    let signature = headers["x-signature"].to_str().unwrap();
    let request_id = headers["x-request-id"].to_str().unwrap();
    let (ts, v1) = signature.split_once(',').unwrap();
    let ts = ts.strip_prefix("ts=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    let expected = signing::sign_manifest(SECRET, &signing::manifest(order_id, request_id, ts));
    assert_eq!(v1, expected, "x-signature verifies with the webhook secret");
    let wrong = signing::sign_manifest("wrong", &signing::manifest(order_id, request_id, ts));
    assert_ne!(v1, wrong);
}

#[tokio::test]
async fn a_full_refund_refunds_everything_paid() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90").await;
    assert_eq!(order["status"], "processed");
    assert!(order["transactions"].get("refunds").is_none());

    let (status, refunded) = mock.refund(&order, "refund-full", None).await;
    assert_eq!(status, 201, "{refunded}");
    assert_eq!(refunded["id"], order["id"]);
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["status_detail"], "refunded");
    assert_eq!(
        refunded["transactions"]["payments"][0]["status"],
        "refunded"
    );
    let made = refunds(&refunded);
    assert_eq!(made.len(), 1);
    assert_refund(&made[0], &order, "25.90");

    // GET shows the same; a refunded order cannot be refunded again.
    let read = mock.get(&order).await;
    assert_eq!(read["status"], "refunded");
    assert_eq!(refunds(&read), made);
    let (status, again) = mock.refund(&order, "refund-full-2", None).await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&again), "cannot_refund_order");
    assert_eq!(refunds(&mock.get(&order).await).len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn a_partial_refund_then_the_rest() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90").await;

    let (status, first) = mock
        .refund(&order, "refund-part-1", Some(partial(&order, "12.95")))
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["status"], "processed");
    assert_eq!(first["status_detail"], "partially_refunded");
    assert_eq!(first["transactions"]["payments"][0]["status"], "processed");
    assert_eq!(refunds(&first).len(), 1);
    assert_refund(&refunds(&first)[0], &order, "12.95");
    assert_eq!(
        mock.get(&order).await["status_detail"],
        "partially_refunded"
    );

    // `{}` is a full refund: all that remains.
    let (status, rest) = mock.refund(&order, "refund-part-2", Some(json!({}))).await;
    assert_eq!(status, 201, "{rest}");
    assert_eq!(rest["status"], "refunded");
    assert_eq!(rest["status_detail"], "refunded");
    let made = refunds(&rest);
    assert_eq!(made.len(), 2);
    assert_eq!(made[0], refunds(&first)[0]);
    assert_refund(&made[1], &order, "12.95");
    assert_ne!(made[0]["id"], made[1]["id"]);
    assert_eq!(refunds(&mock.get(&order).await), made);
    mock.stop().await;
}

#[tokio::test]
async fn an_over_refund_or_a_bad_amount_is_400_and_records_nothing() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90").await;
    let (status, _) = mock
        .refund(&order, "refund-20", Some(partial(&order, "20.00")))
        .await;
    assert_eq!(status, 201);

    let over = partial(&order, "5.91");
    let unknown = json!({"transactions": [{"id": "PAY01UNKNOWN", "amount": "1.00"}]});
    let number = json!({"transactions": [{"id": payment_id(&order), "amount": 1.5}]});
    let twice = json!({"transactions": [
        {"id": payment_id(&order), "amount": "3.00"},
        {"id": payment_id(&order), "amount": "3.00"},
    ]});
    for (body, code) in [
        (over, "invalid_refund_amount"),
        (twice, "invalid_refund_amount"),
        (partial(&order, "0.00"), "invalid_refund_amount"),
        (partial(&order, "-1.00"), "invalid_refund_amount"),
        (partial(&order, "1.999"), "invalid_refund_amount"),
        (partial(&order, "1,00"), "invalid_refund_amount"),
        (number, "invalid_refund_amount"),
        (unknown, "invalid_transaction_id"),
    ] {
        let (status, answer) = mock.refund(&order, "refund-bad", Some(body.clone())).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(error_code(&answer), code, "{body}");
        assert!(answer["errors"][0]["message"].as_str().unwrap().len() > 5);
    }
    let read = mock.get(&order).await;
    assert_eq!(refunds(&read).len(), 1, "nothing more recorded");
    assert_eq!(read["status_detail"], "partially_refunded");

    // A refused refund does not use up its key; exactly what remains is fine.
    let (status, rest) = mock
        .refund(&order, "refund-bad", Some(partial(&order, "5.90")))
        .await;
    assert_eq!(status, 201, "{rest}");
    assert_eq!(rest["status"], "refunded");
    mock.stop().await;
}

#[tokio::test]
async fn whole_unit_orders_refund_whole_units() {
    let mock = Mock::start().await;
    let order = mock.paid("1500").await;
    assert_eq!(order["total_paid_amount"], "1500");
    let (status, answer) = mock
        .refund(&order, "clp-decimals", Some(partial(&order, "500.00")))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&answer), "invalid_refund_amount");
    let (status, first) = mock
        .refund(&order, "clp-500", Some(partial(&order, "500")))
        .await;
    assert_eq!(status, 201, "{first}");
    assert_refund(&refunds(&first)[0], &order, "500");
    let (status, rest) = mock.refund(&order, "clp-rest", None).await;
    assert_eq!(status, 201);
    assert_refund(&refunds(&rest)[1], &order, "1000");
    assert_eq!(rest["status"], "refunded");
    let unpaid = mock.create("990", None).await;
    assert_eq!(unpaid["total_paid_amount"], "0");
    mock.stop().await;
}

#[tokio::test]
async fn only_a_paid_order_can_be_refunded() {
    let mock = Mock::start().await;
    let created = mock.create("25.90", None).await;
    let (status, answer) = mock.refund(&created, "unpaid", None).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(error_code(&answer), "cannot_refund_order");

    let rejected = mock.create("25.90", None).await;
    let (status, _) = mock
        .control(
            &format!("/mock/orders/{}/pay", rejected["id"].as_str().unwrap()),
            Some(json!({"outcome": "rejected", "notify": false})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, answer) = mock
        .refund(&rejected, "rejected", Some(partial(&rejected, "1.00")))
        .await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&answer), "cannot_refund_order");
    assert!(refunds(&mock.get(&created).await).is_empty());
    assert!(refunds(&mock.get(&rejected).await).is_empty());

    let (status, answer) = mock
        .refund(&json!({"id": "ORD01MISSING"}), "missing", None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&answer), "order_not_found");
    mock.stop().await;
}

#[tokio::test]
async fn a_refund_key_replays_its_first_answer_and_refuses_another_body() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90").await;
    let body = partial(&order, "10.00");

    let (status, first) = mock.refund(&order, "refund-key", Some(body.clone())).await;
    assert_eq!(status, 201);
    let (status, again) = mock.refund(&order, "refund-key", Some(body.clone())).await;
    assert_eq!(status, 201);
    assert_eq!(again, first, "the same answer again");
    let read = mock.get(&order).await;
    assert_eq!(refunds(&read).len(), 1, "no second refund");
    assert_eq!(read["status_detail"], "partially_refunded");

    let (status, other) = mock
        .refund(&order, "refund-key", Some(partial(&order, "5.00")))
        .await;
    assert_eq!(status, 409, "{other}");
    assert_eq!(error_code(&other), "idempotency_key_already_used");
    let (status, other) = mock.refund(&order, "refund-key", None).await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&other), "idempotency_key_already_used");
    assert_eq!(refunds(&mock.get(&order).await).len(), 1);

    // A key belongs to its order: the same key and body on another order is 409.
    let one = mock.paid("25.90").await;
    let other = mock.paid("25.90").await;
    let (status, _) = mock.refund(&one, "shared-key", None).await;
    assert_eq!(status, 201);
    let (status, answer) = mock.refund(&other, "shared-key", None).await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&answer), "idempotency_key_already_used");
    assert!(refunds(&mock.get(&other).await).is_empty());

    // No key, or one of more than 64 characters: 400.
    let response = mock
        .http
        .post(mock.url(&format!(
            "/v1/orders/{}/refund",
            order["id"].as_str().unwrap()
        )))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(error_code(&answer), "empty_required_header");
    let (status, _) = mock.refund(&order, &"k".repeat(65), None).await;
    assert_eq!(status, 400);
    assert_eq!(refunds(&mock.get(&order).await).len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn a_cancel_without_an_idempotency_key_is_refused_as_mercado_pago_refuses_it() {
    let mock = Mock::start().await;
    let order = mock.create("25.90", None).await;
    let id = order["id"].as_str().unwrap();
    let cancel = |key: Option<&str>| {
        let mut request = mock
            .http
            .post(mock.url(&format!("/v1/orders/{id}/cancel")))
            .bearer_auth(TOKEN);
        if let Some(key) = key {
            request = request.header("x-idempotency-key", key);
        }
        request.send()
    };
    let refused = cancel(None).await.unwrap();
    assert_eq!(refused.status(), 400);
    let answer: Value = refused.json().await.unwrap();
    assert_eq!(error_code(&answer), "empty_required_header");
    assert_eq!(
        mock.get(&order).await["status"],
        "created",
        "nothing canceled"
    );

    let canceled = cancel(Some("cancel-pay_1")).await.unwrap();
    assert_eq!(canceled.status(), 200);
    assert_eq!(mock.get(&order).await["status"], "canceled");
    mock.stop().await;
}

#[tokio::test]
async fn a_closed_refund_window_refuses_refunds() {
    let mock = Mock::start().await;
    let order = mock.paid("25.90").await;
    let id = order["id"].as_str().unwrap();
    let window = format!("/mock/orders/{id}/refund-window");

    let (status, answer) = mock.control(&window, Some(json!({"open": false}))).await;
    assert_eq!(status, 200);
    assert_eq!(answer, json!({"id": id, "refund_window": {"open": false}}));
    let (status, answer) = mock.refund(&order, "late", None).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(error_code(&answer), "refund_period_expired");
    assert!(!answer["errors"][0]["message"].as_str().unwrap().is_empty());
    let (status, answer) = mock
        .control(&format!("/mock/orders/{id}/refund"), None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&answer), "refund_period_expired");
    let read = mock.get(&order).await;
    assert!(refunds(&read).is_empty());
    assert_eq!(read["status"], "processed");

    let (status, _) = mock.control(&window, Some(json!({"open": true}))).await;
    assert_eq!(status, 200);
    let (status, _) = mock.refund(&order, "late", None).await;
    assert_eq!(status, 201, "the refused key was not used up");

    let (status, answer) = mock
        .control(
            "/mock/orders/ORD01MISSING/refund-window",
            Some(json!({"open": false})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&answer), "order_not_found");
    mock.stop().await;
}

#[tokio::test]
async fn a_dashboard_refund_sends_a_signed_order_refunded_webhook() {
    let receiver = Receiver::start().await;
    let mock = Mock::start().await;
    let order = mock.create("25.90", Some(&receiver.url)).await;
    let id = order["id"].as_str().unwrap();
    let (status, _) = mock
        .control(
            &format!("/mock/orders/{id}/pay"),
            Some(json!({"outcome": "approved", "notify": false})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(receiver.received().is_empty());

    let (status, answer) = mock
        .control(
            &format!("/mock/orders/{id}/refund"),
            Some(json!({"amount": "5.00"})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["order"]["status"], "processed");
    assert_eq!(answer["order"]["status_detail"], "partially_refunded");
    assert_refund(&answer["refund"], &order, "5.00");
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
    let (status, again) = mock
        .control(&format!("/mock/orders/{id}/notify"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["webhook"]["body"]["action"], "order.refunded");
    assert_eq!(receiver.received().len(), 2);

    // No amount: all that remains; `"notify": false`: no webhook.
    let (status, rest) = mock
        .control(
            &format!("/mock/orders/{id}/refund"),
            Some(json!({"notify": false})),
        )
        .await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["webhook"], Value::Null);
    assert_refund(&rest["refund"], &order, "20.90");
    assert_eq!(rest["order"]["status"], "refunded");
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
    })
    .await;
    let order = mock.paid("25.90").await;
    let id = order["id"].as_str().unwrap();
    let (status, answer) = mock
        .control(&format!("/mock/orders/{id}/refund"), None)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["order"]["status"], "refunded");
    assert_refund(&answer["refund"], &order, "25.90");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let body: Value = serde_json::from_slice(&received[0].2).unwrap();
    assert_eq!(body["action"], "order.refunded");
    assert_eq!(body["data"]["status"], "refunded");
    assert_signed(&received[0].1, id);

    // Unpaid: 409, and no webhook.
    let unpaid = mock.create("25.90", None).await;
    let (status, answer) = mock
        .control(
            &format!("/mock/orders/{}/refund", unpaid["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&answer), "cannot_refund_order");
    assert_eq!(receiver.received().len(), 1);
    mock.stop().await;
    receiver.stop().await;
}

#[tokio::test]
async fn a_forced_payment_pays_a_canceled_order() {
    let receiver = Receiver::start().await;
    let mock = Mock::start().await;
    let order = mock.create("25.90", Some(&receiver.url)).await;
    let id = order["id"].as_str().unwrap();
    let response = mock
        .http
        .post(mock.url(&format!("/v1/orders/{id}/cancel")))
        .bearer_auth(TOKEN)
        .header("x-idempotency-key", "cancel-forced")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(mock.get(&order).await["status"], "canceled");

    let pay = format!("/mock/orders/{id}/pay");
    let (status, answer) = mock
        .control(&pay, Some(json!({"outcome": "approved"})))
        .await;
    assert_eq!(status, 409, "without force: as before");
    assert_eq!(error_code(&answer), "order_not_open");
    let (status, answer) = mock
        .control(&pay, Some(json!({"outcome": "rejected", "force": true})))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&answer), "invalid_force");
    assert!(receiver.received().is_empty());

    let (status, answer) = mock
        .control(&pay, Some(json!({"outcome": "approved", "force": true})))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["order"]["status"], "processed");
    assert_eq!(answer["order"]["status_detail"], "accredited");
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
    let (status, _) = mock
        .control(&format!("/mock/orders/{expired_id}/expire"), None)
        .await;
    assert_eq!(status, 200);
    let (status, answer) = mock
        .control(
            &format!("/mock/orders/{expired_id}/pay"),
            Some(json!({"outcome": "approved", "force": true, "notify": false})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["webhook"], Value::Null);
    assert_eq!(mock.get(&expired).await["status"], "processed");
    let (status, _) = mock.refund(&expired, "after-force", None).await;
    assert_eq!(status, 201);
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
    assert_eq!(error_code(&answer), "unauthorized");
    let prefix = read("TEST-refunds").await.unwrap();
    assert_eq!(prefix.status(), 401);
    let missing = mock
        .http
        .get(mock.url(&format!("/v1/orders/{}", order["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let (status, answer) = {
        let response = mock
            .http
            .post(mock.url(&format!(
                "/v1/orders/{}/refund",
                order["id"].as_str().unwrap()
            )))
            .bearer_auth("TEST-another-token")
            .header("x-idempotency-key", "k")
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 401);
    assert_eq!(error_code(&answer), "unauthorized");
    mock.stop().await;

    // Not configured: any non-empty token, as before.
    let open = Mock::start().await;
    let response = open
        .http
        .get(open.url("/v1/orders/ORD01MISSING"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    open.stop().await;
}

#[test]
fn the_config_does_not_print_secrets() {
    let config = MockConfig {
        webhook_secret: "s3cret".into(),
        default_notification_url: None,
        access_token: Some("TEST-t0ken".into()),
    };
    let printed = format!("{config:?}");
    assert!(!printed.contains("s3cret") && !printed.contains("TEST-t0ken"));
}
