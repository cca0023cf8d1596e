//! payment-webhook: Mercado Pago notifications on a function URL (DESIGN 5).

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{service_fn, Error, Request};
use payments::adapters::dynamodb::DynamoStore;
use payments::adapters::mercadopago::MercadoPagoClient;
use payments::adapters::sns::SnsPublisher;
use payments::adapters::system::{SystemClock, UlidGenerator};
use payments::app::ApplyNotification;
use payments::config::{
    signature_policy_from_env, table_from_env, topic_from_env, ProcessEnv, ProviderSettings,
};
use payments::http::handle_webhook;

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    let table = table_from_env(&ProcessEnv)?;
    let topic = topic_from_env(&ProcessEnv)?;
    let settings = ProviderSettings::from_env(&ProcessEnv)?;
    let signature = signature_policy_from_env(&ProcessEnv)?;
    let aws = aws_config::load_from_env().await;
    let app = Arc::new(ApplyNotification::new(
        Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table)),
        Arc::new(MercadoPagoClient::new(settings.mercadopago)?),
        Arc::new(SnsPublisher::new(aws_sdk_sns::Client::new(&aws), topic)),
        Arc::new(SystemClock),
        Arc::new(UlidGenerator::default()),
        signature,
    ));
    lambda_http::run(service_fn(move |request: Request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(handle_webhook(&app, request).await) }
    }))
    .await
}
