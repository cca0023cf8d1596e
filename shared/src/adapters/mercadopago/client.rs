use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;

use crate::adapters::secrets::Secret;
use serde::Serialize;

use crate::domain::{Payment, ProviderOrderId};
use crate::ports::{
    PaymentProvider, ProviderError, ProviderOrder, ProviderOrderState, RefundRequest, Refusal,
};

use super::wire::{
    CreateOrderBody, OrderConfig, OrderItem, OrderResponse, PaymentAmount, QrConfig, RefundBody,
    RefundTransaction, Transactions,
};

/// Bearer token: a value, or an SSM parameter kept fresh. `Debug` never
/// shows it.
#[derive(Debug, Clone)]
pub struct AccessToken(Secret);

impl AccessToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(Secret::fixed(token))
    }

    pub fn from_secret(secret: Secret) -> Self {
        Self(secret)
    }
}

/// Bounded retries with exponential backoff, for 423/429/5xx and timeouts only.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    fn delay_before(&self, attempt: u32) -> Duration {
        let factor = 2_u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

#[derive(Debug, Clone)]
pub struct MercadoPagoConfig {
    pub base_url: String,
    pub access_token: AccessToken,
    pub notification_url: Option<String>,
    /// ISO-8601 duration sent as `expiration_time`.
    pub expiration_time: String,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

pub struct MercadoPagoClient {
    http: reqwest::Client,
    config: MercadoPagoConfig,
}

impl MercadoPagoClient {
    /// A client speaking TLS as `tls` says: rustls, with the trust roots
    /// the composition root chose (compiled in, or `SSL_CERT_FILE`'s).
    pub fn new(
        config: MercadoPagoConfig,
        tls: rustls::ClientConfig,
    ) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // A redirect would carry the access token wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("payments/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::InvalidResponse(format!("http client: {e}")))?;
        let mut config = config;
        config.base_url = config.base_url.trim_end_matches('/').to_owned();
        Ok(Self { http, config })
    }

    async fn call<B: Serialize + Sync>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<OrderResponse, ProviderError> {
        let url = format!("{}{}", self.config.base_url, path);
        let token = self.config.access_token.0.current().await;
        // Only an order's own path can answer "no such order"; a 404 to a
        // create is a refusal (e.g. `pos_not_found`).
        let about_an_order = path != "/v1/orders";
        let started_call = std::time::Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose_secret());
            if let Some(key) = idempotency_key {
                request = request.header("X-Idempotency-Key", key);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let started = std::time::Instant::now();
            let sent = request.send().await;
            crate::app::metrics::provider_latency(started.elapsed().as_secs_f64() * 1000.0);
            let mut wait = None;
            let failure = match sent {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        let bytes = response.bytes().await.map_err(|e| {
                            ProviderError::Unavailable(format!("reading response: {e}"))
                        })?;
                        return serde_json::from_slice(&bytes)
                            .map_err(|e| ProviderError::InvalidResponse(format!("{path}: {e}")));
                    }
                    wait = retry_after(response.headers());
                    let detail = response.text().await.unwrap_or_default();
                    match classify(status, detail, about_an_order) {
                        Retry::No(error) => return Err(failed(error)),
                        Retry::Yes(reason) => reason,
                    }
                }
                Err(error) if error.is_timeout() => format!("timed out: {error}"),
                Err(error) if error.is_connect() || error.is_request() => {
                    format!("unreachable: {error}")
                }
                Err(error) => {
                    return Err(failed(ProviderError::InvalidResponse(error.to_string())))
                }
            };
            if attempt >= self.config.retry.max_attempts {
                return Err(failed(ProviderError::Unavailable(format!(
                    "{method} {path} after {attempt} attempts: {failure}"
                ))));
            }
            let delay = match wait {
                // Mercado Pago says when to come back: waited if it is soon
                // enough for this call, else the call fails now (the caller
                // keeps what it was doing for a later retry).
                // Too long, or longer than what is left of the call's
                // budget for its waits (the caller's own timeout follows).
                Some(wait)
                    if wait > MAX_RETRY_AFTER
                        || started_call.elapsed() + wait > MAX_CALL_WAITING =>
                {
                    return Err(failed(ProviderError::Unavailable(format!(
                        "{method} {path}: {failure}, asked to wait {}s",
                        wait.as_secs()
                    ))))
                }
                Some(wait) => wait,
                None => self.config.retry.delay_before(attempt),
            };
            tracing::warn!(%method, path, attempt, reason = %failure, delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), "Mercado Pago call failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }
}

/// Counts a call that failed for good; an unknown order is an answer, not a failure.
fn failed(error: ProviderError) -> ProviderError {
    if error != ProviderError::NotFound {
        crate::app::metrics::count("ProviderError");
    }
    error
}

enum Retry {
    Yes(String),
    No(ProviderError),
}

/// The longest `Retry-After` a call waits out; a longer one fails the call.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);
/// How long a call may have run, waits included, for a `Retry-After` to be
/// waited out: the call then still ends inside a 20 s function.
const MAX_CALL_WAITING: Duration = Duration::from_secs(10);

/// `Retry-After` in seconds (the form Mercado Pago sends); an HTTP date or
/// anything else is ignored (our own backoff applies).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

fn classify(status: StatusCode, body: String, about_an_order: bool) -> Retry {
    let code = error_code(&body);
    let detail: String = body.chars().take(300).collect();
    match (status.as_u16(), code.as_deref()) {
        (404, _) if about_an_order => Retry::No(ProviderError::NotFound),
        (423 | 429 | 500..=599, _) => Retry::Yes(format!("status {status}")),
        // Another refund of the order is still processing, or a payment of
        // it is (a cancel then waits): not now, later.
        (409, Some("refund_in_progress" | "instore_order_locked_error")) => {
            Retry::No(ProviderError::Busy(detail))
        }
        (status, code) => Retry::No(ProviderError::Rejected {
            status,
            refusal: refusal_of(code),
            detail,
        }),
    }
}

/// Mercado Pago's error codes that change what we do, in our terms.
fn refusal_of(code: Option<&str>) -> Refusal {
    match code {
        Some("unsupported_partially_refunds" | "partial_refund_forbidden_with_tips") => {
            Refusal::PartialRefundNotSupported
        }
        Some("refund_amount_exceeds") => Refusal::AmountAboveRemaining,
        // The QR refund-errors page's code for a refund past its window (the
        // older name kept for other Orders API channels).
        Some("in_store_payment_refund_order" | "refund_period_expired") => {
            Refusal::RefundPeriodExpired
        }
        _ => Refusal::Other,
    }
}

/// The first error code of a Mercado Pago error body: `{"errors": [{"code"}]}`
/// (the Orders API) or `{"cause": [{"code"}]}` / `{"error"}` (older APIs).
fn error_code(body: &str) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(body).ok()?;
    let first = |list: &str| {
        body.get(list)?
            .as_array()?
            .first()?
            .get("code")?
            .as_str()
            .map(str::to_owned)
    };
    first("errors")
        .or_else(|| first("cause"))
        .or_else(|| body.get("error")?.as_str().map(str::to_owned))
}

/// The order's path. Mercado Pago's order ids are `ORD` and 26 characters
/// (letters and digits as it issues them), and it refuses any other with
/// 400 `invalid_path_param`: such an id names no order of Mercado Pago's,
/// so it is answered `NotFound` here without a call.
fn order_path(id: &ProviderOrderId) -> Result<String, ProviderError> {
    let well_formed = id
        .as_str()
        .strip_prefix("ORD")
        .is_some_and(|rest| rest.len() == 26 && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !well_formed {
        return Err(ProviderError::NotFound);
    }
    // That alphabet is safe in a URL path as it is.
    Ok(format!("/v1/orders/{id}"))
}

#[async_trait]
impl PaymentProvider for MercadoPagoClient {
    async fn create_order(&self, payment: &Payment) -> Result<ProviderOrder, ProviderError> {
        // Every payment the create use case hands over names one; without
        // it Mercado Pago would refuse the order (400), so it is not sent.
        let Some(pos_id) = payment.pos_id() else {
            return Err(ProviderError::Rejected {
                status: 400,
                refusal: Refusal::Other,
                detail: format!("payment {} names no point of sale", payment.id()),
            });
        };
        let total = payment.amount().to_decimal_string();
        let fallback_description = format!("Order {}", payment.order_id());
        let body = CreateOrderBody {
            kind: "qr",
            external_reference: payment.id().as_str(),
            total_amount: total.clone(),
            description: Some(
                payment
                    .description()
                    .map_or(fallback_description.as_str(), |d| d.as_str()),
            ),
            expiration_time: &self.config.expiration_time,
            config: OrderConfig {
                qr: QrConfig {
                    external_pos_id: pos_id.as_str(),
                    mode: "dynamic",
                },
            },
            transactions: Transactions {
                payments: vec![PaymentAmount { amount: total }],
            },
            items: payment
                .items()
                .as_slice()
                .iter()
                .map(|item| OrderItem {
                    title: item.title().as_str(),
                    unit_price: item.unit_price().to_decimal_string(),
                    quantity: item.quantity(),
                    unit_measure: "unit",
                    external_code: item.sku().as_str(),
                })
                .collect(),
            notification_url: self.config.notification_url.as_deref(),
        };
        let order = self
            .call(
                Method::POST,
                "/v1/orders",
                Some(&body),
                Some(payment.id().as_str()),
            )
            .await?;
        let qr_data = order
            .type_response
            .as_ref()
            .and_then(|t| t.qr_data.clone())
            .ok_or_else(|| ProviderError::InvalidResponse("order without qr_data".into()))?;
        let state = order.into_state()?;
        Ok(ProviderOrder {
            order_id: state.order_id,
            payment_id: state.payment_id,
            qr_data,
            total_amount: state.total_amount,
            currency: state.currency,
        })
    }

    async fn get_order(&self, id: &ProviderOrderId) -> Result<ProviderOrderState, ProviderError> {
        self.call::<()>(Method::GET, &order_path(id)?, None, None)
            .await?
            .into_state()
    }

    async fn cancel_order(
        &self,
        id: &ProviderOrderId,
        idempotency_key: &str,
    ) -> Result<ProviderOrderState, ProviderError> {
        let path = format!("{}/cancel", order_path(id)?);
        self.call::<()>(Method::POST, &path, None, Some(idempotency_key))
            .await?
            .into_state()
    }

    async fn refund_order(
        &self,
        id: &ProviderOrderId,
        request: &RefundRequest,
    ) -> Result<ProviderOrderState, ProviderError> {
        let path = format!("{}/refund", order_path(id)?);
        // A full refund has no body; a partial one names the payment and amount.
        let body = match (&request.amount, &request.payment_id) {
            (Some(amount), Some(payment_id)) => Some(RefundBody {
                transactions: vec![RefundTransaction {
                    id: payment_id.to_string(),
                    amount: amount.to_decimal_string(),
                }],
            }),
            (Some(_), None) => {
                return Err(ProviderError::InvalidResponse(
                    "a partial refund needs the order's payment id".into(),
                ))
            }
            (None, _) => None,
        };
        self.call(
            Method::POST,
            &path,
            body.as_ref(),
            Some(request.idempotency_key.as_str()),
        )
        .await?
        .into_state()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, body: &str, about_an_order: bool) -> Option<ProviderError> {
        match classify(
            StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            body.to_owned(),
            about_an_order,
        ) {
            Retry::No(error) => Some(error),
            Retry::Yes(_) => None,
        }
    }

    fn error_body(code: &str) -> String {
        serde_json::json!({"errors": [{"code": code, "message": "m", "details": []}]}).to_string()
    }

    #[test]
    fn a_404_is_no_such_order_only_on_an_orders_own_path() {
        assert_eq!(
            refused(404, &error_body("order_not_found"), true),
            Some(ProviderError::NotFound)
        );
        // A create refused for an unknown point of sale is a refusal, counted.
        assert!(matches!(
            refused(404, &error_body("pos_not_found"), false),
            Some(ProviderError::Rejected { status: 404, .. })
        ));
    }

    #[test]
    fn work_in_progress_at_mercado_pago_is_busy_not_a_refusal() {
        for code in ["refund_in_progress", "instore_order_locked_error"] {
            assert!(
                matches!(
                    refused(409, &error_body(code), true),
                    Some(ProviderError::Busy(_))
                ),
                "{code}"
            );
        }
        assert!(matches!(
            refused(409, &error_body("order_already_canceled"), true),
            Some(ProviderError::Rejected {
                status: 409,
                refusal: Refusal::Other,
                ..
            })
        ));
    }

    #[test]
    fn refund_refusals_are_read_from_mercado_pagos_codes() {
        let refusal = |status, code: &str| match refused(status, &error_body(code), true) {
            Some(ProviderError::Rejected { refusal, .. }) => Some(refusal),
            _ => None,
        };
        assert_eq!(
            refusal(400, "unsupported_partially_refunds"),
            Some(Refusal::PartialRefundNotSupported)
        );
        assert_eq!(
            refusal(403, "partial_refund_forbidden_with_tips"),
            Some(Refusal::PartialRefundNotSupported)
        );
        assert_eq!(
            refusal(400, "refund_amount_exceeds"),
            Some(Refusal::AmountAboveRemaining)
        );
        assert_eq!(
            refusal(400, "in_store_payment_refund_order"),
            Some(Refusal::RefundPeriodExpired)
        );
        assert_eq!(refusal(400, "property_value"), Some(Refusal::Other));
        // Older APIs' shapes, and no body at all.
        assert_eq!(
            error_code(r#"{"cause": [{"code": "refund_amount_exceeds"}]}"#).as_deref(),
            Some("refund_amount_exceeds")
        );
        assert_eq!(
            error_code(r#"{"error": "bad_request"}"#).as_deref(),
            Some("bad_request")
        );
        assert_eq!(error_code("not json"), None);
    }

    #[tokio::test]
    async fn a_redirect_is_never_followed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut served = 0;
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/steal\r\n\
                          Content-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
                served += 1;
                if served == 3 {
                    break;
                }
            }
        });
        let client = MercadoPagoClient::new(
            MercadoPagoConfig {
                base_url: format!("http://{addr}"),
                access_token: AccessToken::new("TEST-token"),
                notification_url: None,
                expiration_time: "PT15M".into(),
                timeout: Duration::from_secs(2),
                retry: RetryPolicy::default(),
            },
            crate::compose::tls::TrustRoots::Compiled
                .for_mercado_pago()
                .unwrap(),
        )
        .unwrap();
        let id = ProviderOrderId::parse("ORD01JDX3M8RZ5N6P7Q8R9S0T1V2W").unwrap();
        let answer = client.get_order(&id).await;
        assert!(
            matches!(answer, Err(ProviderError::Rejected { status: 302, .. })),
            "{answer:?}"
        );
        server.abort();
    }

    #[test]
    fn an_order_id_not_of_mercado_pagos_form_is_never_sent() {
        let path = |raw: &str| order_path(&ProviderOrderId::parse(raw).unwrap());
        assert_eq!(
            path("ORD01JDX3M8RZ5N6P7Q8R9S0T1V2W").as_deref().ok(),
            Some("/v1/orders/ORD01JDX3M8RZ5N6P7Q8R9S0T1V2W")
        );
        for malformed in [
            "ORD01SHORT",
            "PAY01JDX3M8RZ5N6P7Q8R9S0T1V2W",
            "ORD01JDX3M8RZ5N6P7Q8R9S0T1V2_",
        ] {
            assert_eq!(path(malformed), Err(ProviderError::NotFound), "{malformed}");
        }
    }
}
