//! payment-webhook: Mercado Pago's notifications, on a function URL.

use std::convert::Infallible;

use lambda_http::{service_fn, Error, Request};
use payments::compose::aws;
use payments::config::ProcessEnv;
use payments::http::handle_webhook;

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    // Cold start: configuration, clients and the use case, built once and
    // borrowed by every event.
    let webhook = &aws::mercadopago_webhook(&ProcessEnv).await?;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(handle_webhook(webhook, request).await)
    }))
    .await
}
