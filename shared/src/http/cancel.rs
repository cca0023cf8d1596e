//! `POST /payments/{payment_id}/cancel`.

use http::StatusCode;

use crate::app::CancelPayment;

use super::body::body_bytes;
use super::request::{admitted_caller, payment_id_in_path};
use super::request_id::answered_as;
use super::{error_response, json_response, payment_json, HttpResponse, Problem, RequestError};

pub async fn handle_cancel_payment(
    app: &CancelPayment,
    request: lambda_http::Request,
) -> HttpResponse {
    answered_as(request, |request| answer_cancel_payment(app, request)).await
}

async fn answer_cancel_payment(app: &CancelPayment, request: lambda_http::Request) -> HttpResponse {
    if request.method() != http::Method::POST {
        return Problem::from(RequestError::MethodNotAllowed).into_response();
    }
    // The body says nothing (the path names the payment), but its size is bounded.
    let parsed = admitted_caller(&request, app.allowed_callers()).and_then(|caller| {
        body_bytes(&request)?;
        Ok((payment_id_in_path(&request, "/cancel")?, caller))
    });
    let (id, caller) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return Problem::from(error).into_response(),
    };
    match app.execute(&id, &caller).await {
        Ok((payment, refunds)) => json_response(StatusCode::OK, &payment_json(&payment, &refunds)),
        Err(error) => error_response(&error),
    }
}
