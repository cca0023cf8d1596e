//! Time and identity: injected so tests can pin them.

use crate::domain::{EventId, PaymentId, Timestamp};

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub trait IdGenerator: Send + Sync {
    fn payment_id(&self) -> PaymentId;
    fn event_id(&self) -> EventId;
}
