//! Publishing what the outbox holds. Used right after a commit and by the relay.

use std::time::Duration;

use crate::domain::Timestamp;
use crate::ports::{EventPublisher, Outbox, OutboxEvent};

use super::metrics;

/// How long the right to publish an event is held: longer than one publish
/// takes. A publisher that died holding it is replaced by the relay after it.
pub const PUBLISH_LEASE: Duration = Duration::from_secs(60);

/// Publishes the event and clears its outbox marker, unless another publisher
/// holds it (the writer right after its commit and the stream relay race for
/// every event: whoever claims it first publishes it, so without faults it
/// reaches SNS once). True when the event is published, or being published
/// by another. A failure leaves the event in the outbox for the relay, so it
/// is logged, not returned: the state change it belongs to is committed.
pub async fn publish_and_clear(
    outbox: &dyn Outbox,
    publisher: &dyn EventPublisher,
    event: &OutboxEvent,
    now: Timestamp,
) -> bool {
    let until = now.plus(PUBLISH_LEASE);
    match outbox.claim_publish(event, now, until).await {
        Ok(true) => {}
        Ok(false) => return true,
        // The store cannot say who publishes: publish anyway. At least once
        // is the promise; consumers dedupe by event_id.
        Err(error) => {
            tracing::warn!(event_id = %event.event_id, %error, "could not claim the event; publishing anyway");
        }
    }
    if let Err(error) = publisher.publish(event).await {
        metrics::count("EventPublishFailed");
        tracing::warn!(
            event_id = %event.event_id,
            event_type = event.event_type.as_str(),
            %error,
            "publish failed; event stays in the outbox for the relay"
        );
        if let Err(error) = outbox.release_publish(event, until).await {
            tracing::warn!(event_id = %event.event_id, %error, "could not let go of the publish claim; the relay waits for it to run out");
        }
        return false;
    }
    metrics::count("EventPublished");
    if let Err(error) = outbox.mark_published(event).await {
        // Published but still marked: the relay will publish it again, and
        // consumers dedupe by event_id.
        tracing::warn!(event_id = %event.event_id, %error, "could not clear outbox marker");
        return false;
    }
    true
}
