//! Real AWS APIs on moto (started by `make test` on a loopback port): clients,
//! and tables created from the definition in template.yaml.

use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use crate::template::{self, TableDefinition};

/// moto's endpoint; refuses anything but loopback so a test can never reach AWS.
pub fn endpoint() -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect(
        "AWS_ENDPOINT_URL is not set: moto-backed tests run under `make test`, which starts moto",
    );
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "AWS_ENDPOINT_URL must point at a loopback moto server, got {endpoint}"
    );
    endpoint
}

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::from_env()
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Creates a fresh table shaped exactly as template.yaml declares it.
pub async fn table_from_template(client: &aws_sdk_dynamodb::Client) -> String {
    let definition = template::payments_table();
    let name = unique("payments");
    create_table(client, &name, &definition).await;
    name
}

fn key_schema(keys: &[(String, String)]) -> Vec<KeySchemaElement> {
    keys.iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()
                .unwrap()
        })
        .collect()
}

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str, def: &TableDefinition) {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&def.key_schema)));
    for (attribute, kind) in &def.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()
                .unwrap(),
        );
    }
    for index in &def.indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema(&index.key_schema)))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection.as_str()))
                        .build(),
                )
                .build()
                .unwrap(),
        );
    }
    request.send().await.expect("moto creates the table");
}

/// The stream batch the table would hand event-relay for these events: each
/// event item's INSERT, its new image read back from the table.
pub async fn stream_batch(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    events: &[payments::ports::OutboxEvent],
) -> payments::triggers::RelayTrigger {
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut records = Vec::new();
    for (n, event) in events.iter().enumerate() {
        let item = client
            .get_item()
            .table_name(table)
            .key(
                "pk",
                AttributeValue::S(format!("PAYMENT#{}", event.payment_id)),
            )
            .key("sk", AttributeValue::S(format!("EVENT#{}", event.event_id)))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        let image = serde_json::to_value(serde_dynamo::Item::from(item)).unwrap();
        let keys = serde_json::json!({"pk": image["pk"], "sk": image["sk"]});
        records.push(serde_json::json!({
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
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}
