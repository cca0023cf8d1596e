//! payment-webhook: Mercado Pago's notifications, on a function URL.

use lambda_http::{Error, Request};
use payments::compose::aws;
use payments::config::ProcessEnv;
use payments::http::handle_webhook;

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    let metrics = payments::telemetry::init_metrics("payment-webhook")?;
    // Cold start: configuration, clients and the use case, built once and
    // borrowed by every event.
    let webhook = &aws::mercadopago_webhook(&ProcessEnv).await?;
    // Each invocation's metrics go out as one EMF document when it ends.
    payments::telemetry::run_http(metrics, move |request: Request| async move {
        Ok::<_, Error>(handle_webhook(webhook, request).await)
    })
    .await
}
