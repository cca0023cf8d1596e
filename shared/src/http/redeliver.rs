//! `POST /events/{event_id}/redeliver`: 202 once the topic took the message
//! again; 404 for an event not kept (or never made).

use http::StatusCode;
use serde_json::json;

use crate::app::{RedeliverEvent, RefundPayment};
use crate::domain::EventId;

use super::body::body_bytes;
use super::request::admitted_caller;
use super::request_id::answered_as;
use super::RequestError;
use super::{error_response, handle_refund_payment, json_response, HttpResponse, Problem};

/// refund-payment's two routes: refunds, and redelivery of an event (both
/// for the roles that may give money back or act on its record).
pub async fn handle_refund_function(
    refunds: &RefundPayment,
    redeliver: &RedeliverEvent,
    request: lambda_http::Request,
) -> HttpResponse {
    if request.uri().path().starts_with("/events/") {
        handle_redeliver_event(redeliver, request).await
    } else {
        handle_refund_payment(refunds, request).await
    }
}

pub async fn handle_redeliver_event(
    app: &RedeliverEvent,
    request: lambda_http::Request,
) -> HttpResponse {
    answered_as(request, |request| answer(app, request)).await
}

async fn answer(app: &RedeliverEvent, request: lambda_http::Request) -> HttpResponse {
    if request.method() != http::Method::POST {
        return Problem::from(RequestError::MethodNotAllowed).into_response();
    }
    let parsed = admitted_caller(&request, app.allowed_callers()).and_then(|_| {
        // The body says nothing, but its size is bounded.
        body_bytes(&request)?;
        event_id_in_path(&request)
    });
    let id = match parsed {
        Ok(id) => id,
        Err(error) => return Problem::from(error).into_response(),
    };
    match app.execute(&id).await {
        Ok(event) => {
            let body: serde_json::Value =
                serde_json::from_str(&event.body).unwrap_or(serde_json::Value::Null);
            json_response(
                StatusCode::ACCEPTED,
                &json!({"event_id": event.event_id.as_str(), "redelivered": true, "event": body}),
            )
        }
        Err(error) => error_response(&error),
    }
}

/// The event id in `/events/{event_id}/redeliver`; any other path is no route.
fn event_id_in_path(request: &lambda_http::Request) -> Result<EventId, RequestError> {
    let raw = request
        .uri()
        .path()
        .strip_prefix("/events/")
        .and_then(|rest| rest.strip_suffix("/redeliver"))
        .filter(|raw| !raw.is_empty() && !raw.contains('/'))
        .ok_or(RequestError::NoRoute)?;
    EventId::parse(raw).map_err(|e| RequestError::bad_parameter("event_id", e))
}
