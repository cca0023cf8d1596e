//! Reading the parts of a request that are not its body: query parameters,
//! headers, path segments.

use crate::domain::IdempotencyKey;

use super::RequestError;

/// A query-string parameter, percent-decoded.
pub(crate) fn query_param(request: &lambda_http::Request, name: &str) -> Option<String> {
    request.uri().query().and_then(|query| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    })
}

pub(crate) fn header(request: &lambda_http::Request, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A path segment, percent-decoded.
pub(crate) fn percent_decoded(segment: &str) -> String {
    form_urlencoded::parse(format!("x={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The optional `Idempotency-Key` header.
pub(crate) fn idempotency_key(
    request: &lambda_http::Request,
) -> Result<Option<IdempotencyKey>, RequestError> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    // A header that is not visible ASCII reads as empty, which the key refuses.
    IdempotencyKey::parse(value.to_str().unwrap_or_default())
        .map(Some)
        .map_err(|e| RequestError::bad_parameter("Idempotency-Key", e))
}
