//! create-payment: `POST /payments` behind API Gateway (DESIGN 3).

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{service_fn, Error, Request};
use payments::adapters::dynamodb::DynamoStore;
use payments::adapters::mercadopago::MercadoPagoClient;
use payments::adapters::system::{SystemClock, UlidGenerator};
use payments::app::CreatePayment;
use payments::config::{table_from_env, ProcessEnv, ProviderSettings};
use payments::http::handle_create_payment;

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    // Cold start: configuration and clients are built once, reused by every event.
    let table = table_from_env(&ProcessEnv)?;
    let settings = ProviderSettings::from_env(&ProcessEnv)?;
    let aws = aws_config::load_from_env().await;
    let app = Arc::new(CreatePayment::new(
        Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table)),
        Arc::new(MercadoPagoClient::new(settings.mercadopago)?),
        Arc::new(SystemClock),
        Arc::new(UlidGenerator::default()),
        settings.payment_expiry,
    ));
    lambda_http::run(service_fn(move |request: Request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(handle_create_payment(&app, request).await) }
    }))
    .await
}
