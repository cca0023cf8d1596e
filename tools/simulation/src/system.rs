//! Time and ids the simulation controls: the clock moves only when the
//! history says so, and ids come from a counter, so a seed replays exactly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use payments::domain::{EventId, PaymentId, RefundId, Timestamp};
use payments::ports::{Clock, IdGenerator};
use ulid::Ulid;

/// 2026-11-25T12:00:00Z: where every history starts.
const START_MILLIS: i64 = 1_795_608_000_000;

pub struct SimClock(Mutex<Timestamp>);

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SimClock {
    pub fn new() -> Self {
        Self(Mutex::new(
            Timestamp::from_unix_millis(START_MILLIS).unwrap_or(Timestamp::EPOCH),
        ))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock();
        *now = now.plus(by);
    }

    /// Time since the history started.
    pub fn elapsed(&self) -> Duration {
        let millis = self.0.lock().unix_millis() - START_MILLIS;
        Duration::from_millis(u64::try_from(millis).unwrap_or(0))
    }
}

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        *self.0.lock()
    }
}

/// ULIDs from a counter: unique, ordered by creation, the same on every replay.
#[derive(Default)]
pub struct SimIds(AtomicU64);

impl SimIds {
    pub fn next(&self) -> Ulid {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ulid::from_parts(START_MILLIS as u64, u128::from(n))
    }
}

impl IdGenerator for SimIds {
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
