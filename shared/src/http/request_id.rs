//! Every answer carries `X-Request-Id`: the id every log line of the request
//! carries and the `correlation_id` of the events it causes, so a caller can
//! quote one id and find all three.

use std::future::Future;

use http::HeaderValue;
use lambda_http::RequestExt;
use tracing::Instrument;

use crate::app::correlation;
use crate::domain::CorrelationId;

use super::request::correlation_id;
use super::HttpResponse;

pub const HEADER: &str = "x-request-id";

/// Runs `handle` as the request `request_id(request)` names: under a span
/// carrying it (beside Lambda's own request id, when there is one), with it
/// as the current correlation id, and sets it on the answer.
pub(crate) async fn answered_as<F, Fut>(request: lambda_http::Request, handle: F) -> HttpResponse
where
    F: FnOnce(lambda_http::Request) -> Fut,
    Fut: Future<Output = HttpResponse>,
{
    let id = correlation_id(&request);
    let lambda_request_id = request
        .lambda_context_ref()
        .map(|context| context.request_id.clone());
    let span = match &lambda_request_id {
        // The field name Lambda's own span uses, so lines keep it.
        Some(lambda) => tracing::info_span!("request", requestId = %lambda, x_request_id = %id),
        None => tracing::info_span!("request", x_request_id = %id),
    };
    let response = correlation::within(Some(id.clone()), handle(request))
        .instrument(span)
        .await;
    with_request_id(response, &id)
}

/// Marks an answer that replays an Idempotency-Key's first request.
pub(crate) fn replayed(mut response: HttpResponse) -> HttpResponse {
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// The answer, carrying `id` as `X-Request-Id`.
pub fn with_request_id(mut response: HttpResponse, id: &CorrelationId) -> HttpResponse {
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}
