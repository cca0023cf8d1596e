//! The local stack's routes, each handing an `http::Request` to the shared handler
//! the matching Lambda runs.

use std::sync::Arc;

use axum::body::Body as AxumBody;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use mercadopago_mock::loopback;
use payments::domain::{CorrelationId, PointsOfSale, PosId};
use payments::http::request_id;
use payments::http::{
    handle_cancel_payment, handle_create_payment, handle_get_payment, handle_redeliver_event,
    handle_refund_payment, handle_webhook, HttpResponse, Problem, RequestError, MAX_BODY_BYTES,
};
use serde_json::{json, Value};
use strum::IntoEnumIterator;

use crate::Services;

/// Every route the local stack serves; the router is built from this list,
/// and the contract test holds it against openapi.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum LocalRoute {
    CreatePayment,
    ListPaymentsByOrder,
    GetPayment,
    PaymentEvents,
    EventFeed,
    QrCodeSvg,
    QrCodePng,
    CancelPayment,
    RefundPayment,
    RedeliverEvent,
    MercadoPagoWebhook,
    LocalEvents,
    LocalMetrics,
    OpenApiDocument,
    AsyncApiDocument,
    Kiosk,
}

impl LocalRoute {
    pub fn method(self) -> http::Method {
        match self {
            Self::CreatePayment
            | Self::CancelPayment
            | Self::RefundPayment
            | Self::RedeliverEvent
            | Self::MercadoPagoWebhook => http::Method::POST,
            Self::ListPaymentsByOrder
            | Self::GetPayment
            | Self::PaymentEvents
            | Self::EventFeed
            | Self::QrCodeSvg
            | Self::QrCodePng
            | Self::LocalEvents
            | Self::LocalMetrics
            | Self::OpenApiDocument
            | Self::AsyncApiDocument
            | Self::Kiosk => http::Method::GET,
        }
    }

    /// In axum's syntax, which is OpenAPI's: `{name}` for a path parameter.
    pub fn path(self) -> &'static str {
        match self {
            Self::CreatePayment | Self::ListPaymentsByOrder => "/payments",
            Self::GetPayment => "/payments/{payment_id}",
            Self::PaymentEvents => "/payments/{payment_id}/events",
            Self::EventFeed => "/events",
            Self::QrCodeSvg => "/payments/{payment_id}/qr.svg",
            Self::QrCodePng => "/payments/{payment_id}/qr.png",
            Self::CancelPayment => "/payments/{payment_id}/cancel",
            Self::RefundPayment => "/payments/{payment_id}/refunds",
            Self::RedeliverEvent => "/events/{event_id}/redeliver",
            Self::MercadoPagoWebhook => "/webhooks/mercadopago",
            Self::LocalEvents => "/local/events",
            Self::LocalMetrics => "/local/metrics",
            Self::OpenApiDocument => "/openapi.yaml",
            Self::AsyncApiDocument => "/asyncapi.yaml",
            Self::Kiosk => "/kiosk",
        }
    }

    fn handler(self) -> MethodRouter<Arc<Services>> {
        match self {
            Self::CreatePayment => post(create),
            Self::ListPaymentsByOrder
            | Self::GetPayment
            | Self::PaymentEvents
            | Self::EventFeed
            | Self::QrCodeSvg
            | Self::QrCodePng => get(get_payment),
            Self::CancelPayment => post(cancel),
            Self::RefundPayment => post(refund),
            Self::RedeliverEvent => post(redeliver),
            Self::MercadoPagoWebhook => post(webhook),
            Self::LocalEvents => get(events),
            Self::LocalMetrics => get(kept_metrics),
            Self::OpenApiDocument => get(openapi),
            Self::AsyncApiDocument => get(asyncapi),
            Self::Kiosk => get(kiosk),
        }
    }
}

pub(crate) fn router(services: Arc<Services>) -> Router {
    // Two routes on one path (GET and POST /payments) merge into one.
    LocalRoute::iter()
        .fold(Router::new(), |router, route| {
            router.route(route.path(), route.handler())
        })
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            only_local_requests,
        ))
        .layer(axum::middleware::from_fn(answers_carry_a_request_id))
        .with_state(services)
}

/// Answers the handlers did not reach (refused host or origin, no route,
/// wrong method, a body too large) carry an `X-Request-Id` too: the
/// caller's usable one, else a new one. The handlers set their own.
async fn answers_carry_a_request_id(request: Request, next: axum::middleware::Next) -> Response {
    let asked = request
        .headers()
        .get(request_id::HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| CorrelationId::parse(value).ok());
    let mut response = next.run(request).await;
    if !response.headers().contains_key(request_id::HEADER) {
        let id = asked.unwrap_or_else(CorrelationId::generated);
        if let Ok(value) = http::HeaderValue::from_str(id.as_str()) {
            response.headers_mut().insert(request_id::HEADER, value);
        }
    }
    response
}

/// Before any route: a request addressed to another host (a page that
/// rebound its DNS name to 127.0.0.1) gets 421, and one a web page of
/// another origin sent (a form posted from any site) gets 403.
async fn only_local_requests(
    State(services): State<Arc<Services>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers();
    if !loopback::host(headers).is_some_and(loopback::is_loopback_host) {
        return to_axum(Problem::from(RequestError::MisdirectedHost).into_response());
    }
    if !loopback::origin_allowed(headers, &services.browser_origins) {
        return to_axum(Problem::from(RequestError::ForeignOrigin).into_response());
    }
    next.run(request).await
}

/// Reads the body like API Gateway hands it to Lambda: whole, as bytes. A body
/// above the handlers' limit is refused here without buffering it: at once
/// when its declared length says so, else as soon as it has grown past it.
async fn to_lambda(request: Request) -> Result<lambda_http::Request, HttpResponse> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(refused_unread(RequestError::TooLarge(MAX_BODY_BYTES)));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|error| {
            let error = error.into_inner();
            if error.is::<http_body_util::LengthLimitError>() {
                refused_unread(RequestError::TooLarge(MAX_BODY_BYTES))
            } else {
                // A malformed chunked encoding, or a body cut short.
                refused_unread(RequestError::Unreadable(format!(
                    "the body could not be read: {error}"
                )))
            }
        })?;
    Ok(http::Request::from_parts(
        parts,
        lambda_http::Body::from(bytes.to_vec()),
    ))
}

/// A refusal sent before the body was read whole: the connection cannot carry
/// another request.
fn refused_unread(error: RequestError) -> HttpResponse {
    let mut response = Problem::from(error).into_response();
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

fn to_axum(response: HttpResponse) -> Response {
    let (parts, body) = response.into_parts();
    let body = match body {
        lambda_http::Body::Empty => AxumBody::empty(),
        lambda_http::Body::Text(text) => AxumBody::from(text),
        lambda_http::Body::Binary(bytes) => AxumBody::from(bytes),
        _ => AxumBody::empty(),
    };
    Response::from_parts(parts, body)
}

/// An axum route for a Lambda's handler: the request as API Gateway hands it
/// over, the handler's answer as it is.
macro_rules! lambda_route {
    ($route:ident => $handler:ident(services.$use_case:ident)) => {
        async fn $route(State(services): State<Arc<Services>>, request: Request) -> Response {
            match to_lambda(request).await {
                Ok(request) => to_axum($handler(&services.$use_case, request).await),
                Err(response) => to_axum(response),
            }
        }
    };
}

lambda_route!(create => handle_create_payment(services.create));
lambda_route!(get_payment => handle_get_payment(services.queries));
lambda_route!(cancel => handle_cancel_payment(services.cancel));
lambda_route!(refund => handle_refund_payment(services.refund));
lambda_route!(redeliver => handle_redeliver_event(services.redeliver));
lambda_route!(webhook => handle_webhook(services.webhook));

/// Every published event, oldest first, as subscribers received it.
async fn events(State(services): State<Arc<Services>>) -> Response {
    let items: Vec<Value> = services
        .publisher
        .published()
        .iter()
        .map(|event| serde_json::from_str(&event.body).unwrap_or(Value::Null))
        .collect();
    json_response(json!({ "items": items }))
}

/// The counters, gauges and histograms recorded since the stack started.
async fn kept_metrics(State(services): State<Arc<Services>>) -> Response {
    json_response(services.metrics.snapshot())
}

/// The API's contract, the file at the repository's root, as built in.
const OPENAPI: &str = include_str!("../../../openapi.yaml");

async fn openapi() -> Response {
    typed_response("application/yaml", OPENAPI)
}

const ASYNCAPI: &str = include_str!("../../../asyncapi.yaml");

/// The events' contract (AsyncAPI 3.0).
async fn asyncapi() -> Response {
    typed_response("application/yaml", ASYNCAPI)
}

/// The kiosk page: one file, its script and style inline, nothing fetched
/// from elsewhere but this stack's API and the mock's customer actions.
const KIOSK_PAGE: &str = include_str!("kiosk.html");

/// The page as this stack serves it, naming its own mock and its points of
/// sale (a JSON array, the default first); made once at start.
pub(crate) fn kiosk_page(mock_url: &str, points_of_sale: &PointsOfSale) -> String {
    let points_of_sale: Vec<&str> = points_of_sale.iter().map(PosId::as_str).collect();
    KIOSK_PAGE
        .replace("__MOCK_URL__", mock_url)
        .replace("\"__POINTS_OF_SALE__\"", &json!(points_of_sale).to_string())
}

async fn kiosk(State(services): State<Arc<Services>>) -> Response {
    typed_response("text/html; charset=utf-8", services.kiosk_page.clone())
}

fn json_response(body: Value) -> Response {
    typed_response("application/json", body.to_string())
}

fn typed_response(content_type: &'static str, body: impl Into<AxumBody>) -> Response {
    let mut response = Response::new(body.into());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

async fn not_found() -> Response {
    to_axum(Problem::from(RequestError::NoRoute).into_response())
}

/// axum adds the `Allow` header to this answer.
async fn method_not_allowed() -> Response {
    to_axum(Problem::from(RequestError::MethodNotAllowed).into_response())
}
