//! Helpers shared by the mock's tests: the mock on 127.0.0.1:0 with an HTTP
//! client, a webhook receiver, and bounded polling.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::routing::post;
use axum::Router;
use mercadopago_mock::{signing, MockConfig, MockServer};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TOKEN: &str = "TEST-mock-token";
pub const SECRET: &str = "mock-test-secret";

/// A well-formed order id (ORD + 26) that no mock ever made.
pub const UNKNOWN_ORDER: &str = "ORD00000000000000000000000000";

pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// An HTTP answer: status, headers and the body as JSON (Null when empty).
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["errors"][0]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no MP error code in {}", self.body))
    }
}

/// The mock plus an HTTP client that speaks to it.
pub struct Mock {
    pub server: MockServer,
    pub http: reqwest::Client,
}

impl Mock {
    /// Refunds settle at once (`refund_settle` zero).
    pub async fn start() -> Self {
        Self::settling(Duration::ZERO).await
    }

    /// Refunds stay `processing` for `settle`.
    pub async fn settling(settle: Duration) -> Self {
        Self::with(MockConfig {
            webhook_secret: SECRET.into(),
            refund_settle: settle,
            ..MockConfig::default()
        })
        .await
    }

    pub async fn with(config: MockConfig) -> Self {
        let server = MockServer::start(loopback(), config).await.unwrap();
        Self {
            server,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
    }

    pub fn create_body(total: &str, notification_url: Option<&str>) -> Value {
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
        body
    }

    /// `POST /v1/orders` with `body` and a fresh key.
    pub async fn try_create(&self, body: &Value) -> Answer {
        let key = ulid::Ulid::new().to_string();
        self.send(
            self.http
                .post(self.url("/v1/orders"))
                .bearer_auth(TOKEN)
                .header("x-idempotency-key", key)
                .json(body),
        )
        .await
    }

    /// Creates an order for `total` (payments adding up), 201 expected.
    pub async fn create(&self, total: &str, notification_url: Option<&str>) -> Value {
        let answer = self
            .try_create(&Self::create_body(total, notification_url))
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        answer.body
    }

    /// A paid order for `total`, without a webhook.
    pub async fn paid(&self, total: &str, notification_url: Option<&str>) -> Value {
        let order = self.create(total, notification_url).await;
        let answer = self
            .control(
                &format!("/mock/orders/{}/pay", id(&order)),
                Some(json!({"outcome": "approved", "notify": false})),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        self.get(&order).await
    }

    pub async fn read(&self, order_id: &str) -> Answer {
        self.send(
            self.http
                .get(self.url(&format!("/v1/orders/{order_id}")))
                .bearer_auth(TOKEN),
        )
        .await
    }

    pub async fn get(&self, order: &Value) -> Value {
        let answer = self.read(id(order)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body
    }

    /// `POST /v1/orders/{id}/refund` with `key`; `body` None sends no body.
    pub async fn refund_id(&self, order_id: &str, key: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .post(self.url(&format!("/v1/orders/{order_id}/refund")))
            .bearer_auth(TOKEN)
            .header("x-idempotency-key", key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub async fn refund(&self, order: &Value, key: &str, body: Option<Value>) -> Answer {
        self.refund_id(id(order), key, body).await
    }

    /// `POST /v1/orders/{id}/cancel`, with `key` when given.
    pub async fn cancel(&self, order_id: &str, key: Option<&str>) -> Answer {
        let mut request = self
            .http
            .post(self.url(&format!("/v1/orders/{order_id}/cancel")))
            .bearer_auth(TOKEN);
        if let Some(key) = key {
            request = request.header("x-idempotency-key", key);
        }
        self.send(request).await
    }

    /// A `/mock/...` POST; `body` None sends no body.
    pub async fn control(&self, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.http.post(self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Answer {
            status,
            headers,
            body,
        }
    }
}

pub fn id(order: &Value) -> &str {
    order["id"].as_str().unwrap()
}

pub fn partial(order: &Value, amount: &str) -> Value {
    json!({"transactions": [{"id": payment_id(order), "amount": amount}]})
}

pub fn payment_id(order: &Value) -> &str {
    order["transactions"]["payments"][0]["id"].as_str().unwrap()
}

pub fn refunds(order: &Value) -> Vec<Value> {
    order["transactions"]["refunds"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn assert_refund(refund: &Value, order: &Value, amount: &str, status: &str) {
    assert!(
        refund["id"].as_str().unwrap().starts_with("REF"),
        "{refund}"
    );
    assert_eq!(refund["id"].as_str().unwrap().len(), 3 + 26, "REF + ULID");
    assert_eq!(refund["transaction_id"], payment_id(order));
    assert_eq!(refund["amount"], amount);
    assert_eq!(refund["status"], status, "{refund}");
}

/// Polls `probe` every 20 ms until it gives Some, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Received = Arc<Mutex<Vec<(Uri, HeaderMap, Bytes)>>>;

/// Records the webhooks the mock sends.
pub struct Receiver {
    pub url: String,
    received: Received,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

async fn record(State(received): State<Received>, uri: Uri, headers: HeaderMap, body: Bytes) {
    received.lock().push((uri, headers, body));
}

impl Receiver {
    pub async fn start() -> Self {
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

    pub fn received(&self) -> Vec<(Uri, HeaderMap, Bytes)> {
        self.received.lock().clone()
    }

    /// The bodies received so far, parsed.
    pub fn bodies(&self) -> Vec<Value> {
        self.received()
            .iter()
            .map(|(_, _, body)| serde_json::from_slice(body).unwrap())
            .collect()
    }

    /// Waits (at most 5 s) until `count` webhooks have arrived; their bodies.
    pub async fn wait_for(&self, count: usize) -> Vec<Value> {
        eventually(Duration::from_secs(5), || async {
            let bodies = self.bodies();
            (bodies.len() >= count).then_some(bodies)
        })
        .await
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

/// Checks `x-signature` as a receiver would: HMAC over MP's manifest.
pub fn assert_signed(headers: &HeaderMap, order_id: &str) {
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
