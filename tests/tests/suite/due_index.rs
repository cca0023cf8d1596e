//! The sweeper's `due` index on DynamoDB (moto, table from template.yaml):
//! an item the store cannot read never holds up the others.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use payments::adapters::dynamodb::DynamoStore;
use payments::adapters::memory::MemoryPublisher;
use payments::adapters::system::SystemClock;
use payments::app::SweepOverduePayments;
use payments::compose;
use payments::domain::{PaymentStatus, Timestamp};
use payments::ports::Clock;
use payments::ports::{PaymentCreation, PaymentReads};
use payments_tests::fake_provider::FakeProvider;
use payments_tests::fixtures::{at, payment};
use payments_tests::moto;

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

#[tokio::test]
async fn an_unreadable_due_item_is_set_aside_for_an_hour_and_the_others_are_swept() {
    let client = aws_sdk_dynamodb::Client::new(&moto::sdk_config().await);
    let table = moto::table_from_template(&client).await;
    let store = Arc::new(DynamoStore::new(client.clone(), table.clone()));
    // Long past its expiry, with no Mercado Pago order: the sweeper expires it.
    let readable = payment("ord-readable", 0);
    store.insert_pending(&readable, None).await.unwrap();
    // Due before it, but not a payment this code can rebuild.
    let corrupt = "PAYMENT#pay_corrupt";
    client
        .put_item()
        .table_name(&table)
        .item("pk", s(corrupt))
        .item("sk", s("PAYMENT"))
        .item("status", s("no-such-status"))
        .item("due", s("pending#0"))
        .item("due_at", s(&at(-60_000).to_rfc3339()))
        .send()
        .await
        .unwrap();

    let ports = compose::store_ports(store.clone())
        .with_provider(Arc::new(FakeProvider::default()))
        .with_publisher(Arc::new(MemoryPublisher::new()));
    let started = SystemClock.now();
    let report = SweepOverduePayments::new(&ports).execute().await.unwrap();

    assert_eq!((report.changed, report.failed), (1, 1), "{report:?}");
    let swept = store.get(readable.id()).await.unwrap().unwrap();
    assert_eq!(swept.status(), PaymentStatus::Expired);
    let item = client
        .get_item()
        .table_name(&table)
        .key("pk", s(corrupt))
        .key("sk", s("PAYMENT"))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let due_at = Timestamp::parse(item["due_at"].as_s().unwrap()).unwrap();
    assert!(
        due_at >= started.plus(std::time::Duration::from_secs(59 * 60)),
        "set aside for an hour: {due_at:?}"
    );
}
