//! The sparse `outbox` and `due` indexes spread over `pending#{n}` hash values
//! (moto, table from template.yaml): items land on several shards, and the
//! relay's and sweeper's queries still find every one, oldest first.

use std::collections::BTreeSet;
use std::time::Duration;

use payments::adapters::dynamodb::{DynamoStore, FeedLimits, IndexShards};
use payments::domain::{EventId, EventType, PaymentStatus};
use payments::ports::{
    FeedQuery, Outbox, OutboxEvent, PaymentCreation, PaymentReads, PaymentTransitions,
};
use payments_tests::fixtures::{at, due_payments, payment, transition, T0};
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

/// The feed on DynamoDB: a rare type costs bounded reads (here a budget of
/// 8 items), answered by short pages, even empty ones, with a cursor; paging
/// on still lists every matching event exactly once. An event younger than
/// the settle line is left for a later read.
#[tokio::test]
async fn the_feed_reads_within_its_budget_and_waits_for_the_settle_line() {
    let (store, _, _) = sharded_store(4).await;
    let store = store.with_feed_limits(FeedLimits {
        settle: Duration::from_secs(120),
        read_budget: 8,
    });
    let mut rare = Vec::new();
    for i in 0..24_i64 {
        let p = payment(&format!("ord-budget-{i}"), 0);
        store.insert_pending(&p, None).await.unwrap();
        let to = if i % 8 == 3 {
            PaymentStatus::Declined
        } else {
            PaymentStatus::Approved
        };
        let (next, mut event) = transition(&p, to, 1);
        // One a minute.
        event.event_id = EventId::from_ulid(ulid::Ulid::from_parts(
            (T0 + i * 60_000) as u64,
            i as u128 + 1,
        ));
        store
            .commit_transition(&next, p.version(), &event)
            .await
            .unwrap();
        if to == PaymentStatus::Declined {
            rare.push(event.event_id.clone());
        }
    }
    let read = |after: EventId, until: i64| FeedQuery {
        after,
        until: at(until),
        event_type: Some(EventType::Declined),
        limit: 2,
    };
    let (mut seen, mut short_pages) = (Vec::new(), 0);
    let mut after = EventId::first_at(T0 as u64 - 1);
    loop {
        let page = store.events_after(&read(after, 3_600_000)).await.unwrap();
        seen.extend(page.events.iter().map(|e| e.event_id.clone()));
        match page.next {
            Some(next) => {
                short_pages += usize::from(page.events.len() < 2);
                after = next;
            }
            None => break,
        }
    }
    assert_eq!(seen, rare, "each rare event once, oldest first");
    assert!(short_pages > 0, "the budget never ended a page early");

    // The last event was made at 23 minutes: 60 s later it has not settled.
    let last = EventId::last_at(T0 as u64 + 20 * 60_000);
    let all = |until| FeedQuery {
        event_type: None,
        limit: 10,
        ..read(last.clone(), until)
    };
    let early = store.events_after(&all(24 * 60_000)).await.unwrap();
    assert_eq!(early.events.len(), 2, "minutes 21 and 22 only");
    let settled = store.events_after(&all(26 * 60_000)).await.unwrap();
    assert_eq!(settled.events.len(), 3, "minute 23 too, once settled");
}
