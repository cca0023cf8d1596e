//! The HTTP edge shared by the Lambda functions and the local stack: parse the
//! request, call one use case, render the payment or a problem+json.

mod body;
pub mod create;
pub mod get;
mod problem;
mod view;
pub mod webhook;

pub use body::MAX_BODY_BYTES;
pub use create::handle_create_payment;
pub use get::handle_get_payment;
pub use problem::{FieldError, Problem, RequestError};
pub use view::payment_json;
pub use webhook::handle_webhook;

/// What every handler returns: a complete response, never an error.
pub type HttpResponse = http::Response<lambda_http::Body>;

pub(crate) fn json_response(status: http::StatusCode, body: &serde_json::Value) -> HttpResponse {
    let mut response = http::Response::new(lambda_http::Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
