//! RFC 9457 problem details, and the one place errors become status codes.

use http::{HeaderValue, StatusCode};
use serde_json::json;
use thiserror::Error;

use crate::adapters::mercadopago::WebhookError;
use crate::app::AppError;
use crate::domain::{CallerId, DomainError, PaymentId, Refund};
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
    /// The request itself, not its JSON: a request line or header field that
    /// is not HTTP/1.1, a body that cannot be read.
    #[error("malformed request: {0}")]
    Unreadable(String),
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
    #[error("this server answers only requests addressed to a loopback host (Host: 127.0.0.1, localhost or [::1])")]
    MisdirectedHost,
    #[error("this server serves no web page of that origin")]
    ForeignOrigin,
    #[error("the caller could not be identified: its IAM context names no usable userArn")]
    CallerUnidentified,
    #[error("{} is not allowed to call this route", .0.principal())]
    CallerNotAllowed(CallerId),
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

/// Every kind of problem the service answers with: its slug (the body's
/// `type` is `/problems/{slug}`), status and title. The contract test holds
/// this list against openapi.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum ProblemType {
    UnsupportedMediaType,
    PayloadTooLarge,
    MalformedRequest,
    InvalidParameter,
    ValidationFailed,
    NotFound,
    IdempotencyKeyRequired,
    HeaderFieldsTooLarge,
    UriTooLong,
    MethodNotAllowed,
    PaymentNotFound,
    OrderAlreadyPaid,
    OrderHasLivePayment,
    PaymentExpired,
    PaymentAlreadyApproved,
    PaymentNotCancelable,
    PaymentNotRefundable,
    QrNotAvailable,
    IdempotencyKeyReused,
    Contention,
    ProviderUnavailable,
    ProviderError,
    StoreUnavailable,
    InternalInconsistency,
    InvalidSignature,
    RefundRejected,
    PartialRefundNotSupported,
    ProviderMismatch,
    NotificationDeferred,
    CallerNotAllowed,
    MisdirectedRequest,
    EventNotFound,
    TopicUnavailable,
}

impl ProblemType {
    pub fn slug(self) -> &'static str {
        self.into()
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MalformedRequest => StatusCode::BAD_REQUEST,
            Self::InvalidParameter => StatusCode::BAD_REQUEST,
            Self::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::IdempotencyKeyRequired => StatusCode::BAD_REQUEST,
            Self::HeaderFieldsTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PaymentNotFound => StatusCode::NOT_FOUND,
            Self::OrderAlreadyPaid => StatusCode::CONFLICT,
            Self::OrderHasLivePayment => StatusCode::CONFLICT,
            Self::PaymentExpired => StatusCode::CONFLICT,
            Self::PaymentAlreadyApproved => StatusCode::CONFLICT,
            Self::PaymentNotCancelable => StatusCode::CONFLICT,
            Self::PaymentNotRefundable => StatusCode::CONFLICT,
            Self::QrNotAvailable => StatusCode::CONFLICT,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Contention => StatusCode::SERVICE_UNAVAILABLE,
            Self::ProviderUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::ProviderError => StatusCode::BAD_GATEWAY,
            Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InternalInconsistency => StatusCode::SERVICE_UNAVAILABLE,
            Self::InvalidSignature => StatusCode::UNAUTHORIZED,
            Self::RefundRejected => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PartialRefundNotSupported => StatusCode::UNPROCESSABLE_ENTITY,
            Self::ProviderMismatch => StatusCode::BAD_GATEWAY,
            Self::NotificationDeferred => StatusCode::TOO_MANY_REQUESTS,
            Self::CallerNotAllowed => StatusCode::FORBIDDEN,
            Self::MisdirectedRequest => StatusCode::MISDIRECTED_REQUEST,
            Self::EventNotFound => StatusCode::NOT_FOUND,
            Self::TopicUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge => "Payload too large",
            Self::MalformedRequest => "Malformed request",
            Self::InvalidParameter => "Invalid parameter",
            Self::ValidationFailed => "Validation failed",
            Self::NotFound => "Not found",
            Self::IdempotencyKeyRequired => "Idempotency-Key required",
            Self::HeaderFieldsTooLarge => "Request header fields too large",
            Self::UriTooLong => "URI too long",
            Self::MethodNotAllowed => "Method not allowed",
            Self::PaymentNotFound => "Payment not found",
            Self::OrderAlreadyPaid => "Order already paid",
            Self::OrderHasLivePayment => "Order has a live payment",
            Self::PaymentExpired => "Payment expired",
            Self::PaymentAlreadyApproved => "Payment already approved",
            Self::PaymentNotCancelable => "Payment can no longer be canceled",
            Self::PaymentNotRefundable => "Payment not refundable",
            Self::QrNotAvailable => "QR code not available",
            Self::IdempotencyKeyReused => "Idempotency-Key reused",
            Self::Contention => "Too many concurrent changes",
            Self::ProviderUnavailable => "Payment provider unavailable",
            Self::ProviderError => "Payment provider error",
            Self::StoreUnavailable => "Payment store unavailable",
            Self::InternalInconsistency => "Payment state inconsistent",
            Self::InvalidSignature => "Invalid webhook signature",
            Self::RefundRejected => "Refund rejected",
            Self::PartialRefundNotSupported => "Partial refund not supported",
            Self::ProviderMismatch => "Payment provider answer does not match",
            Self::NotificationDeferred => "Notification deferred",
            Self::CallerNotAllowed => "Caller not allowed",
            Self::MisdirectedRequest => "Misdirected request",
            Self::EventNotFound => "Event not found",
            Self::TopicUnavailable => "Event topic unavailable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemType,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

impl Problem {
    fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// Mercado Pago refused a refund for good: recorded `failed`, nothing held.
    pub(crate) fn refund_rejected(refund: &Refund) -> Self {
        Self::new(
            ProblemType::RefundRejected,
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

    /// A payment whose QR data cannot be drawn (too long for a QR code).
    pub(crate) fn qr_not_drawable(payment_id: &PaymentId, error: &dyn std::error::Error) -> Self {
        Self::new(
            ProblemType::QrNotAvailable,
            format!("payment {payment_id} has no QR code to show: {error}"),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// Logs the error behind this problem once: server errors as errors,
    /// refusals as info.
    pub fn logged(self, error: &dyn std::error::Error) -> Self {
        if self.status().is_server_error() {
            tracing::error!(%error, status = self.status().as_u16(), "request failed");
        } else {
            tracing::info!(%error, status = self.status().as_u16(), "request refused");
        }
        self
    }

    pub fn into_response(self) -> HttpResponse {
        let mut body = json!({
            "type": format!("/problems/{}", self.kind.slug()),
            "title": self.kind.title(),
            "status": self.status().as_u16(),
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            body["errors"] = self
                .errors
                .iter()
                .map(|e| json!({"field": e.field, "message": e.message}))
                .collect();
        }
        let mut response = json_response(self.status(), &body);
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.kind == ProblemType::NotificationDeferred {
            // The order may be read again after the minute.
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        response
    }
}

impl From<RequestError> for Problem {
    fn from(error: RequestError) -> Self {
        let detail = error.to_string();
        match error {
            RequestError::UnsupportedMediaType => {
                Problem::new(ProblemType::UnsupportedMediaType, detail)
            }
            RequestError::TooLarge(_) => Problem::new(ProblemType::PayloadTooLarge, detail),
            RequestError::Unreadable(_) => Problem::new(ProblemType::MalformedRequest, detail),
            RequestError::Malformed { field, .. } => {
                let mut problem = Problem::new(ProblemType::MalformedRequest, detail.clone());
                if let Some(field) = field {
                    problem.errors.push(FieldError {
                        field,
                        message: detail,
                    });
                }
                problem
            }
            RequestError::BadParameter { name, message } => {
                let mut problem = Problem::new(ProblemType::InvalidParameter, detail);
                problem.errors.push(FieldError {
                    field: name.to_owned(),
                    message,
                });
                problem
            }
            RequestError::Invalid(errors) => {
                let mut problem = Problem::new(ProblemType::ValidationFailed, detail);
                problem.errors = errors;
                problem
            }
            RequestError::NoRoute => Problem::new(ProblemType::NotFound, detail),
            RequestError::IdempotencyKeyRequired => {
                Problem::new(ProblemType::IdempotencyKeyRequired, detail)
            }
            RequestError::HeaderFieldsTooLarge => {
                Problem::new(ProblemType::HeaderFieldsTooLarge, detail)
            }
            RequestError::UriTooLong => Problem::new(ProblemType::UriTooLong, detail),
            RequestError::MethodNotAllowed => Problem::new(ProblemType::MethodNotAllowed, detail),
            RequestError::MisdirectedHost => Problem::new(ProblemType::MisdirectedRequest, detail),
            RequestError::CallerUnidentified
            | RequestError::CallerNotAllowed(_)
            | RequestError::ForeignOrigin => Problem::new(ProblemType::CallerNotAllowed, detail),
        }
    }
}

impl From<&AppError> for Problem {
    fn from(error: &AppError) -> Self {
        let detail = error.to_string();
        match error {
            AppError::PaymentNotFound(_) => Problem::new(ProblemType::PaymentNotFound, detail),
            AppError::EventNotFound(_) => Problem::new(ProblemType::EventNotFound, detail),
            AppError::TopicUnavailable => Problem::new(ProblemType::TopicUnavailable, detail),
            AppError::CursorExpired => {
                let mut problem = Problem::new(ProblemType::InvalidParameter, detail.clone());
                problem.errors.push(FieldError {
                    field: "cursor".to_owned(),
                    message: detail,
                });
                problem
            }
            AppError::OrderAlreadyPaid(_) => Problem::new(ProblemType::OrderAlreadyPaid, detail),
            AppError::OrderHasLivePayment(_) => {
                Problem::new(ProblemType::OrderHasLivePayment, detail)
            }
            AppError::PaymentExpired(_) => Problem::new(ProblemType::PaymentExpired, detail),
            AppError::PaymentAlreadyApproved(_) => {
                Problem::new(ProblemType::PaymentAlreadyApproved, detail)
            }
            AppError::PaymentNotCancelable { .. } => {
                Problem::new(ProblemType::PaymentNotCancelable, detail)
            }
            AppError::QrNotAvailable { .. } => Problem::new(ProblemType::QrNotAvailable, detail),
            AppError::PaymentNotRefundable { .. } => {
                Problem::new(ProblemType::PaymentNotRefundable, detail)
            }
            AppError::RefundTooLarge { .. } => {
                let mut problem =
                    Problem::new(ProblemType::ValidationFailed, "request has invalid values");
                problem.errors.push(FieldError {
                    field: "amount".into(),
                    message: detail,
                });
                problem
            }
            AppError::UnknownPointOfSale(_) => {
                let mut problem =
                    Problem::new(ProblemType::ValidationFailed, "request has invalid values");
                problem.errors.push(FieldError {
                    field: "pos_id".into(),
                    message: "is not one of the service's points of sale".into(),
                });
                problem
            }
            AppError::IdempotencyKeyReused => {
                Problem::new(ProblemType::IdempotencyKeyReused, detail)
            }
            AppError::PartialRefundNotSupported { .. } => {
                Problem::new(ProblemType::PartialRefundNotSupported, detail)
            }
            AppError::ProviderMismatch { .. } => {
                Problem::new(ProblemType::ProviderMismatch, detail)
            }
            AppError::Contention => Problem::new(ProblemType::Contention, detail),
            // What went wrong at Mercado Pago (an error status, a timeout)
            // stays in the log: the caller's move is the same either way.
            AppError::Provider(ProviderError::Unavailable(_)) => Problem::new(
                ProblemType::ProviderUnavailable,
                "Mercado Pago is unavailable: it could not be reached, or answered with an error or not in time; retry the same request",
            ),
            AppError::Provider(ProviderError::Busy(_)) => Problem::new(
                ProblemType::ProviderUnavailable,
                "Mercado Pago is busy with this order (a payment or a refund is in progress there); retry the same request shortly",
            ),
            AppError::Provider(_) => Problem::new(
                ProblemType::ProviderError,
                "Mercado Pago refused or garbled the call; retry the same request",
            ),
            AppError::Store(StoreError::Conflict(_) | StoreError::Unavailable(_))
            | AppError::Store(StoreError::Corrupt(_)) => Problem::new(
                ProblemType::StoreUnavailable,
                "the payment store could not complete the request; retry",
            ),
            AppError::Domain(_) => Problem::new(
                ProblemType::InternalInconsistency,
                "the payment could not be updated; retry",
            ),
        }
    }
}

impl From<&WebhookError> for Problem {
    fn from(error: &WebhookError) -> Self {
        let detail = error.to_string();
        match error {
            WebhookError::Unauthorized(_) => Problem::new(ProblemType::InvalidSignature, detail),
            WebhookError::WithoutDataId => Problem::new(ProblemType::InvalidParameter, detail),
            WebhookError::Deferred(_) => Problem::new(ProblemType::NotificationDeferred, detail),
            WebhookError::App(error) => Problem::from(error),
        }
    }
}

/// Renders a use case's error, logged once: server errors as errors, refusals
/// as info.
pub fn error_response(error: &AppError) -> HttpResponse {
    Problem::from(error).logged(error).into_response()
}
