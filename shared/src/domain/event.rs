//! Domain events and their wire body: the exact SNS message (docs/api.md).

use serde_json::json;

use super::{
    CorrelationId, EventId, Money, OrderId, PaymentId, PaymentStatus, ProviderPaymentId, Refund,
    RefundId, RefundReason, RefundSource, Timestamp,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::EnumString, strum::IntoStaticStr)]
pub enum EventType {
    #[strum(serialize = "payment.approved")]
    Approved,
    #[strum(serialize = "payment.declined")]
    Declined,
    #[strum(serialize = "payment.expired")]
    Expired,
    #[strum(serialize = "payment.canceled")]
    Canceled,
    #[strum(serialize = "payment.refunded")]
    Refunded,
    /// A refund the provider took and then failed: the money stays with the
    /// merchant, and the amount is refundable again.
    #[strum(serialize = "payment.refund_failed")]
    RefundFailed,
}

impl EventType {
    pub const SCHEMA_VERSION: u32 = 1;

    pub fn for_status(status: PaymentStatus) -> Option<Self> {
        match status {
            PaymentStatus::Pending => None,
            PaymentStatus::Approved => Some(Self::Approved),
            PaymentStatus::Declined => Some(Self::Declined),
            PaymentStatus::Expired => Some(Self::Expired),
            PaymentStatus::Canceled => Some(Self::Canceled),
            PaymentStatus::Refunded => Some(Self::Refunded),
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    pub event_id: EventId,
    pub event_type: EventType,
    pub occurred_at: Timestamp,
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    pub status: PaymentStatus,
    pub amount: Money,
    pub provider_payment_id: Option<ProviderPaymentId>,
    pub decline_reason: Option<String>,
    /// Minor units refunded so far, after this event.
    pub amount_refunded: i64,
    /// The refund a `payment.refunded` or `payment.refund_failed` event announces.
    pub refund: Option<RefundSummary>,
    /// Its place in its payment's history: 1, 2, 3 … with no gap.
    pub sequence: u64,
    /// The request or run that caused it, when known.
    pub correlation_id: Option<CorrelationId>,
}

/// What subscribers learn of a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundSummary {
    pub refund_id: RefundId,
    pub amount: Money,
    pub reason: Option<RefundReason>,
    pub source: RefundSource,
}

impl From<&Refund> for RefundSummary {
    fn from(refund: &Refund) -> Self {
        Self {
            refund_id: refund.refund_id.clone(),
            amount: refund.amount,
            reason: refund.reason.clone(),
            source: refund.source,
        }
    }
}

impl PaymentEvent {
    /// The message body subscribers receive; stored verbatim in the outbox.
    pub fn to_message_body(&self) -> String {
        json!({
            "event_id": self.event_id.as_str(),
            "event_type": self.event_type.as_str(),
            "schema_version": EventType::SCHEMA_VERSION,
            "occurred_at": self.occurred_at.to_rfc3339(),
            "payment_id": self.payment_id.as_str(),
            "order_id": self.order_id.as_str(),
            "status": self.status.as_str(),
            "amount": self.amount.minor_units(),
            "currency": self.amount.currency().code(),
            "provider_payment_id": self.provider_payment_id.as_ref().map(ProviderPaymentId::as_str),
            "decline_reason": self.decline_reason,
            "amount_refunded": self.amount_refunded,
            "sequence": self.sequence,
            "correlation_id": self.correlation_id.as_ref().map(CorrelationId::as_str),
            "refund": self.refund.as_ref().map(|r| json!({
                "refund_id": r.refund_id.as_str(),
                "amount": r.amount.minor_units(),
                "reason": r.reason.as_ref().map(RefundReason::as_str),
                "source": r.source.as_str(),
            })),
        })
        .to_string()
    }
}
