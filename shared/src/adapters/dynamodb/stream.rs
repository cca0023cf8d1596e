//! The table's stream as event-relay receives it: the events a batch carries
//! that are still waiting in the outbox, read from the records' new images.

use std::collections::HashSet;

use aws_lambda_events::dynamodb::Event;

use super::items::{event_from_item, DynamoItem, Index};
use crate::ports::{OutboxEvent, StoreError};

/// One waiting event and the stream sequence number Lambda retries it by.
#[derive(Debug)]
pub struct StreamedEvent {
    pub sequence_number: String,
    pub event: Result<OutboxEvent, StoreError>,
}

/// The events still marked for the outbox in the latest image of each item in
/// the batch. The trigger's filter passes only INSERTs of waiting events (an
/// event item's later updates, its publish claim and the removal of `outbox`,
/// must not wake the relay again); should a batch still hold two images of
/// one item, the later wins. The publish claim decides who publishes.
pub fn waiting_events(batch: &Event) -> Vec<StreamedEvent> {
    let mut seen = HashSet::new();
    // Newest first, keeping each item's first (that is, latest) record.
    let mut latest: Vec<_> = batch
        .records
        .iter()
        .rev()
        .filter(|record| {
            let keys: DynamoItem = record.change.keys.clone().into();
            let key_of = |name: &str| keys.get(name).and_then(|value| value.as_s().ok()).cloned();
            seen.insert((key_of("pk"), key_of("sk")))
        })
        .collect();
    latest.reverse();
    latest
        .into_iter()
        .filter_map(|record| {
            let image: DynamoItem = record.change.new_image.clone().into();
            let waiting = image
                .get("outbox")
                .and_then(|value| value.as_s().ok())
                .is_some_and(|value| value.starts_with(Index::PENDING_PREFIX));
            waiting.then(|| StreamedEvent {
                sequence_number: record.change.sequence_number.clone().unwrap_or_default(),
                event: event_from_item(&image),
            })
        })
        .collect()
}
