//! RFC 9457 problem details, and the one place errors become status codes.

use http::{HeaderValue, StatusCode};
use serde_json::json;
use thiserror::Error;

use crate::adapters::mercadopago::WebhookError;
use crate::app::AppError;
use crate::domain::{DomainError, Refund};
use crate::ports::{ProviderError, StoreError};

use super::{json_response, HttpResponse};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// What is wrong with a request before any use case sees it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("malformed JSON: {detail}")]
    Malformed {
        detail: String,
        field: Option<String>,
    },
    #[error("invalid parameter {name}: {message}")]
    BadParameter { name: &'static str, message: String },
    #[error("request has invalid values")]
    Invalid(Vec<FieldError>),
    #[error("no such route")]
    NoRoute,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the Idempotency-Key header is required")]
    IdempotencyKeyRequired,
    #[error("the request's header fields are too large or too many")]
    HeaderFieldsTooLarge,
    #[error("the request target is too long")]
    UriTooLong,
}

impl RequestError {
    /// A query, path or header value the domain refused.
    pub(crate) fn bad_parameter(name: &'static str, error: DomainError) -> Self {
        Self::BadParameter {
            name,
            message: error.into_message(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

impl Problem {
    fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// Mercado Pago refused a refund for good: recorded `failed`, nothing held.
    pub(crate) fn refund_rejected(refund: &Refund) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "refund-rejected",
            "Refund rejected",
            format!(
                "refund {} was refused: {}",
                refund.refund_id,
                refund
                    .failure_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            ),
        )
    }

    /// Logs the error behind this problem once: server errors as errors,
    /// refusals as info.
    pub fn logged(self, error: &dyn std::error::Error) -> Self {
        if self.status.is_server_error() {
            tracing::error!(%error, status = self.status.as_u16(), "request failed");
        } else {
            tracing::info!(%error, status = self.status.as_u16(), "request refused");
        }
        self
    }

    pub fn into_response(self) -> HttpResponse {
        let mut body = json!({
            "type": format!("/problems/{}", self.slug),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            body["errors"] = self
                .errors
                .iter()
                .map(|e| json!({"field": e.field, "message": e.message}))
                .collect();
        }
        let mut response = json_response(self.status, &body);
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<RequestError> for Problem {
    fn from(error: RequestError) -> Self {
        let detail = error.to_string();
        match error {
            RequestError::UnsupportedMediaType => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                detail,
            ),
            RequestError::TooLarge(_) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
                detail,
            ),
            RequestError::Malformed { field, .. } => {
                let mut problem = Problem::new(
                    StatusCode::BAD_REQUEST,
                    "malformed-request",
                    "Malformed request",
                    detail.clone(),
                );
                if let Some(field) = field {
                    problem.errors.push(FieldError {
                        field,
                        message: detail,
                    });
                }
                problem
            }
            RequestError::BadParameter { name, message } => {
                let mut problem = Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-parameter",
                    "Invalid parameter",
                    detail,
                );
                problem.errors.push(FieldError {
                    field: name.to_owned(),
                    message,
                });
                problem
            }
            RequestError::Invalid(errors) => {
                let mut problem = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation-failed",
                    "Validation failed",
                    detail,
                );
                problem.errors = errors;
                problem
            }
            RequestError::NoRoute => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
            }
            RequestError::IdempotencyKeyRequired => Problem::new(
                StatusCode::BAD_REQUEST,
                "idempotency-key-required",
                "Idempotency-Key required",
                detail,
            ),
            RequestError::HeaderFieldsTooLarge => Problem::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "header-fields-too-large",
                "Request header fields too large",
                detail,
            ),
            RequestError::UriTooLong => Problem::new(
                StatusCode::URI_TOO_LONG,
                "uri-too-long",
                "URI too long",
                detail,
            ),
            RequestError::MethodNotAllowed => Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                detail,
            ),
        }
    }
}

impl From<&AppError> for Problem {
    fn from(error: &AppError) -> Self {
        let detail = error.to_string();
        match error {
            AppError::PaymentNotFound(_) => Problem::new(
                StatusCode::NOT_FOUND,
                "payment-not-found",
                "Payment not found",
                detail,
            ),
            AppError::OrderAlreadyPaid(_) => Problem::new(
                StatusCode::CONFLICT,
                "order-already-paid",
                "Order already paid",
                detail,
            ),
            AppError::OrderHasLivePayment(_) => Problem::new(
                StatusCode::CONFLICT,
                "order-has-live-payment",
                "Order has a live payment",
                detail,
            ),
            AppError::PaymentExpired(_) => Problem::new(
                StatusCode::CONFLICT,
                "payment-expired",
                "Payment expired",
                detail,
            ),
            AppError::PaymentAlreadyApproved(_) => Problem::new(
                StatusCode::CONFLICT,
                "payment-already-approved",
                "Payment already approved",
                detail,
            ),
            AppError::PaymentNotCancelable { .. } => Problem::new(
                StatusCode::CONFLICT,
                "payment-not-cancelable",
                "Payment can no longer be canceled",
                detail,
            ),
            AppError::PaymentNotRefundable { .. } => Problem::new(
                StatusCode::CONFLICT,
                "payment-not-refundable",
                "Payment not refundable",
                detail,
            ),
            AppError::RefundTooLarge { .. } => {
                let mut problem = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation-failed",
                    "Validation failed",
                    "request has invalid values",
                );
                problem.errors.push(FieldError {
                    field: "amount".into(),
                    message: detail,
                });
                problem
            }
            AppError::IdempotencyKeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                detail,
            ),
            AppError::Contention => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "contention",
                "Too many concurrent changes",
                detail,
            ),
            AppError::Provider(ProviderError::Unavailable(_)) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider-unavailable",
                "Payment provider unavailable",
                "Mercado Pago did not answer in time; retry the same request",
            ),
            AppError::Provider(_) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "provider-error",
                "Payment provider error",
                "Mercado Pago refused or garbled the call; retry the same request",
            ),
            AppError::Store(StoreError::Conflict(_) | StoreError::Unavailable(_))
            | AppError::Store(StoreError::Corrupt(_)) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                "Payment store unavailable",
                "the payment store could not complete the request; retry",
            ),
            AppError::Domain(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "internal-inconsistency",
                "Payment state inconsistent",
                "the payment could not be updated; retry",
            ),
        }
    }
}

impl From<&WebhookError> for Problem {
    fn from(error: &WebhookError) -> Self {
        let detail = error.to_string();
        match error {
            WebhookError::Unauthorized(_) => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-signature",
                "Invalid webhook signature",
                detail,
            ),
            WebhookError::WithoutDataId => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                "Invalid parameter",
                detail,
            ),
            WebhookError::App(error) => Problem::from(error),
        }
    }
}

/// Renders a use case's error, logged once: server errors as errors, refusals
/// as info.
pub fn error_response(error: &AppError) -> HttpResponse {
    Problem::from(error).logged(error).into_response()
}
