//! `GET /payments/{payment_id}`, `GET /payments?order_id=`, and the payment's
//! QR code as an image, `GET /payments/{payment_id}/qr.svg` and `/qr.png`.

use http::StatusCode;
use serde_json::json;

use crate::app::{AppError, FeedRead, PaymentQueries};
use crate::domain::{EventType, OrderId, PaymentId, Timestamp};
use crate::ports::{OrderCursor, OutboxEvent, StoreError};

use super::cursor;
use super::qr_image::{qr_response, QrFormat};
use super::request::{admitted_caller, payment_id_in_path, query_param};
use super::request_id::answered_as;
use super::{error_response, json_response, payment_json, HttpResponse, Problem, RequestError};

pub(super) enum Route {
    One(PaymentId),
    ByOrder(OrderId, Option<OrderCursor>),
    Events(PaymentId),
    Feed(FeedRead),
    Qr(PaymentId, QrFormat),
}

pub async fn handle_get_payment(
    app: &PaymentQueries,
    request: lambda_http::Request,
) -> HttpResponse {
    answered_as(request, |request| answer_get_payment(app, request)).await
}

async fn answer_get_payment(app: &PaymentQueries, request: lambda_http::Request) -> HttpResponse {
    let route = match admitted_caller(&request, app.allowed_callers()).and_then(|_| route(&request))
    {
        Ok(route) => route,
        Err(error) => return Problem::from(error).into_response(),
    };
    match route {
        Route::One(id) => match app.get(&id).await {
            Ok((payment, refunds)) => {
                json_response(StatusCode::OK, &payment_json(&payment, &refunds))
            }
            Err(error) => error_response(&error),
        },
        Route::ByOrder(order_id, after) => match app.list_by_order(&order_id, after.as_ref()).await
        {
            Ok((payments, next)) => {
                let items: Vec<_> = payments
                    .iter()
                    .map(|(payment, refunds)| payment_json(payment, refunds))
                    .collect();
                let mut body = json!({ "items": items });
                if let Some(next) = next {
                    body["next_cursor"] = json!(cursor::encode(&next));
                }
                json_response(StatusCode::OK, &body)
            }
            Err(error) => error_response(&error),
        },
        Route::Events(id) => match app.events_of(&id).await.and_then(|e| published(&e)) {
            Ok(items) => json_response(StatusCode::OK, &json!({ "items": items })),
            Err(error) => error_response(&error),
        },
        Route::Feed(read) => {
            let page = app
                .event_feed(read)
                .await
                .and_then(|(events, next)| Ok((published(&events)?, next)));
            match page {
                Ok((items, next)) => {
                    let mut body = json!({ "items": items });
                    if let Some(next) = next {
                        body["next_cursor"] = json!(cursor::encode_event(&next));
                    }
                    json_response(StatusCode::OK, &body)
                }
                Err(error) => error_response(&error),
            }
        }
        Route::Qr(id, format) => match app.payable_qr(&id).await {
            Ok(qr) => match qr_response(&qr, format, request.headers()) {
                Ok(response) => response,
                Err(error) => Problem::qr_not_drawable(&id, &error)
                    .logged(&error)
                    .into_response(),
            },
            Err(error) => error_response(&error),
        },
    }
}

pub(super) fn route(request: &lambda_http::Request) -> Result<Route, RequestError> {
    // HEAD is GET without the body (which the server leaves out).
    if request.method() != http::Method::GET && request.method() != http::Method::HEAD {
        return Err(RequestError::MethodNotAllowed);
    }
    let path = request.uri().path().trim_end_matches('/');
    if path == "/events" {
        return feed_read(request).map(Route::Feed);
    }
    if path == "/payments" {
        let raw = query_param(request, "order_id")?.ok_or(RequestError::BadParameter {
            name: "order_id",
            message: "is required".into(),
        })?;
        let order_id =
            OrderId::parse(&raw).map_err(|e| RequestError::bad_parameter("order_id", e))?;
        let after = query_param(request, "cursor")?
            .map(|raw| cursor::decode(&raw))
            .transpose()?;
        return Ok(Route::ByOrder(order_id, after));
    }
    if path.ends_with("/events") {
        return payment_id_in_path(request, "/events").map(Route::Events);
    }
    for format in QrFormat::ALL {
        if path.ends_with(format.path_tail()) {
            return payment_id_in_path(request, format.path_tail()).map(|id| Route::Qr(id, format));
        }
    }
    payment_id_in_path(request, "").map(Route::One)
}

/// `?type=&since=&limit=&cursor=`, each at most once and exactly as documented.
/// The events as subscribers received them. A stored body that is not JSON
/// is a corrupt item: the answer is refused (503), never quietly shorter,
/// since a feed page that skipped it would move the cursor past it.
fn published(events: &[OutboxEvent]) -> Result<Vec<serde_json::Value>, AppError> {
    events
        .iter()
        .map(|event| {
            serde_json::from_str(&event.body).map_err(|error| {
                tracing::error!(
                    event_id = %event.event_id,
                    payment_id = %event.payment_id,
                    %error,
                    "a stored event's body is not JSON"
                );
                AppError::Store(StoreError::Corrupt(format!(
                    "event {} has a body that is not JSON",
                    event.event_id
                )))
            })
        })
        .collect()
}

fn feed_read(request: &lambda_http::Request) -> Result<FeedRead, RequestError> {
    let event_type = query_param(request, "type")?
        .map(|raw| {
            EventType::parse(&raw).ok_or_else(|| RequestError::BadParameter {
                name: "type",
                message: "must be an event type (payment.approved, payment.refunded, ...)".into(),
            })
        })
        .transpose()?;
    let since = query_param(request, "since")?
        .map(|raw| Timestamp::parse(&raw).map_err(|e| RequestError::bad_parameter("since", e)))
        .transpose()?;
    let limit = match query_param(request, "limit")? {
        None => FEED_DEFAULT_LIMIT,
        Some(raw) => Some(raw.as_str())
            .filter(|raw| !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|raw| raw.parse::<usize>().ok())
            .filter(|n| (1..=FEED_MAX_LIMIT).contains(n))
            .ok_or_else(|| RequestError::BadParameter {
                name: "limit",
                message: format!("must be an integer from 1 to {FEED_MAX_LIMIT}"),
            })?,
    };
    let cursor = query_param(request, "cursor")?
        .map(|raw| cursor::decode_event(&raw))
        .transpose()?;
    Ok(FeedRead {
        event_type,
        since,
        cursor,
        limit,
    })
}

const FEED_DEFAULT_LIMIT: usize = 50;
const FEED_MAX_LIMIT: usize = 100;
