//! Reading the parts of a request that are not its body: query parameters,
//! headers, path segments.

use lambda_http::request::RequestContext;
use lambda_http::RequestExt;

use crate::domain::{AllowedCallers, CallerId, CorrelationId, IdempotencyKey, PaymentId};

use super::RequestError;

/// A query-string parameter, percent-decoded. Given twice it is refused: which
/// of the two was meant is not ours to pick.
pub(crate) fn query_param(
    request: &lambda_http::Request,
    name: &'static str,
) -> Result<Option<String>, RequestError> {
    let Some(query) = request.uri().query() else {
        return Ok(None);
    };
    let mut values = form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned());
    let first = values.next();
    if values.next().is_some() {
        return Err(RequestError::BadParameter {
            name,
            message: "must be given at most once".into(),
        });
    }
    Ok(first)
}

pub(crate) fn header(request: &lambda_http::Request, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The payment id in `/payments/{payment_id}{tail}`; any other path is no route.
pub(crate) fn payment_id_in_path(
    request: &lambda_http::Request,
    tail: &str,
) -> Result<PaymentId, RequestError> {
    let raw = request
        .uri()
        .path()
        .trim_end_matches('/')
        .strip_prefix("/payments/")
        .and_then(|rest| rest.strip_suffix(tail))
        .filter(|raw| !raw.is_empty() && !raw.contains('/'))
        .ok_or(RequestError::NoRoute)?;
    PaymentId::parse(&percent_decoded(raw))
        .map_err(|e| RequestError::bad_parameter("payment_id", e))
}

/// A path segment, percent-decoded.
fn percent_decoded(segment: &str) -> String {
    form_urlencoded::parse(format!("x={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Who is calling, if the route admits it: the IAM principal API Gateway
/// authenticated, `anonymous` behind an API without authentication, `local`
/// with no API Gateway in front. An IAM context without a usable `userArn`
/// is refused, never taken for `anonymous` (whose keys and rights it would
/// share); so is a caller whose role is not on the route's list.
pub(crate) fn admitted_caller(
    request: &lambda_http::Request,
    allowed: &AllowedCallers,
) -> Result<CallerId, RequestError> {
    let caller = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            match context.authorizer.as_ref().and_then(|a| a.iam.as_ref()) {
                Some(iam) => iam
                    .user_arn
                    .as_deref()
                    .and_then(|arn| CallerId::parse(arn).ok())
                    .filter(|caller| caller.as_str().starts_with("arn:"))
                    .ok_or_else(|| {
                        tracing::warn!("refused: an IAM context without a usable userArn");
                        RequestError::CallerUnidentified
                    })?,
                None => CallerId::anonymous(),
            }
        }
        Some(_) => CallerId::anonymous(),
        None => CallerId::local(),
    };
    if !allowed.admits(&caller) {
        // Who tried is worth a line: a role probing routes it was not given.
        tracing::warn!(caller = %caller, "refused: caller not allowed on this route");
        return Err(RequestError::CallerNotAllowed(caller));
    }
    Ok(caller)
}

/// The optional `Idempotency-Key` header, scoped to the caller.
pub(crate) fn idempotency_key(
    request: &lambda_http::Request,
    caller: &CallerId,
) -> Result<Option<IdempotencyKey>, RequestError> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    // A header that is not visible ASCII reads as empty, which the key refuses.
    IdempotencyKey::parse(value.to_str().unwrap_or_default())
        // Scoped to the caller across its sessions (its role), so a retry
        // from another task or after a credential refresh is the same key.
        .map(|key| Some(key.from_caller(caller.principal())))
        .map_err(|e| RequestError::bad_parameter("Idempotency-Key", e))
}

/// The id the events this request causes carry: the caller's `X-Request-Id`
/// (Mercado Pago sends `x-request-id` on every notification) when it is a
/// usable one, else API Gateway's request id, else one made here (the local
/// stack has no API Gateway).
pub(crate) fn correlation_id(request: &lambda_http::Request) -> CorrelationId {
    header(request, "x-request-id")
        .and_then(|raw| CorrelationId::parse(&raw).ok())
        .or_else(|| match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => context
                .request_id
                .as_deref()
                .and_then(|id| CorrelationId::parse(id).ok()),
            _ => None,
        })
        .unwrap_or_else(CorrelationId::generated)
}
