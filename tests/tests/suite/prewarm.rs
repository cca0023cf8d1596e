//! The init-time pre-warm (moto): a real `GetItem` of a key no item has,
//! which writes nothing, and whose failure never fails init.

use payments::adapters::dynamodb::DynamoStore;
use payments::compose::aws;
use payments_tests::moto;

#[tokio::test]
async fn opening_the_connection_reads_the_table_and_leaves_it_empty() {
    let client = aws_sdk_dynamodb::Client::new(&moto::sdk_config().await);
    let table = moto::table_from_template(&client).await;
    DynamoStore::new(client.clone(), table.clone())
        .open_connection()
        .await
        .unwrap();
    let items = client.scan().table_name(&table).send().await.unwrap();
    assert_eq!(items.count(), 0, "the pre-warm wrote nothing");

    // It really asks DynamoDB: a table that does not exist is an error.
    let missing = DynamoStore::new(client, moto::unique("missing"));
    assert!(missing.open_connection().await.is_err());
}

#[tokio::test]
async fn a_failed_prewarm_is_logged_and_init_goes_on() {
    let table = moto::unique("missing");
    let env = move |name: &str| match name {
        "PAYMENTS_TABLE" => Some(table.clone()),
        "PREWARM_CONNECTION" => Some("true".to_owned()),
        _ => None,
    };
    assert!(
        aws::payment_queries(&env).await.is_ok(),
        "get-payment starts though its pre-warm failed"
    );
}
