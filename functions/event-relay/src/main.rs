//! event-relay: every minute and on the table's stream, publish whatever the
//! outbox still holds (DESIGN 7). The trigger's payload does not matter: each
//! run drains the outbox index, so a schedule tick and a stream batch do the same.

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use payments::adapters::dynamodb::DynamoStore;
use payments::adapters::sns::SnsPublisher;
use payments::app::RelayEvents;
use payments::config::{table_from_env, topic_from_env, ProcessEnv};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    let table = table_from_env(&ProcessEnv)?;
    let topic = topic_from_env(&ProcessEnv)?;
    let aws = aws_config::load_from_env().await;
    let relay = Arc::new(RelayEvents::new(
        Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table)),
        Arc::new(SnsPublisher::new(aws_sdk_sns::Client::new(&aws), topic)),
    ));
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let relay = relay.clone();
        async move {
            let report = relay.execute().await?;
            if report.failed > 0 {
                // Failing the invocation makes the stream retry the batch and,
                // past its retries, lands it on the on-failure destination.
                return Err(Error::from(format!(
                    "{} events could not be published; they stay in the outbox",
                    report.failed
                )));
            }
            Ok::<_, Error>(json!({"published": report.published, "pages": report.pages}))
        }
    }))
    .await
}
