//! The request or scheduled run a change belongs to. It rides along with the
//! work (a task-local) instead of through every use case's arguments, and is
//! stamped on every event the work commits, so a consumer can tell which
//! request caused which events.

use std::future::Future;

use crate::domain::{CorrelationId, PaymentEvent};
use crate::ports::OutboxEvent;

tokio::task_local! {
    static CURRENT: CorrelationId;
}

/// Runs `work` as part of the request or run `id` (none: not known).
pub async fn within<F: Future>(id: Option<CorrelationId>, work: F) -> F::Output {
    match id {
        Some(id) => CURRENT.scope(id, work).await,
        None => work.await,
    }
}

/// The request or run the current work belongs to, if any.
pub fn current() -> Option<CorrelationId> {
    CURRENT.try_with(Clone::clone).ok()
}

/// The event as it is stored and published: stamped with the current request.
pub(crate) fn outbox_event(mut event: PaymentEvent) -> OutboxEvent {
    event.correlation_id = current();
    OutboxEvent::from(&event)
}
