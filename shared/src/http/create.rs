//! `POST /payments`.

use http::{HeaderValue, StatusCode};

use crate::app::CreatePayment;

use super::create_request::parse_command;
use super::request::{admitted_caller, idempotency_key};
use super::request_id::{answered_as, replayed};
use super::{error_response, json_response, payment_json, HttpResponse, Problem, RequestError};

pub async fn handle_create_payment(
    app: &CreatePayment,
    request: lambda_http::Request,
) -> HttpResponse {
    answered_as(request, |request| answer_create_payment(app, request)).await
}

async fn answer_create_payment(app: &CreatePayment, request: lambda_http::Request) -> HttpResponse {
    if request.method() != http::Method::POST {
        return Problem::from(RequestError::MethodNotAllowed).into_response();
    }
    let parsed = admitted_caller(&request, app.allowed_callers()).and_then(|caller| {
        let key = idempotency_key(&request, &caller)?;
        Ok((parse_command(&request, caller)?, key))
    });
    let (command, key) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return Problem::from(error).into_response(),
    };
    match app.execute(command, key.as_ref()).await {
        Ok(created) => {
            let status = if created.newly_created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut response = json_response(status, &payment_json(&created.payment, &[]));
            if let Ok(location) =
                HeaderValue::from_str(&format!("/payments/{}", created.payment.id()))
            {
                response
                    .headers_mut()
                    .insert(http::header::LOCATION, location);
            }
            if created.replayed {
                response = replayed(response);
            }
            response
        }
        Err(error) => error_response(&error),
    }
}
