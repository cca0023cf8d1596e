//! get-payment: `GET /payments/{payment_id}` and `GET /payments?order_id=` (DESIGN 3).

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{service_fn, Error, Request};
use payments::adapters::dynamodb::DynamoStore;
use payments::app::PaymentQueries;
use payments::config::{table_from_env, ProcessEnv};
use payments::http::handle_get_payment;

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    let table = table_from_env(&ProcessEnv)?;
    let aws = aws_config::load_from_env().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let app = Arc::new(PaymentQueries::new(Arc::new(store)));
    lambda_http::run(service_fn(move |request: Request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(handle_get_payment(&app, request).await) }
    }))
    .await
}
