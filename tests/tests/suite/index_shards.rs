//! The sparse `outbox` and `due` indexes spread over `pending#{n}` hash values
//! (moto, table from template.yaml): items land on several shards, and the
//! relay's and sweeper's queries still find every one, oldest first.

use std::collections::BTreeSet;

use payments::adapters::dynamodb::{DynamoStore, IndexShards};
use payments::domain::PaymentStatus;
use payments::ports::{Outbox, OutboxEvent, PaymentCreation, PaymentTransitions};
use payments_tests::fixtures::{at, due_payments, payment, transition};
use payments_tests::moto;

async fn sharded_store(shards: u16) -> (DynamoStore, aws_sdk_dynamodb::Client, String) {
    let client = aws_sdk_dynamodb::Client::new(&moto::sdk_config().await);
    let table = moto::table_from_template(&client).await;
    let store = DynamoStore::new(client.clone(), table.clone())
        .with_index_shards(IndexShards::new(shards).unwrap());
    (store, client, table)
}

/// The hash values an index attribute holds across the table.
async fn shard_values(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    attribute: &str,
) -> BTreeSet<String> {
    let items = client.scan().table_name(table).send().await.unwrap();
    items
        .items()
        .iter()
        .filter_map(|item| item.get(attribute)?.as_s().ok().cloned())
        .collect()
}

#[tokio::test]
async fn due_payments_on_every_shard_are_found_longest_overdue_first() {
    let (store, client, table) = sharded_store(4).await;
    let mut payments = Vec::new();
    // Created out of order, so shards and expiry order do not line up.
    for n in 0..16_i64 {
        let p = payment(&format!("ord-shard-{n}"), (n * 7 % 16) * 1000);
        store.insert_pending(&p, None).await.unwrap();
        payments.push(p);
    }
    let values = shard_values(&client, &table, "due").await;
    assert!(values.len() >= 2, "16 payments on one shard: {values:?}");
    assert!(
        values
            .iter()
            .all(|v| IndexShards::new(4).unwrap().all().any(|s| &s == v)),
        "{values:?}"
    );

    payments.sort_by_key(|p| p.expires_at());
    let later = at(10_000_000);
    assert_eq!(due_payments(&store, later, 100).await, payments);
    assert_eq!(due_payments(&store, later, 5).await, payments[..5].to_vec());
}

#[tokio::test]
async fn pending_events_on_every_shard_are_relayed_oldest_first() {
    let (store, client, table) = sharded_store(8).await;
    let mut events: Vec<OutboxEvent> = Vec::new();
    for n in 0..16_i64 {
        let p = payment(&format!("ord-outbox-{n}"), 0);
        store.insert_pending(&p, None).await.unwrap();
        let (approved, event) = transition(&p, PaymentStatus::Approved, (n * 5 % 16) * 1000 + 1);
        store
            .commit_transition(&approved, p.version(), &event)
            .await
            .unwrap();
        events.push(event);
    }
    let values = shard_values(&client, &table, "outbox").await;
    assert!(values.len() >= 2, "16 events on one shard: {values:?}");

    events.sort_by_key(|e| e.created_at);
    assert_eq!(store.pending_events(100).await.unwrap(), events);
    assert_eq!(store.pending_events(3).await.unwrap(), events[..3].to_vec());
}
