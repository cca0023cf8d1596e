//! `POST` from Mercado Pago (function URL; locally `/webhooks/mercadopago`).

use http::StatusCode;
use serde_json::json;

use crate::adapters::mercadopago::{MercadoPagoWebhook, WebhookDelivery};
use crate::app::NotificationOutcome;

use super::body::body_bytes;
use super::request::{header, query_param};
use super::request_id::answered_as;
use super::{json_response, HttpResponse, Problem, RequestError};

pub async fn handle_webhook(
    webhook: &MercadoPagoWebhook,
    request: lambda_http::Request,
) -> HttpResponse {
    answered_as(request, |request| answer_webhook(webhook, request)).await
}

async fn answer_webhook(
    webhook: &MercadoPagoWebhook,
    request: lambda_http::Request,
) -> HttpResponse {
    if request.method() != http::Method::POST {
        return Problem::from(RequestError::MethodNotAllowed).into_response();
    }
    // The body decides nothing (the order is read from MP), but its size is still bounded.
    if let Err(error) = body_bytes(&request) {
        return Problem::from(error).into_response();
    }
    let delivery = match delivery(&request) {
        Ok(delivery) => delivery,
        Err(error) => return Problem::from(error).into_response(),
    };
    match webhook.receive(delivery).await {
        Ok(outcome) => {
            let label = match &outcome {
                NotificationOutcome::Applied { .. } => "applied",
                NotificationOutcome::Unchanged { .. } => "unchanged",
                NotificationOutcome::Ignored(_) => "ignored",
                NotificationOutcome::Mismatch(_) => "mismatch",
                NotificationOutcome::Duplicate => "duplicate",
            };
            // The use case logged what it did to which payment (with its order).
            tracing::info!(outcome = label, "notification handled");
            json_response(StatusCode::OK, &json!({"received": true, "outcome": label}))
        }
        Err(error) => Problem::from(&error).logged(&error).into_response(),
    }
}

fn delivery(request: &lambda_http::Request) -> Result<WebhookDelivery, RequestError> {
    Ok(WebhookDelivery {
        kind: match query_param(request, "type")? {
            Some(kind) => Some(kind),
            None => query_param(request, "topic")?,
        },
        data_id: query_param(request, "data.id")?,
        signature: header(request, "x-signature"),
        request_id: header(request, "x-request-id"),
    })
}
