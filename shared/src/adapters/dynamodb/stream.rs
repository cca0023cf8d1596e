//! The table's stream as event-relay receives it: the events a batch carries
//! that are still waiting in the outbox, read from the records' new images.

use std::collections::HashMap;

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
/// the batch. An event its writer already published shows up as an INSERT
/// followed by the MODIFY that cleared `outbox`; with the batching window both
/// usually arrive together, and the later image wins, so it is not sent twice.
pub fn waiting_events(batch: &Event) -> Vec<StreamedEvent> {
    let mut latest: HashMap<(String, String), DynamoItem> = HashMap::new();
    let mut order: Vec<((String, String), String)> = Vec::new();
    for record in &batch.records {
        let image: DynamoItem = record.change.new_image.clone().into();
        let keys: DynamoItem = record.change.keys.clone().into();
        let key_of = |name: &str| {
            keys.get(name)
                .and_then(|value| value.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let key = (key_of("pk"), key_of("sk"));
        let sequence = record.change.sequence_number.clone().unwrap_or_default();
        order.retain(|(seen, _)| seen != &key);
        order.push((key.clone(), sequence));
        latest.insert(key, image);
    }
    order
        .into_iter()
        .filter_map(|(key, sequence_number)| {
            let image = latest.remove(&key)?;
            let waiting = image
                .get("outbox")
                .and_then(|value| value.as_s().ok())
                .is_some_and(|value| value.starts_with(Index::PENDING_PREFIX));
            waiting.then(|| StreamedEvent {
                sequence_number,
                event: event_from_item(&image),
            })
        })
        .collect()
}
