//! event-relay on a stream batch (images read back from the table on moto):
//! each waiting event is published once, and exactly the records whose publish
//! failed come back as batchItemFailures, still in the outbox.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use payments::adapters::dynamodb::DynamoStore;
use payments::adapters::system::{SystemClock, UlidGenerator};
use payments::app::RelayEvents;
use payments::domain::{EventId, PaymentStatus};
use payments::ports::{
    EventPublisher, Outbox, OutboxEvent, PaymentCreation, PaymentTransitions, Ports, PublishError,
};
use payments::triggers::{self, RelayAnswer, RelayTrigger};
use payments_tests::fixtures::{payment, transition};
use payments_tests::moto;
use serde_json::json;

/// A topic that refuses one event and records the rest.
struct RefusesOne {
    refused: EventId,
    published: Mutex<Vec<EventId>>,
}

#[async_trait]
impl EventPublisher for RefusesOne {
    async fn publish(&self, event: &OutboxEvent) -> Result<(), PublishError> {
        if event.event_id == self.refused {
            return Err(PublishError("topic refused it".into()));
        }
        self.published.lock().unwrap().push(event.event_id.clone());
        Ok(())
    }
}

#[tokio::test]
async fn a_stream_batch_publishes_each_event_once_and_reports_exactly_the_failed_records() {
    let client = aws_sdk_dynamodb::Client::new(&moto::sdk_config().await);
    let table = moto::table_from_template(&client).await;
    let store = Arc::new(DynamoStore::new(client.clone(), table.clone()));
    let mut events = Vec::new();
    for n in 0..3 {
        let pending = payment(&format!("ord-stream-{n}"), 0);
        let (approved, event) = transition(&pending, PaymentStatus::Approved, n * 1000 + 1);
        store.insert_pending(&pending, None).await.unwrap();
        store
            .commit_transition(&approved, pending.version(), &event)
            .await
            .unwrap();
        events.push(event);
    }

    // The stream records the table would emit: each event item's INSERT, as
    // stored, in the order written.
    let mut records = Vec::new();
    for (n, event) in events.iter().enumerate() {
        let item = client
            .get_item()
            .table_name(&table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("PAYMENT#{}", event.payment_id)),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("EVENT#{}", event.event_id)),
            )
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        let image = serde_json::to_value(serde_dynamo::Item::from(item)).unwrap();
        let keys = json!({"pk": image["pk"], "sk": image["sk"]});
        records.push(json!({
            "eventID": format!("record-{n}"),
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_795_608_000,
                "Keys": keys,
                "NewImage": image,
                "SequenceNumber": format!("10{n}"),
                "SizeBytes": 600,
                "StreamViewType": "NEW_IMAGE"
            }
        }));
    }
    let trigger: RelayTrigger = serde_json::from_value(json!({ "Records": records })).unwrap();

    let publisher = Arc::new(RefusesOne {
        refused: events[1].event_id.clone(),
        published: Mutex::new(Vec::new()),
    });
    let ports = Ports::new(
        store.clone(),
        Arc::new(SystemClock),
        Arc::new(UlidGenerator::default()),
    )
    .with_publisher(publisher.clone());
    let relay = RelayEvents::new(&ports);

    let RelayAnswer::Stream(answer) = triggers::relay(&relay, trigger).await.unwrap() else {
        panic!("a stream batch gets batchItemFailures")
    };
    let failures: Vec<_> = answer
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(failures, vec!["101".to_owned()], "only the refused record");
    let published = publisher.published.lock().unwrap().clone();
    assert_eq!(
        published,
        vec![events[0].event_id.clone(), events[2].event_id.clone()],
        "each other event once"
    );
    let waiting: HashSet<_> = store
        .pending_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(waiting, HashSet::from([events[1].event_id.clone()]));
}
