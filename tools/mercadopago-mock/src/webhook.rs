//! Sending a signed order notification, as MP does.

use serde::Serialize;
use serde_json::json;

use crate::signing::signature_header;
use crate::state::{MockState, Order};

/// What was sent and what came back; tests replay `headers` + `url` verbatim.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub url: String,
    pub x_signature: String,
    pub x_request_id: String,
    pub body: serde_json::Value,
    /// Response status, or None when the receiver could not be reached.
    pub status: Option<u16>,
}

/// Sends `action` (`order.processed`, `order.refunded`, ...) about `order` to
/// its notification URL, else the default one; None when there is neither.
pub(crate) async fn deliver(state: &MockState, order: &Order, action: &str) -> Option<Delivery> {
    let base = order
        .notification_url
        .clone()
        .or_else(|| state.config.default_notification_url.clone())?;
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}data.id={}&type=order", order.id);
    let request_id = ulid::Ulid::new().to_string().to_lowercase();
    let ts_millis = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let x_signature = signature_header(
        &state.config.webhook_secret,
        &order.id,
        &request_id,
        ts_millis,
    );
    let body = json!({
        "action": action,
        "api_version": "v1",
        "application_id": "1234567890123456",
        "data": {
            "id": order.id,
            "status": order.status,
            "status_detail": order.status_detail,
            "total_paid_amount": order.to_json()["total_paid_amount"],
            "version": 2
        },
        "date_created": crate::api::now_iso(),
        "id": ulid::Ulid::new().to_string(),
        "live_mode": false,
        "type": "order",
        "user_id": "1234567890"
    });
    let status = state
        .http
        .post(&url)
        .header("x-signature", &x_signature)
        .header("x-request-id", &request_id)
        .json(&body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .ok();
    Some(Delivery {
        url,
        x_signature,
        x_request_id: request_id,
        body,
        status,
    })
}
