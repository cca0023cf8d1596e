//! Time and identity: injected so tests can pin them.

use crate::domain::{EventId, PaymentId, RefundId, Timestamp};

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub trait IdGenerator: Send + Sync {
    fn payment_id(&self) -> PaymentId;
    fn event_id(&self) -> EventId;
    fn refund_id(&self) -> RefundId;
}
