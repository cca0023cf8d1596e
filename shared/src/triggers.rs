//! What starts the scheduled and stream functions, typed: event-relay runs on
//! the table's stream and on a schedule, payment-sweeper on a schedule.

use aws_lambda_events::dynamodb::Event as StreamBatch;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::{Deserialize, Serialize};

use crate::adapters::dynamodb::waiting_events;
use crate::app::{RelayEvents, RelayReport};

pub type TriggerError = Box<dyn std::error::Error + Send + Sync>;

/// A stream batch (it has `Records`) or a schedule tick (`detail-type`);
/// anything else is refused by the runtime as a malformed event.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RelayTrigger {
    Stream(StreamBatch),
    Schedule(EventBridgeEvent),
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum RelayAnswer {
    /// `batchItemFailures`: the records Lambda must retry, by sequence number.
    Stream(DynamoDbEventResponse),
    Schedule(RelayReport),
}

/// A stream batch publishes what its records carry and reports exactly the
/// records that failed; a tick drains every shard of the outbox index and
/// fails if anything was left behind.
pub async fn relay(
    relay: &RelayEvents,
    trigger: RelayTrigger,
) -> Result<RelayAnswer, TriggerError> {
    match trigger {
        RelayTrigger::Schedule(_) => Ok(RelayAnswer::Schedule(
            relay.execute().await?.require_all_published()?,
        )),
        RelayTrigger::Stream(batch) => {
            let mut failed = Vec::new();
            let mut ready = Vec::new();
            for streamed in waiting_events(&batch) {
                match streamed.event {
                    Ok(event) => ready.push((streamed.sequence_number, event)),
                    Err(error) => {
                        tracing::error!(%error, "stream record is not a readable event");
                        failed.push(streamed.sequence_number);
                    }
                }
            }
            let carried = ready.len();
            failed.extend(relay.publish_each(ready).await);
            tracing::info!(
                records = batch.records.len(),
                carried,
                failed = failed.len(),
                "stream batch relayed"
            );
            let mut response = DynamoDbEventResponse::default();
            response.batch_item_failures = failed
                .into_iter()
                .map(|sequence_number| {
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = Some(sequence_number);
                    failure
                })
                .collect();
            Ok(RelayAnswer::Stream(response))
        }
    }
}

/// payment-sweeper's schedule tick; its content does not matter.
pub type SweepTrigger = EventBridgeEvent;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_samples_are_a_stream_batch_and_a_schedule_tick_and_nothing_else_is_a_trigger() {
        let stream: RelayTrigger =
            serde_json::from_str(include_str!("../../events/event-relay-stream.json")).unwrap();
        let RelayTrigger::Stream(batch) = stream else {
            panic!("the stream sample reads as a stream batch")
        };
        let carried = waiting_events(&batch);
        assert_eq!(carried.len(), 1);
        assert_eq!(carried[0].sequence_number, "111100000000000000000001");
        let event = carried[0].event.as_ref().unwrap();
        assert_eq!(event.event_type.as_str(), "payment.approved");
        assert_eq!(event.order_id.as_str(), "ord-1042");

        let tick: RelayTrigger =
            serde_json::from_str(include_str!("../../events/event-relay.json")).unwrap();
        assert!(matches!(tick, RelayTrigger::Schedule(_)));
        let sweep: Result<SweepTrigger, _> =
            serde_json::from_str(include_str!("../../events/payment-sweeper.json"));
        assert!(sweep.is_ok());

        for wrong in ["{}", "[]", r#"{"Records": {}}"#, r#"{"detail-type": "x"}"#] {
            assert!(
                serde_json::from_str::<RelayTrigger>(wrong).is_err(),
                "{wrong} is not a trigger"
            );
        }
    }

    #[test]
    fn a_record_whose_item_already_left_the_outbox_in_the_same_batch_is_not_sent() {
        let mut batch: serde_json::Value =
            serde_json::from_str(include_str!("../../events/event-relay-stream.json")).unwrap();
        let mut cleared = batch["Records"][0].clone();
        cleared["eventName"] = "MODIFY".into();
        cleared["dynamodb"]["SequenceNumber"] = "111100000000000000000002".into();
        cleared["dynamodb"]["NewImage"]
            .as_object_mut()
            .unwrap()
            .remove("outbox");
        batch["Records"].as_array_mut().unwrap().push(cleared);
        let RelayTrigger::Stream(batch) = serde_json::from_value(batch).unwrap() else {
            panic!("a stream batch")
        };
        assert!(waiting_events(&batch).is_empty());
    }
}
