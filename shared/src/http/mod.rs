//! The HTTP edge shared by the Lambda functions and the local stack: parse the
//! request, call one use case, render the payment or a problem+json. One job
//! per file: a handler per route, the create body's validation, body and
//! request-part readers, the payment view, and the one error-to-status mapping.

mod body;
mod cancel;
mod create;
mod create_request;
mod cursor;
mod get;
mod problem;
#[cfg(test)]
mod properties;
mod qr_image;
mod redeliver;
mod refund;
mod refund_request;
mod request;
pub mod request_id;
mod response;
mod view;
mod webhook;

pub use body::MAX_BODY_BYTES;
pub use cancel::handle_cancel_payment;
pub use create::handle_create_payment;
pub use get::handle_get_payment;
pub use problem::{error_response, FieldError, Problem, ProblemType, RequestError};
pub use redeliver::{handle_redeliver_event, handle_refund_function};
pub use refund::handle_refund_payment;
pub use response::{json_response, HttpResponse};
pub use view::{payment_json, refund_json};
pub use webhook::handle_webhook;
