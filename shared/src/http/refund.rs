//! `POST /payments/{payment_id}/refunds`: 201 once Mercado Pago gave the money
//! back, 202 while it is still to be asked again, 422 when it refused.

use http::StatusCode;
use serde_json::json;

use crate::app::{AppError, RefundOutcome, RefundPayment};
use crate::domain::{RefundFailure, RefundStatus};

use super::refund_request::parse_refund;
use super::request::admitted_caller;
use super::request_id::{answered_as, replayed};
use super::view::refund_json;
use super::{error_response, json_response, payment_json, HttpResponse, Problem, RequestError};

pub async fn handle_refund_payment(
    app: &RefundPayment,
    request: lambda_http::Request,
) -> HttpResponse {
    answered_as(request, |request| answer_refund_payment(app, request)).await
}

async fn answer_refund_payment(app: &RefundPayment, request: lambda_http::Request) -> HttpResponse {
    if request.method() != http::Method::POST {
        return Problem::from(RequestError::MethodNotAllowed).into_response();
    }
    let parsed = admitted_caller(&request, app.allowed_callers())
        .and_then(|caller| parse_refund(&request, caller));
    let command = match parsed {
        Ok(command) => command,
        Err(error) => return Problem::from(error).into_response(),
    };
    match app.execute(command).await {
        Ok(outcome) => {
            // The key's first answer decides the status, replays included;
            // the body shows the refund as it is now.
            let status = match outcome.answered {
                RefundStatus::Succeeded => StatusCode::CREATED,
                RefundStatus::Pending => StatusCode::ACCEPTED,
                RefundStatus::Failed => refused(&outcome).status(),
            };
            let response = match outcome.answered {
                RefundStatus::Failed => refused(&outcome),
                _ => json_response(
                    status,
                    &json!({
                        "refund": refund_json(&outcome.refund),
                        "payment": payment_json(&outcome.payment, &outcome.refunds),
                    }),
                ),
            };
            if outcome.replayed {
                replayed(response)
            } else {
                response
            }
        }
        Err(error) => error_response(&error),
    }
}

/// A failed refund, answered by why it failed (the same on a replay of its key).
fn refused(outcome: &RefundOutcome) -> HttpResponse {
    let error = match outcome.refund.failure {
        Some(RefundFailure::PartialNotSupported) => AppError::PartialRefundNotSupported {
            payment_id: outcome.payment.id().clone(),
            reason: "Mercado Pago does not refund this payment in part",
        },
        // What remains after the refunds Mercado Pago listed were recorded.
        Some(RefundFailure::AboveRemaining) => AppError::RefundTooLarge {
            remaining: outcome.payment.refundable(),
        },
        Some(RefundFailure::Refused | RefundFailure::FailedAtProvider) | None => {
            return Problem::refund_rejected(&outcome.refund).into_response()
        }
    };
    error_response(&error)
}
