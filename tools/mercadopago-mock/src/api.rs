//! MP's own endpoints: create, read, cancel and refund an order.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::emvco;
use crate::refund;
use crate::state::{KeyEntry, MockState, Order, RefundKey};
use crate::validate;

pub(crate) fn mp_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"errors": [{"code": code, "message": message}]})),
    )
        .into_response()
}

pub(crate) fn now_iso() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Auth and fault switches, in front of every `/v1` call (a route layer).
pub(crate) async fn gate(
    State(state): State<Arc<MockState>>,
    request: Request,
    next: Next,
) -> Response {
    let fault = state.next_fault();
    if let Some(delay) = fault.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = fault.fail_with {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return mp_error(status, "injected_fault", "fault injected by the mock");
    }
    let token = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let authorized = match (token, state.config.access_token.as_deref()) {
        // Configured: exactly that token, as MP knows only the account's own.
        (Some(token), Some(expected)) => token == expected,
        // Not configured: any non-empty token.
        (Some(token), None) => !token.trim().is_empty(),
        (None, _) => false,
    };
    if !authorized {
        return mp_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid access token",
        );
    }
    next.run(request).await
}

/// The `X-Idempotency-Key` MP requires on every write (create, cancel,
/// refund): absent, 400 `empty_required_header`; present, 1 to 64 characters.
fn idempotency_key(headers: &HeaderMap) -> Result<String, KeyRefusal> {
    let value = headers
        .get("x-idempotency-key")
        .ok_or(KeyRefusal::Missing)?;
    value
        .to_str()
        .ok()
        .filter(|key| !key.is_empty() && key.len() <= 64)
        .map(str::to_owned)
        .ok_or(KeyRefusal::Invalid)
}

/// Why a write's `X-Idempotency-Key` was refused.
enum KeyRefusal {
    Missing,
    Invalid,
}

impl KeyRefusal {
    fn response(self) -> Response {
        match self {
            Self::Missing => mp_error(
                StatusCode::BAD_REQUEST,
                "empty_required_header",
                "the header X-Idempotency-Key is required",
            ),
            Self::Invalid => mp_error(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                "X-Idempotency-Key header of 1 to 64 characters is required",
            ),
        }
    }
}

pub(crate) async fn create_order(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(refusal) => return refusal.response(),
    };
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(_) => return mp_error(StatusCode::BAD_REQUEST, "invalid_body", "body is not JSON"),
    };
    let body_hash = hex::encode(Sha256::digest(request.to_string().as_bytes()));

    // Claim the key, or answer from what it already holds.
    {
        let mut inner = state.lock();
        match inner.keys.get(&key) {
            Some(KeyEntry::Processing) => {
                return mp_error(
                    StatusCode::LOCKED,
                    "idempotency_key_locked",
                    "request with this key is still being processed",
                )
            }
            Some(KeyEntry::Done {
                body_hash: first,
                order_id,
            }) => {
                if *first != body_hash {
                    return mp_error(
                        StatusCode::CONFLICT,
                        "idempotency_key_already_used",
                        "key already used with a different body",
                    );
                }
                return match inner.orders.get(order_id) {
                    Some(order) => (StatusCode::CREATED, Json(order.to_json())).into_response(),
                    None => mp_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal_error",
                        "lost order",
                    ),
                };
            }
            None => {}
        }
        if let Err(invalid) = validate::create_order(&request) {
            return mp_error(StatusCode::BAD_REQUEST, invalid.code, &invalid.message);
        }
        inner.keys.insert(key.clone(), KeyEntry::Processing);
    }

    let now = now_iso();
    let id = format!("ORD{}", ulid::Ulid::new());
    let qr_data = emvco::merchant_presented_payload(
        &id,
        request["external_reference"].as_str().unwrap_or_default(),
        request["total_amount"].as_str().unwrap_or_default(),
    );
    let order = Order {
        id,
        payment_id: format!("PAY{}", ulid::Ulid::new()),
        status: "created".into(),
        status_detail: "created".into(),
        payment_status: "created".into(),
        notification_url: request
            .get("notification_url")
            .and_then(Value::as_str)
            .map(str::to_owned),
        qr_data,
        request,
        created: now.clone(),
        updated: now,
        refunds: Vec::new(),
        refund_window_open: true,
        last_action: None,
    };
    let rendered = order.to_json();
    {
        let mut inner = state.lock();
        inner.keys.insert(
            key,
            KeyEntry::Done {
                body_hash,
                order_id: order.id.clone(),
            },
        );
        inner.orders.insert(order.id.clone(), order);
    }
    state.count_order();
    (StatusCode::CREATED, Json(rendered)).into_response()
}

pub(crate) async fn get_order(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
) -> Response {
    match state.lock().orders.get(&id) {
        Some(order) => (StatusCode::OK, Json(order.to_json())).into_response(),
        None => mp_error(StatusCode::NOT_FOUND, "order_not_found", "order not found"),
    }
}

pub(crate) async fn cancel_order(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = idempotency_key(&headers) {
        return refusal.response();
    }
    let mut inner = state.lock();
    let Some(order) = inner.orders.get_mut(&id) else {
        return mp_error(StatusCode::NOT_FOUND, "order_not_found", "order not found");
    };
    if order.status != "created" && order.status != "canceled" {
        return mp_error(
            StatusCode::CONFLICT,
            "cannot_cancel_order",
            &format!("order in status {} cannot be canceled", order.status),
        );
    }
    order.status = "canceled".into();
    order.status_detail = "canceled".into();
    order.payment_status = "canceled".into();
    order.updated = now_iso();
    (StatusCode::OK, Json(order.to_json())).into_response()
}

/// `POST /v1/orders/{id}/refund`: all that remains (no body, or `{}`), or
/// `{"transactions": [{"id": "PAY...", "amount": "12.95"}]}`. 201 with the order.
/// Same key + same order and body: the first answer again; other order or
/// body: 409. A refused refund does not use up its key.
pub(crate) async fn refund_order(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(refusal) => return refusal.response(),
    };
    let (request, ask) = match refund::parse_api_body(&body) {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal.response(),
    };
    // The key covers the order too: the same key on another order is another request.
    let request_hash = hex::encode(Sha256::digest(format!("{id}\n{request}").as_bytes()));

    let mut inner = state.lock();
    if let Some(first) = inner.refund_keys.get(&key) {
        if first.request_hash != request_hash {
            return mp_error(
                StatusCode::CONFLICT,
                "idempotency_key_already_used",
                "key already used with a different body",
            );
        }
        return (StatusCode::CREATED, Json(first.answer.clone())).into_response();
    }
    let Some(order) = inner.orders.get_mut(&id) else {
        return mp_error(StatusCode::NOT_FOUND, "order_not_found", "order not found");
    };
    if let Err(refusal) = refund::record(order, &ask) {
        return refusal.response();
    }
    let answer = order.to_json();
    inner.refund_keys.insert(
        key,
        RefundKey {
            request_hash,
            answer: answer.clone(),
        },
    );
    (StatusCode::CREATED, Json(answer)).into_response()
}
