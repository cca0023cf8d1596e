//! `/mock/*`: act as the customer, inject faults, read counters.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{mp_error, not_found, now_iso};
use crate::refund::{self, RefundAsk};
use crate::state::{ControlError, Endpoint, Faults, MockState};
use crate::webhook::deliver;

/// `Json`, but a body it refuses is answered in MP's error shape (same status).
pub(crate) struct MpJson<T>(pub T);

impl<T, S> FromRequest<S> for MpJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(mp_error(
                rejection.status(),
                "invalid_body",
                &rejection.body_text(),
            )),
        }
    }
}

/// (order status, status_detail, payment status) of each way an order ends.
/// A paid QR order is `processed`/`processed` (Mercado Pago's QR status
/// page); its payment transaction is `processed`/`accredited`.
const APPROVED: (&str, &str, &str) = ("processed", "processed", "processed");
const REJECTED: (&str, &str, &str) = ("failed", "rejected_by_issuer", "failed");
const EXPIRED: (&str, &str, &str) = ("expired", "expired", "expired");

#[derive(Debug, Deserialize)]
pub(crate) struct PayRequest {
    outcome: String,
    /// `false` changes the order without sending its webhook (tests send their own).
    #[serde(default = "yes")]
    notify: bool,
    /// With `approved`: pay the order whatever its status (even `canceled` or
    /// `expired`), as when a customer pays while the order is being closed.
    #[serde(default)]
    force: bool,
    /// With `rejected`: the order ends `failed` (MP's QR orders have no such
    /// end; without it a rejected attempt leaves the order `created`).
    #[serde(default, rename = "final")]
    is_final: bool,
}

fn yes() -> bool {
    true
}

/// Moves an order still `created` (any order without refunds when `force`) to
/// a final status, then sends its webhook, `order.{status}`.
async fn settle(
    state: &MockState,
    id: &str,
    (status, detail, payment_status): (&str, &str, &str),
    notify: bool,
    force: bool,
) -> Response {
    let action = format!("order.{status}");
    let order = {
        let mut inner = state.lock();
        let Some(order) = inner.orders.get_mut(id) else {
            return not_found();
        };
        if force && !order.refunds.is_empty() {
            return mp_error(
                StatusCode::CONFLICT,
                "order_refunded",
                "order has refunds; it cannot be paid again",
            );
        }
        if !force && order.status != "created" {
            return mp_error(
                StatusCode::CONFLICT,
                "order_not_open",
                &format!("order is already {}", order.status),
            );
        }
        order.status = status.into();
        order.status_detail = detail.into();
        order.payment_status = payment_status.into();
        order.updated = now_iso();
        order.last_action = Some(action.clone());
        order.clone()
    };
    let delivery = if notify {
        deliver(state, &order, &action).await
    } else {
        None
    };
    (
        StatusCode::OK,
        Json(json!({"order": order.to_json(), "webhook": delivery})),
    )
        .into_response()
}

pub(crate) async fn pay(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
    MpJson(request): MpJson<PayRequest>,
) -> Response {
    match (request.outcome.as_str(), request.force, request.is_final) {
        ("approved", force, _) => settle(&state, &id, APPROVED, request.notify, force).await,
        ("rejected", false, true) => settle(&state, &id, REJECTED, request.notify, false).await,
        ("rejected", false, false) => rejected_attempt(&state, &id, request.notify).await,
        ("rejected", true, _) => mp_error(
            StatusCode::BAD_REQUEST,
            "invalid_force",
            "force applies only to the outcome `approved`",
        ),
        _ => mp_error(
            StatusCode::BAD_REQUEST,
            "invalid_outcome",
            "outcome must be `approved` or `rejected`",
        ),
    }
}

/// The customer's payment was rejected but the QR order stays `created`: they
/// may try again (MP's QR state diagram has no `failed`). MP still notifies a
/// failure, so the order's webhook is sent (`order.failed`).
async fn rejected_attempt(state: &MockState, id: &str, notify: bool) -> Response {
    let action = "order.failed";
    let order = {
        let mut inner = state.lock();
        let Some(order) = inner.orders.get_mut(id) else {
            return not_found();
        };
        if order.status != "created" {
            return mp_error(
                StatusCode::CONFLICT,
                "order_not_open",
                &format!("order is already {}", order.status),
            );
        }
        order.updated = now_iso();
        order.last_action = Some(action.into());
        order.clone()
    };
    let delivery = if notify {
        deliver(state, &order, action).await
    } else {
        None
    };
    (
        StatusCode::OK,
        Json(json!({"order": order.to_json(), "webhook": delivery})),
    )
        .into_response()
}

pub(crate) async fn expire(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
) -> Response {
    settle(&state, &id, EXPIRED, true, false).await
}

/// Sends the order's last webhook again, as MP does when it retries.
pub(crate) async fn notify(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
) -> Response {
    let order = state.lock().orders.get(&id).cloned();
    match order {
        Some(order) => {
            let delivery = deliver(&state, &order, &order.webhook_action()).await;
            (
                StatusCode::OK,
                Json(json!({"order": order.to_json(), "webhook": delivery})),
            )
                .into_response()
        }
        None => not_found(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct DashboardRefundRequest {
    /// A decimal string like the order's `total_amount`; absent: all that remains.
    #[serde(default)]
    amount: Option<Value>,
    #[serde(default = "yes")]
    notify: bool,
}

/// A refund made in MP's dashboard: recorded as the API records one
/// (`processing`, settled after `refund_settle`, then the signed
/// `order.refunded` webhook unless `"notify": false`). With `refund_settle`
/// zero it is `processed` at once and the webhook is sent before answering.
/// The body is optional.
pub(crate) async fn dashboard_refund(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let request: DashboardRefundRequest = if body.iter().all(u8::is_ascii_whitespace) {
        DashboardRefundRequest {
            amount: None,
            notify: true,
        }
    } else {
        match serde_json::from_slice(&body) {
            Ok(request) => request,
            Err(error) => {
                return mp_error(StatusCode::BAD_REQUEST, "invalid_body", &error.to_string())
            }
        }
    };
    let ask = match request.amount {
        None | Some(Value::Null) => RefundAsk::Everything,
        Some(amount) => RefundAsk::Amount(amount),
    };
    let settle_now = state.config.refund_settle.is_zero();
    let (order, made) = {
        let mut inner = state.lock();
        let Some(order) = inner.orders.get_mut(&id) else {
            return not_found();
        };
        match refund::record(order, &ask, settle_now, request.notify) {
            Ok(made) => (order.clone(), made),
            Err(refusal) => return refusal.response(),
        }
    };
    let delivery = if settle_now && request.notify {
        deliver(&state, &order, "order.refunded").await
    } else {
        None
    };
    let refund = made.first().map(|r| order.refund_json(r));
    if !settle_now {
        state.settle_later(id, made.into_iter().map(|r| r.id).collect());
    }
    (
        StatusCode::OK,
        Json(json!({"order": order.to_json(), "refund": refund, "webhook": delivery})),
    )
        .into_response()
}

/// Fails a refund still `processing` at once (its money refundable again,
/// the order's status unchanged), then sends the order's webhook.
pub(crate) async fn fail_refund(
    State(state): State<Arc<MockState>>,
    Path((id, refund_id)): Path<(String, String)>,
) -> Response {
    match state.fail_refund(&id, &refund_id).await {
        Ok((order, refund, delivery)) => (
            StatusCode::OK,
            Json(json!({"order": order, "refund": refund, "webhook": delivery})),
        )
            .into_response(),
        Err(ControlError::OrderNotFound) => not_found(),
        Err(ControlError::RefundNotFound) => mp_error(
            StatusCode::NOT_FOUND,
            "refund_not_found",
            "the order has no such refund",
        ),
        Err(error @ ControlError::RefundNotProcessing(_)) => mp_error(
            StatusCode::CONFLICT,
            "refund_not_processing",
            &error.to_string(),
        ),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct PartialRefundsRequest {
    supported: bool,
}

/// Allows or refuses partial refunds of the order: refused, a refund naming
/// amounts answers 400 `unsupported_partially_refunds`.
pub(crate) async fn partial_refunds(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
    MpJson(request): MpJson<PartialRefundsRequest>,
) -> Response {
    if !state.set_partial_refunds(&id, request.supported) {
        return not_found();
    }
    Json(json!({"id": id, "partial_refunds": {"supported": request.supported}})).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct StatusRequest {
    status: String,
    /// Absent: the same as `status`.
    #[serde(default)]
    status_detail: Option<String>,
    #[serde(default)]
    notify: bool,
}

/// Sets any status on the order (one MP may add later); its webhook
/// (`order.{status}`) only with `"notify": true`.
pub(crate) async fn set_status(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
    MpJson(request): MpJson<StatusRequest>,
) -> Response {
    if request.status.is_empty() {
        return mp_error(
            StatusCode::BAD_REQUEST,
            "invalid_status",
            "status must not be empty",
        );
    }
    let detail = request
        .status_detail
        .unwrap_or_else(|| request.status.clone());
    if !state.set_order_status(&id, &request.status, &detail) {
        return not_found();
    }
    let Some(order) = state.lock().orders.get(&id).cloned() else {
        return not_found();
    };
    let delivery = if request.notify {
        deliver(&state, &order, &order.webhook_action()).await
    } else {
        None
    };
    Json(json!({"order": order.to_json(), "webhook": delivery})).into_response()
}

/// Merges the body (any JSON object, as a merge patch) into the answer of the
/// next `POST /v1/orders`, and only that one.
pub(crate) async fn next_create_answer(
    State(state): State<Arc<MockState>>,
    MpJson(patch): MpJson<Value>,
) -> Response {
    if !patch.is_object() {
        return mp_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the body must be a JSON object",
        );
    }
    state.set_next_create_answer(patch);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct RefundWindowRequest {
    open: bool,
}

/// Opens or closes the order's refund window (MP refunds within 180 days of
/// payment): closed, refunds answer 400 `refund_period_expired`.
pub(crate) async fn refund_window(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
    MpJson(request): MpJson<RefundWindowRequest>,
) -> Response {
    let mut inner = state.lock();
    let Some(order) = inner.orders.get_mut(&id) else {
        return not_found();
    };
    order.refund_window_open = request.open;
    Json(json!({"id": order.id, "refund_window": {"open": order.refund_window_open}}))
        .into_response()
}

pub(crate) async fn list_orders(State(state): State<Arc<MockState>>) -> Response {
    let orders: Vec<_> = state.lock().orders.values().map(|o| o.to_json()).collect();
    Json(json!({"items": orders})).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultRequest {
    #[serde(default)]
    fail_next: u32,
    #[serde(default = "default_fault_status")]
    status: u16,
    /// MP error code of the failures (default: MP's usual one for `status`).
    #[serde(default)]
    code: Option<String>,
    /// A 429's `Retry-After` in seconds (default 1).
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    delay_next: u32,
    #[serde(default)]
    delay_ms: u64,
    /// `create`, `get`, `cancel` or `refund`: only that endpoint's calls.
    #[serde(default)]
    on: Option<String>,
}

fn default_fault_status() -> u16 {
    503
}

pub(crate) async fn set_faults(
    State(state): State<Arc<MockState>>,
    MpJson(request): MpJson<FaultRequest>,
) -> Response {
    if !(400..=599).contains(&request.status) {
        return mp_error(
            StatusCode::BAD_REQUEST,
            "invalid_status",
            "status must be 400..=599",
        );
    }
    let on = match request.on.as_deref() {
        None => None,
        Some(name) => match Endpoint::parse(name) {
            Some(endpoint) => Some(endpoint),
            None => {
                return mp_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_on",
                    "on must be one of create, get, cancel, refund",
                )
            }
        },
    };
    if request.code.as_deref().is_some_and(str::is_empty) {
        return mp_error(
            StatusCode::BAD_REQUEST,
            "invalid_code",
            "code must not be empty",
        );
    }
    state.set_faults(Faults {
        fail_next: request.fail_next,
        status: request.status,
        code: request.code,
        retry_after: request.retry_after,
        delay_next: request.delay_next,
        delay: Duration::from_millis(request.delay_ms),
        on,
    });
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) async fn clear_faults(State(state): State<Arc<MockState>>) -> Response {
    state.clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) async fn stats(State(state): State<Arc<MockState>>) -> Response {
    Json(json!({
        "orders_created": state.orders_created(),
        "api_calls": state.api_calls(),
    }))
    .into_response()
}
