//! Publishing what the outbox holds. Used right after a commit and by the relay.

use crate::ports::{EventPublisher, Outbox, OutboxEvent};

use super::metrics;

/// Publishes the event and clears its outbox marker. A failure leaves the event
/// in the outbox for the relay, so it is logged, not returned: the state change
/// it belongs to is already committed.
pub async fn publish_and_clear(
    outbox: &dyn Outbox,
    publisher: &dyn EventPublisher,
    event: &OutboxEvent,
) -> bool {
    if let Err(error) = publisher.publish(event).await {
        metrics::count("EventPublishFailed");
        tracing::warn!(
            event_id = %event.event_id,
            event_type = event.event_type.as_str(),
            %error,
            "publish failed; event stays in the outbox for the relay"
        );
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
