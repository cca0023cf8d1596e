//! Starts payments-local in-process on free loopback ports and drives it over HTTP.

use std::time::Duration;

use payments_local::{LocalConfig, LocalStack};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::{mercadopago, WEBHOOK_SECRET};

pub struct Stack {
    pub local: LocalStack,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

pub fn order_body(order_id: &str) -> Value {
    json!({
        "order_id": order_id,
        "amount": 2590,
        "currency": "BRL",
        "items": [{"sku": "XB", "title": "X-Burger", "quantity": 2, "unit_price": 1295}],
        "description": "Kiosk 3"
    })
}

impl Stack {
    pub async fn start() -> Stack {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut LocalConfig)) -> Stack {
        let mut config = LocalConfig {
            port: 0,
            mock_port: 0,
            webhook_secret: WEBHOOK_SECRET.into(),
            payment_expiry: Duration::from_secs(900),
            mp_timeout: Duration::from_secs(2),
            mp_retry: mercadopago::fast_retries(),
            print_events: false,
            scheduled_every: None,
            kept_metrics: None,
            idle_timeout: Duration::from_secs(60),
            // Refunds processed in Mercado Pago's answer unless a test asks
            // for the mock's asynchronous refunds.
            refund_settle: Duration::ZERO,
            // LOCALPOS001 (the default) and LOCALPOS002, as `cargo run` has them.
            points_of_sale: None,
        };
        adjust(&mut config);
        let local = LocalStack::start(config)
            .await
            .expect("local stack starts on free loopback ports");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("http client");
        Stack { local, http }
    }

    pub async fn stop(self) {
        self.local.shutdown().await;
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{}", self.local.api_url(), path)
    }

    pub fn mock(&self, path: &str) -> String {
        format!("{}{}", self.local.mock_url(), path)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request is answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn create(&self, body: &Value) -> Reply {
        self.send(self.http.post(self.api("/payments")).json(body))
            .await
    }

    pub async fn create_raw(&self, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let mut request = self.http.post(self.api("/payments")).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        self.send(request).await
    }

    pub async fn cancel(&self, payment_id: &str) -> Reply {
        self.send(
            self.http
                .post(self.api(&format!("/payments/{payment_id}/cancel"))),
        )
        .await
    }

    /// `POST /payments/{id}/refunds` with `body` (raw JSON text; empty for none)
    /// and, when given, an `Idempotency-Key`.
    pub async fn refund(&self, payment_id: &str, key: Option<&str>, body: &str) -> Reply {
        let mut request = self
            .http
            .post(self.api(&format!("/payments/{payment_id}/refunds")))
            .body(body.to_owned());
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        self.send(request).await
    }

    /// A payment for `order`, paid by the customer and approved here.
    pub async fn approved_payment(&self, order: &str) -> Value {
        let created = self.create(&order_body(order)).await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        let paid = self
            .pay(&provider_order_id(&created.body), "approved")
            .await;
        assert_eq!(paid.body["webhook"]["status"], 200, "{:?}", paid.body);
        created.body
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(self.api(path))).await
    }

    pub async fn events(&self) -> Vec<Value> {
        let reply = self.get("/local/events").await;
        assert_eq!(reply.status, 200);
        let events = reply.body["items"].as_array().cloned().unwrap_or_default();
        // Every event published is one asyncapi.yaml describes.
        for event in &events {
            crate::asyncapi::assert_valid_event(&event.to_string());
        }
        events
    }

    /// `POST`s `body` to the mock's `path` (a control endpoint, or Mercado
    /// Pago's own API with the local stack's token).
    pub async fn mock_post(&self, path: &str, body: &Value) -> Reply {
        self.send(
            self.http
                .post(self.mock(path))
                .bearer_auth(payments_local::LOCAL_ACCESS_TOKEN)
                .json(body),
        )
        .await
    }

    /// Acts as the customer at the mock; the mock then sends the signed
    /// webhook. `rejected` ends the order `failed` (as the generic Orders
    /// API does); `rejected-attempt` leaves a QR order payable again.
    pub async fn pay(&self, provider_order_id: &str, outcome: &str) -> Reply {
        let path = format!("/mock/orders/{provider_order_id}/pay");
        self.mock_post(&path, &customer_act(outcome, true)).await
    }

    /// Changes the order at the mock without sending a webhook.
    pub async fn pay_silently(&self, provider_order_id: &str, outcome: &str) -> Reply {
        let path = format!("/mock/orders/{provider_order_id}/pay");
        self.mock_post(&path, &customer_act(outcome, false)).await
    }

    pub async fn expire(&self, provider_order_id: &str) -> Reply {
        let path = format!("/mock/orders/{provider_order_id}/expire");
        self.mock_post(&path, &Value::Null).await
    }

    pub async fn webhook(&self, query: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self
            .http
            .post(self.api(&format!("/webhooks/mercadopago?{query}")))
            .json(&json!({"action": "order.processed", "type": "order"}));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    pub fn orders_created(&self) -> u64 {
        self.local.mock.state.orders_created()
    }

    /// `GET`s the mock's `path` with the local stack's token (Mercado Pago's
    /// own API, e.g. `/v1/orders/{id}`).
    pub async fn get_mock(&self, path: &str) -> Reply {
        self.send(
            self.http
                .get(self.mock(path))
                .bearer_auth(payments_local::LOCAL_ACCESS_TOKEN),
        )
        .await
    }

    /// Mercado Pago answers again (the fault switch cleared).
    pub async fn clear_mock_faults(&self) {
        let reply = self.send(self.http.delete(self.mock("/mock/faults"))).await;
        assert!(reply.status < 300, "{:?}", reply.body);
    }
}

pub fn provider_order_id(payment: &Value) -> String {
    payment["provider"]["order_id"]
        .as_str()
        .expect("payment has a provider order")
        .to_owned()
}

pub fn payment_id(payment: &Value) -> String {
    payment["payment_id"]
        .as_str()
        .expect("payment id")
        .to_owned()
}

/// An answer read off the wire, for requests no HTTP client would send.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Asserts the answer is the problem+json of `status` and `slug`.
    pub fn assert_problem(&self, status: u16, slug: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.problem()["type"],
            format!("/problems/{slug}"),
            "{self:?}"
        );
    }

    pub fn problem(&self) -> Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        serde_json::from_str(&self.body).expect("a problem+json body")
    }
}

impl Stack {
    /// Writes `request` as it is to the API, then reads until the server
    /// closes the connection; panics if that takes more than five seconds.
    pub async fn raw_exchange(&self, request: &[u8]) -> RawReply {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.local.api_addr)
            .await
            .expect("connects to the local API");
        stream.write_all(request).await.expect("request written");
        let mut bytes = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut bytes))
            .await
            .expect("the server answers and closes within five seconds")
            .expect("answer read");
        parse_raw_reply(&bytes)
    }
}

fn parse_raw_reply(bytes: &[u8]) -> RawReply {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    RawReply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The mock's `/pay` body for `outcome` (see `Stack::pay`).
pub fn customer_act(outcome: &str, notify: bool) -> Value {
    match outcome {
        "rejected" => json!({"outcome": "rejected", "final": true, "notify": notify}),
        "rejected-attempt" => json!({"outcome": "rejected", "notify": notify}),
        other => json!({"outcome": other, "notify": notify}),
    }
}
