//! `/mock/*`: act as the customer, inject faults, read counters.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::api::{mp_error, now_iso};
use crate::state::MockState;
use crate::webhook::deliver;

/// (order status, status_detail, payment status) of each way an order ends.
const APPROVED: (&str, &str, &str) = ("processed", "accredited", "processed");
const REJECTED: (&str, &str, &str) = ("failed", "rejected_by_issuer", "failed");
const EXPIRED: (&str, &str, &str) = ("expired", "expired", "expired");

#[derive(Debug, Deserialize)]
pub(crate) struct PayRequest {
    outcome: String,
    /// `false` changes the order without sending its webhook (tests send their own).
    #[serde(default = "yes")]
    notify: bool,
}

fn yes() -> bool {
    true
}

/// Moves an order still `created` to a final status, then sends its webhook.
async fn settle(
    state: &MockState,
    id: &str,
    (status, detail, payment_status): (&str, &str, &str),
    notify: bool,
) -> Response {
    let order = {
        let mut inner = state.lock();
        let Some(order) = inner.orders.get_mut(id) else {
            return mp_error(StatusCode::NOT_FOUND, "order_not_found", "order not found");
        };
        if order.status != "created" {
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
        order.clone()
    };
    let delivery = if notify {
        deliver(state, &order).await
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
    Json(request): Json<PayRequest>,
) -> Response {
    match request.outcome.as_str() {
        "approved" => settle(&state, &id, APPROVED, request.notify).await,
        "rejected" => settle(&state, &id, REJECTED, request.notify).await,
        _ => mp_error(
            StatusCode::BAD_REQUEST,
            "invalid_outcome",
            "outcome must be `approved` or `rejected`",
        ),
    }
}

pub(crate) async fn expire(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
) -> Response {
    settle(&state, &id, EXPIRED, true).await
}

/// Sends the order's webhook again, as MP does when it retries.
pub(crate) async fn notify(
    State(state): State<Arc<MockState>>,
    Path(id): Path<String>,
) -> Response {
    let order = state.lock().orders.get(&id).cloned();
    match order {
        Some(order) => {
            let delivery = deliver(&state, &order).await;
            (
                StatusCode::OK,
                Json(json!({"order": order.to_json(), "webhook": delivery})),
            )
                .into_response()
        }
        None => mp_error(StatusCode::NOT_FOUND, "order_not_found", "order not found"),
    }
}

pub(crate) async fn list_orders(State(state): State<Arc<MockState>>) -> Response {
    let orders: Vec<_> = state.lock().orders.values().map(|o| o.to_json()).collect();
    Json(json!({"items": orders})).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct FaultRequest {
    #[serde(default)]
    fail_next: u32,
    #[serde(default = "default_fault_status")]
    status: u16,
    #[serde(default)]
    delay_next: u32,
    #[serde(default)]
    delay_ms: u64,
}

fn default_fault_status() -> u16 {
    503
}

pub(crate) async fn set_faults(
    State(state): State<Arc<MockState>>,
    Json(request): Json<FaultRequest>,
) -> Response {
    if !(400..=599).contains(&request.status) {
        return mp_error(
            StatusCode::BAD_REQUEST,
            "invalid_status",
            "status must be 400..=599",
        );
    }
    state.fail_next(request.fail_next, request.status);
    state.delay_next(request.delay_next, Duration::from_millis(request.delay_ms));
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
