//! The real clock and ULID-based id generation.

use parking_lot::Mutex;
use time::OffsetDateTime;
use ulid::Generator;

use crate::domain::{EventId, PaymentId, RefundId, Timestamp};
use crate::ports::{Clock, IdGenerator};

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        // The system clock is always inside the range Timestamp holds.
        Timestamp::from_unix_millis(millis as i64).unwrap_or(Timestamp::EPOCH)
    }
}

/// Monotonic ULIDs: ids made in the same millisecond still sort by creation.
#[derive(Default)]
pub struct UlidGenerator(Mutex<Generator>);

impl UlidGenerator {
    fn next(&self) -> ulid::Ulid {
        let mut generator = self.0.lock();
        // Overflow needs 2^80 ids in one millisecond; fall back to a random one.
        generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
    }
}

impl IdGenerator for UlidGenerator {
    fn payment_id(&self) -> PaymentId {
        PaymentId::from_ulid(self.next())
    }

    fn event_id(&self) -> EventId {
        EventId::from_ulid(self.next())
    }

    fn refund_id(&self) -> RefundId {
        RefundId::from_ulid(self.next())
    }
}
