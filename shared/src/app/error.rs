use thiserror::Error;

use crate::domain::{DomainError, PaymentId, PaymentStatus};
use crate::ports::{ProviderError, StoreError};

/// Why a use case could not do what was asked. The HTTP layer maps each variant
/// to one status code, in one place.
#[derive(Debug, Error)]
pub enum AppError {
    #[error("payment {0} not found")]
    PaymentNotFound(PaymentId),
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
    #[error("payment {0} has no Mercado Pago payment id, which a partial refund needs; refund all that remains instead")]
    PartialRefundNotSupported(PaymentId),
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
