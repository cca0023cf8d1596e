//! MP's own endpoints: create, read, cancel and refund an order.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::emvco;
use crate::refund;
use crate::state::{Endpoint, KeyAnswer, KeyEntry, MockState, Order};
use crate::validate;

/// MP's error shape: `{"errors": [{"code", "message", "details": [...]}]}`.
pub(crate) fn mp_error(status: StatusCode, code: &str, message: &str) -> Response {
    mp_error_with(status, code, message, Vec::new())
}

pub(crate) fn mp_error_with(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Vec<String>,
) -> Response {
    (
        status,
        Json(json!({"errors": [{"code": code, "message": message, "details": details}]})),
    )
        .into_response()
}

pub(crate) fn not_found() -> Response {
    mp_error(StatusCode::NOT_FOUND, "order_not_found", "order not found")
}

pub(crate) fn now_iso() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// An order id as MP makes them: `ORD` and 26 upper-case letters or digits.
pub(crate) fn is_order_id(id: &str) -> bool {
    id.len() == 29
        && id.starts_with("ORD")
        && id[3..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A 400 a handler answers before looking at any order.
struct BadRequest {
    code: &'static str,
    message: &'static str,
}

impl BadRequest {
    fn response(self) -> Response {
        mp_error(StatusCode::BAD_REQUEST, self.code, self.message)
    }
}

/// 400 `invalid_path_param` for an order id not of MP's form, checked before
/// the order is looked up.
fn check_path_id(id: &str) -> Result<(), BadRequest> {
    if is_order_id(id) {
        Ok(())
    } else {
        Err(BadRequest {
            code: "invalid_path_param",
            message: "the order_id in the path must be ORD followed by 26 characters",
        })
    }
}

/// Which `/v1` endpoint a request is for (None: none of the four).
fn endpoint_of(method: &Method, path: &str) -> Option<Endpoint> {
    let rest = path.strip_prefix("/v1/orders")?;
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    match (method, parts.as_slice()) {
        (&Method::POST, []) => Some(Endpoint::Create),
        (&Method::GET, [_]) => Some(Endpoint::Get),
        (&Method::POST, [_, "cancel"]) => Some(Endpoint::Cancel),
        (&Method::POST, [_, "refund"]) => Some(Endpoint::Refund),
        _ => None,
    }
}

/// The code an injected failure carries when the switch names none: MP's
/// where it documents one for the status, else a generic one.
fn default_fault_code(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "order_not_found",
        409 => "conflict",
        423 => "idempotency_key_locked",
        429 => "too_many_requests",
        500 => "internal_error",
        502 => "bad_gateway",
        503 => "service_unavailable",
        504 => "gateway_timeout",
        _ => "injected_fault",
    }
}

/// Auth and fault switches, in front of every `/v1` call (a route layer).
pub(crate) async fn gate(
    State(state): State<Arc<MockState>>,
    request: Request,
    next: Next,
) -> Response {
    let endpoint = endpoint_of(request.method(), request.uri().path());
    let fault = state.next_fault(endpoint);
    if let Some(delay) = fault.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(failure) = fault.fail_with {
        let status =
            StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = failure
            .code
            .unwrap_or_else(|| default_fault_code(failure.status).to_owned());
        let mut response = mp_error(status, &code, "fault injected by the mock");
        if status == StatusCode::TOO_MANY_REQUESTS {
            let seconds = failure.retry_after.unwrap_or(1);
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        return response;
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
fn idempotency_key(headers: &HeaderMap) -> Result<String, BadRequest> {
    let value = headers.get("x-idempotency-key").ok_or(BadRequest {
        code: "empty_required_header",
        message: "the header X-Idempotency-Key is required",
    })?;
    value
        .to_str()
        .ok()
        .filter(|key| !key.is_empty() && key.len() <= 64)
        .map(str::to_owned)
        .ok_or(BadRequest {
            code: "invalid_idempotency_key_length",
            message: "X-Idempotency-Key header of 1 to 64 characters is required",
        })
}

fn key_already_used() -> Response {
    mp_error(
        StatusCode::CONFLICT,
        "idempotency_key_already_used",
        "key already used with a different request",
    )
}

/// RFC 7386 merge patch: objects merge key by key, `null` removes, anything
/// else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// 201 with `answer`, with the pending `next-create-answer` patch merged in.
fn created(state: &MockState, mut answer: Value) -> Response {
    if let Some(patch) = state.lock().next_create_answer.take() {
        merge_patch(&mut answer, &patch);
    }
    (StatusCode::CREATED, Json(answer)).into_response()
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
        Err(error) => {
            return mp_error_with(
                StatusCode::BAD_REQUEST,
                "json_syntax_error",
                "the body is not valid JSON",
                vec![error.to_string()],
            )
        }
    };
    let body_hash = hex::encode(Sha256::digest(request.to_string().as_bytes()));

    // Claim the key, or answer from what it already holds.
    let replay = {
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
                    return key_already_used();
                }
                match inner.orders.get(order_id) {
                    Some(order) => Some(order.to_json()),
                    None => {
                        return mp_error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "internal_error",
                            "lost order",
                        )
                    }
                }
            }
            None => {
                if let Err(invalid) = validate::create_order(&request) {
                    return invalid.response();
                }
                let pos = request["config"]["qr"]["external_pos_id"].as_str();
                if let (Some(known), Some(pos)) = (&state.config.points_of_sale, pos) {
                    if !known.iter().any(|p| p == pos) {
                        return mp_error(
                            StatusCode::NOT_FOUND,
                            "pos_not_found",
                            &format!("point of sale {pos} not found"),
                        );
                    }
                }
                inner.keys.insert(key.clone(), KeyEntry::Processing);
                None
            }
        }
    };
    if let Some(order) = replay {
        return created(&state, order);
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
        partial_refunds: true,
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
    created(&state, rendered)
}

pub(crate) async fn get_order(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = check_path_id(&id) {
        return refusal.response();
    }
    match state.lock().orders.get(&id) {
        Some(order) => (StatusCode::OK, Json(order.to_json())).into_response(),
        None => not_found(),
    }
}

/// `POST /v1/orders/{id}/cancel`: only an order still `created` is canceled
/// (else 409 `order_already_canceled`, MP's code for any status that forbids
/// it). The key's first answer is replayed for the same order; another order
/// with the same key is 409 `idempotency_key_already_used`. A refused cancel
/// does not use up its key.
pub(crate) async fn cancel_order(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(refusal) => return refusal.response(),
    };
    if let Err(refusal) = check_path_id(&id) {
        return refusal.response();
    }
    let mut inner = state.lock();
    if let Some(first) = inner.cancel_keys.get(&key) {
        if first.request_hash != id {
            return key_already_used();
        }
        return (StatusCode::OK, Json(first.answer.clone())).into_response();
    }
    let Some(order) = inner.orders.get_mut(&id) else {
        return not_found();
    };
    if order.status != "created" {
        return mp_error(
            StatusCode::CONFLICT,
            "order_already_canceled",
            &format!(
                "order in status {} cannot be canceled: only an order in status created can",
                order.status
            ),
        );
    }
    order.status = "canceled".into();
    order.status_detail = "canceled".into();
    order.payment_status = "canceled".into();
    order.updated = now_iso();
    let answer = order.to_json();
    inner.cancel_keys.insert(
        key,
        KeyAnswer {
            request_hash: id,
            answer: answer.clone(),
        },
    );
    (StatusCode::OK, Json(answer)).into_response()
}

/// `POST /v1/orders/{id}/refund`: all that remains (no body, or `{}`), or
/// `{"transactions": [{"id": "PAY...", "amount": "12.95"}]}`. 201 with the
/// order, its new refunds `processing` (settled after `refund_settle`, then
/// the order's webhook), or already `processed` when `refund_settle` is zero.
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
    if let Err(refusal) = check_path_id(&id) {
        return refusal.response();
    }
    let (request, ask) = match refund::parse_api_body(&body) {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal.response(),
    };
    // The key covers the order too: the same key on another order is another request.
    let request_hash = hex::encode(Sha256::digest(format!("{id}\n{request}").as_bytes()));
    let settle_now = state.config.refund_settle.is_zero();

    let (answer, made) = {
        let mut inner = state.lock();
        if let Some(first) = inner.refund_keys.get(&key) {
            if first.request_hash != request_hash {
                return key_already_used();
            }
            return (StatusCode::CREATED, Json(first.answer.clone())).into_response();
        }
        let Some(order) = inner.orders.get_mut(&id) else {
            return not_found();
        };
        // Settled at once, an API refund sends no webhook (as the synchronous
        // mock always did); settled later, it does.
        let made = match refund::record(order, &ask, settle_now, !settle_now) {
            Ok(made) => made,
            Err(refusal) => return refusal.response(),
        };
        let answer = order.to_json();
        inner.refund_keys.insert(
            key,
            KeyAnswer {
                request_hash,
                answer: answer.clone(),
            },
        );
        (answer, made)
    };
    if !settle_now {
        state.settle_later(id, made.into_iter().map(|r| r.id).collect());
    }
    (StatusCode::CREATED, Json(answer)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_are_ord_and_26_upper_case_alphanumerics() {
        assert!(is_order_id("ORD01JDX3M8Q4S7V2C9K5T6W1Y0ZB"));
        assert!(is_order_id(&format!("ORD{}", ulid::Ulid::new())));
        for bad in [
            "ORD01",
            "ORD01JDX3M8Q4S7V2C9K5T6W1Y0Z",
            "ORD01JDX3M8Q4S7V2C9K5T6W1Y0ZBX",
            "ORD01jdx3m8q4s7v2c9k5t6w1y0zb",
            "PAY01JDX3M8Q4S7V2C9K5T6W1Y0ZB",
            "ORD01JDX3M8Q4S7V2C9K5T6W1Y0Z-",
            "ORD01JDX3M8Q4S7V2C9K5T6W1Y0ZÉ",
        ] {
            assert!(!is_order_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_merge_patch_merges_objects_and_removes_nulls() {
        let mut answer =
            json!({"id": "ORD1", "type_response": {"qr_data": "x"}, "total_amount": "25.90"});
        merge_patch(
            &mut answer,
            &json!({"currency": "USD", "total_amount": "1.00", "type_response": null}),
        );
        assert_eq!(
            answer,
            json!({"id": "ORD1", "currency": "USD", "total_amount": "1.00"})
        );
    }

    #[test]
    fn the_endpoint_of_a_request_is_read_from_its_method_and_path() {
        assert_eq!(
            endpoint_of(&Method::POST, "/v1/orders"),
            Some(Endpoint::Create)
        );
        assert_eq!(
            endpoint_of(&Method::GET, "/v1/orders/ORD1"),
            Some(Endpoint::Get)
        );
        assert_eq!(
            endpoint_of(&Method::POST, "/v1/orders/ORD1/cancel"),
            Some(Endpoint::Cancel)
        );
        assert_eq!(
            endpoint_of(&Method::POST, "/v1/orders/ORD1/refund"),
            Some(Endpoint::Refund)
        );
        assert_eq!(endpoint_of(&Method::GET, "/v1/orders"), None);
    }
}
