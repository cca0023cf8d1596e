use thiserror::Error;

use crate::domain::{DomainError, EventId, PaymentId, PaymentStatus, PosId};
use crate::ports::{ProviderError, StoreError};

/// Why a use case could not do what was asked. The HTTP layer maps each variant
/// to one status code, in one place.
#[derive(Debug, Error)]
pub enum AppError {
    #[error("payment {0} not found")]
    PaymentNotFound(PaymentId),
    #[error("event {0} not found (events are kept 30 days)")]
    EventNotFound(EventId),
    #[error("the cursor points before the 30 days events are kept: the events after it expired; start again with `since`")]
    CursorExpired,
    #[error("the event topic did not take the message; retry")]
    TopicUnavailable,
    #[error("order already paid by {0}")]
    OrderAlreadyPaid(PaymentId),
    #[error("order has a live payment {0} for a different request")]
    OrderHasLivePayment(PaymentId),
    #[error("payment {0} expired; retry once it is settled")]
    PaymentExpired(PaymentId),
    #[error("payment {0} is already approved")]
    PaymentAlreadyApproved(PaymentId),
    #[error("payment {payment_id} is {status} and can no longer be canceled")]
    PaymentNotCancelable {
        payment_id: PaymentId,
        status: PaymentStatus,
    },
    #[error("payment {payment_id} is {status}: only an approved payment can be refunded")]
    PaymentNotRefundable {
        payment_id: PaymentId,
        status: PaymentStatus,
    },
    #[error("payment {payment_id} is {status}: only a pending payment with a QR code before it expires has one to show")]
    QrNotAvailable {
        payment_id: PaymentId,
        status: PaymentStatus,
    },
    #[error("amount is above the {remaining} minor units that remain refundable")]
    RefundTooLarge { remaining: i64 },
    #[error("payment {payment_id} cannot be refunded in part: {reason}; refund all that remains instead")]
    PartialRefundNotSupported {
        payment_id: PaymentId,
        reason: &'static str,
    },
    #[error("Mercado Pago's answer for payment {payment_id} does not match what we asked ({reason}); its order was canceled")]
    ProviderMismatch {
        payment_id: PaymentId,
        reason: &'static str,
    },
    #[error("pos_id {0} is not one of the service's points of sale")]
    UnknownPointOfSale(PosId),
    #[error("Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("too much contention on the order; retry")]
    Contention,
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Domain(#[from] DomainError),
}
