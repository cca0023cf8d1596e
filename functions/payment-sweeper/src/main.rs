//! payment-sweeper: every minute, settle pending payments past `expires_at`
//! whose webhook never came (DESIGN 8).

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use payments::adapters::dynamodb::DynamoStore;
use payments::adapters::mercadopago::MercadoPagoClient;
use payments::adapters::sns::SnsPublisher;
use payments::adapters::system::{SystemClock, UlidGenerator};
use payments::app::SweepOverduePayments;
use payments::config::{table_from_env, topic_from_env, ProcessEnv, ProviderSettings};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    let table = table_from_env(&ProcessEnv)?;
    let topic = topic_from_env(&ProcessEnv)?;
    let settings = ProviderSettings::from_env(&ProcessEnv)?;
    let aws = aws_config::load_from_env().await;
    let sweeper = Arc::new(SweepOverduePayments::new(
        Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table)),
        Arc::new(MercadoPagoClient::new(settings.mercadopago)?),
        Arc::new(SnsPublisher::new(aws_sdk_sns::Client::new(&aws), topic)),
        Arc::new(SystemClock),
        Arc::new(UlidGenerator::default()),
    ));
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let sweeper = sweeper.clone();
        async move {
            let report = sweeper.execute().await?;
            Ok::<_, Error>(json!({
                "examined": report.examined,
                "changed": report.changed,
                "failed": report.failed,
            }))
        }
    }))
    .await
}
