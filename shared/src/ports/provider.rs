//! The payment provider as use cases see it: orders, their state, and the
//! provider's answer already mapped out of its own vocabulary.

use async_trait::async_trait;
use thiserror::Error;

use crate::domain::{
    Money, Payment, PaymentId, PaymentStatus, ProviderOrderId, ProviderPaymentId, ProviderRefundId,
};

/// The order the provider created for a payment, with what the kiosk shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOrder {
    pub order_id: ProviderOrderId,
    pub payment_id: Option<ProviderPaymentId>,
    pub qr_data: String,
    /// What the provider says it will charge, as it sent it: checked
    /// against ours before the QR code is shown.
    pub total_amount: Option<String>,
    pub currency: Option<String>,
}

/// The provider's verdict on an order, already mapped out of its vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderOutcome {
    Pending,
    Approved,
    Declined {
        reason: Option<String>,
    },
    Expired,
    /// Canceled at the provider (by us, or by an operator there).
    Canceled,
    /// Paid, then given back in full.
    Refunded,
}

impl ProviderOutcome {
    /// The payment status this outcome means. A canceled order means the
    /// payment was canceled, unless its QR code was already due to expire: then
    /// the cancel was the sweeper's and the payment expired.
    pub fn status(&self, overdue: bool) -> PaymentStatus {
        match self {
            Self::Pending => PaymentStatus::Pending,
            Self::Approved => PaymentStatus::Approved,
            Self::Declined { .. } => PaymentStatus::Declined,
            Self::Expired => PaymentStatus::Expired,
            Self::Canceled if overdue => PaymentStatus::Expired,
            Self::Canceled => PaymentStatus::Canceled,
            // Paid first: the refunds the order lists take the payment further.
            Self::Refunded => PaymentStatus::Approved,
        }
    }
}

/// What reading an order at the provider tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOrderState {
    pub order_id: ProviderOrderId,
    pub outcome: ProviderOutcome,
    /// Our payment id, as we gave it when creating the order; unchecked.
    pub external_reference: Option<String>,
    /// Decimal string as the provider sent it, parsed against our currency.
    pub total_amount: Option<String>,
    pub currency: Option<String>,
    pub payment_id: Option<ProviderPaymentId>,
    /// Every refund made on the order, ours and those made at the provider.
    pub refunds: Vec<ProviderRefund>,
}

/// A refund as the provider lists it on its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    pub id: ProviderRefundId,
    /// Decimal string as the provider sent it, parsed against our currency.
    pub amount: String,
    pub status: ProviderRefundStatus,
}

/// Where a refund stands at the provider, which refunds asynchronously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderRefundStatus {
    /// Taken, money not yet back: a later read tells.
    Processing,
    /// The money is back with the customer.
    Processed,
    /// Taken, then failed: the money stayed with the merchant.
    Failed,
}

/// Give back `amount` of an order's payment, or all that remains when `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// Sent as the provider's idempotency key: a retry never refunds twice.
    pub idempotency_key: String,
    pub payment_id: Option<ProviderPaymentId>,
    pub amount: Option<Money>,
}

/// Why the provider refused a call, in our terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It does not refund this order in part (only in full).
    PartialRefundNotSupported,
    /// Less remains to refund than asked: refunds we had not seen.
    AmountAboveRemaining,
    /// Too late to refund (the provider's refund window closed).
    RefundPeriodExpired,
    /// Any other refusal; the status and detail say more.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProviderError {
    /// Timeouts, connection failures, 423/429/5xx after the retries ran out.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider is busy with the order (a payment in progress refuses
    /// a cancel; a refund still processing refuses another refund): the
    /// same call later may succeed.
    #[error("payment provider is busy with the order: {0}")]
    Busy(String),
    #[error("payment provider has no such order")]
    NotFound,
    /// The provider refused the call (4xx other than 404/423/429).
    #[error("payment provider rejected the request with status {status}: {detail}")]
    Rejected {
        status: u16,
        refusal: Refusal,
        detail: String,
    },
    #[error("payment provider answered something unexpected: {0}")]
    InvalidResponse(String),
}

/// The key a payment's cancel is sent under: one per payment, so the kiosk's
/// cancel and the sweeper's are one cancel at Mercado Pago.
pub fn cancel_key(payment_id: &PaymentId) -> String {
    format!("cancel-{payment_id}")
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Creates (or, for a repeated payment id, returns) the provider order.
    async fn create_order(&self, payment: &Payment) -> Result<ProviderOrder, ProviderError>;
    async fn get_order(&self, id: &ProviderOrderId) -> Result<ProviderOrderState, ProviderError>;
    /// Cancels an order still open, under `idempotency_key` (Mercado Pago
    /// requires one on every write: `cancel_key` makes ours).
    async fn cancel_order(
        &self,
        id: &ProviderOrderId,
        idempotency_key: &str,
    ) -> Result<ProviderOrderState, ProviderError>;
    /// Refunds at the provider; answers the order as it is afterwards.
    async fn refund_order(
        &self,
        id: &ProviderOrderId,
        request: &RefundRequest,
    ) -> Result<ProviderOrderState, ProviderError>;
}
