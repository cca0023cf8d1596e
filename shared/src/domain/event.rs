//! Domain events and their wire body (DESIGN 7), the exact SNS message.

use serde_json::json;

use super::{EventId, Money, OrderId, PaymentId, PaymentStatus, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Approved,
    Declined,
    Expired,
    Refunded,
}

impl EventType {
    pub const SCHEMA_VERSION: u32 = 1;

    pub fn for_status(status: PaymentStatus) -> Option<Self> {
        match status {
            PaymentStatus::Pending => None,
            PaymentStatus::Approved => Some(Self::Approved),
            PaymentStatus::Declined => Some(Self::Declined),
            PaymentStatus::Expired => Some(Self::Expired),
            PaymentStatus::Refunded => Some(Self::Refunded),
        }
    }

    pub const ALL: [EventType; 4] = [
        Self::Approved,
        Self::Declined,
        Self::Expired,
        Self::Refunded,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "payment.approved",
            Self::Declined => "payment.declined",
            Self::Expired => "payment.expired",
            Self::Refunded => "payment.refunded",
        }
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
    pub provider_payment_id: Option<String>,
    pub decline_reason: Option<String>,
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
            "provider_payment_id": self.provider_payment_id,
            "decline_reason": self.decline_reason,
        })
        .to_string()
    }
}
