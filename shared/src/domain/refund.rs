//! Refunds: money given back on a payment, in full or in part. A refund is
//! reserved on its payment before the provider is asked, so refunds racing
//! each other can never give back more than was paid.

use strum::{Display, EnumString, IntoStaticStr};

use super::item::bounded_text;
use super::{DomainError, Money, PaymentId, ProviderRefundId, RefundId, Timestamp};

/// Why the money goes back, in the caller's words: 1..=150 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefundReason(String);

impl RefundReason {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        bounded_text(raw, 150, "reason").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who asked for the refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Display, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum RefundSource {
    /// A caller of our API.
    Api,
    /// Made at the provider (Mercado Pago's dashboard); we learned of it by reading the order.
    Provider,
    /// Ours, automatic: the customer paid an order we had already closed.
    LatePayment,
}

impl RefundSource {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        raw.parse()
            .map_err(|_| DomainError::invalid("source", format!("unknown refund source `{raw}`")))
    }
}

/// `pending` until the provider answers; then `succeeded` or `failed`, for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Display, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        raw.parse()
            .map_err(|_| DomainError::invalid("status", format!("unknown refund status `{raw}`")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub refund_id: RefundId,
    pub payment_id: PaymentId,
    pub amount: Money,
    pub reason: Option<RefundReason>,
    pub source: RefundSource,
    pub status: RefundStatus,
    pub provider_refund_id: Option<ProviderRefundId>,
    pub failure_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Refund {
    /// A refund about to be asked of the provider.
    pub fn pending(
        refund_id: RefundId,
        payment_id: PaymentId,
        amount: Money,
        reason: Option<RefundReason>,
        source: RefundSource,
        at: Timestamp,
    ) -> Self {
        Self {
            refund_id,
            payment_id,
            amount,
            reason,
            source,
            status: RefundStatus::Pending,
            provider_refund_id: None,
            failure_reason: None,
            created_at: at,
            updated_at: at,
        }
    }

    /// The provider gave the money back.
    pub fn succeeded(&self, provider_refund_id: Option<ProviderRefundId>, at: Timestamp) -> Self {
        Self {
            status: RefundStatus::Succeeded,
            provider_refund_id,
            updated_at: at,
            ..self.clone()
        }
    }

    /// The provider refused for good (e.g. past its refund window).
    pub fn failed(&self, reason: impl Into<String>, at: Timestamp) -> Self {
        Self {
            status: RefundStatus::Failed,
            failure_reason: Some(reason.into()),
            updated_at: at,
            ..self.clone()
        }
    }
}
