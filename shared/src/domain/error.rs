use thiserror::Error;

use super::status::PaymentStatus;

/// Why a domain value or rule rejected its input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("a {0} payment cannot be refunded")]
    NotRefundable(PaymentStatus),
    #[error("amount is above the {remaining} minor units that remain refundable")]
    RefundTooLarge { remaining: i64 },
    #[error("transition from {from} to {to} is not allowed")]
    Transition {
        from: PaymentStatus,
        to: PaymentStatus,
    },
}

impl DomainError {
    /// The message for a client: the rule that was broken, without the field name
    /// (the caller names the field in its own terms).
    pub fn into_message(self) -> String {
        match self {
            Self::Invalid { message, .. } => message,
            other => other.to_string(),
        }
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}
