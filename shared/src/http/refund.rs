//! `POST /payments/{payment_id}/refunds`: 201 once Mercado Pago gave the money
//! back, 202 while it is still to be asked again, 422 when it refused.

use http::StatusCode;
use serde_json::json;

use crate::app::{correlation, RefundPayment};
use crate::domain::RefundStatus;

use super::refund_request::parse_refund;
use super::request::correlation_id;
use super::view::refund_json;
use super::{error_response, json_response, payment_json, HttpResponse, Problem, RequestError};

pub async fn handle_refund_payment(
    app: &RefundPayment,
    request: lambda_http::Request,
) -> HttpResponse {
    if request.method() != http::Method::POST {
        return Problem::from(RequestError::MethodNotAllowed).into_response();
    }
    let command = match parse_refund(&request) {
        Ok(command) => command,
        Err(error) => return Problem::from(error).into_response(),
    };
    let id = correlation_id(&request);
    match correlation::within(Some(id), app.execute(command)).await {
        Ok(outcome) => {
            let status = match outcome.refund.status {
                RefundStatus::Succeeded => StatusCode::CREATED,
                RefundStatus::Pending => StatusCode::ACCEPTED,
                RefundStatus::Failed => {
                    return Problem::refund_rejected(&outcome.refund).into_response()
                }
            };
            json_response(
                status,
                &json!({
                    "refund": refund_json(&outcome.refund),
                    "payment": payment_json(&outcome.payment, &outcome.refunds),
                }),
            )
        }
        Err(error) => error_response(&error),
    }
}
