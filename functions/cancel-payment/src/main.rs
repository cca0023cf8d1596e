//! cancel-payment: `POST /payments/{payment_id}/cancel` behind API Gateway.

use lambda_http::{Error, Request};
use payments::compose::aws;
use payments::config::ProcessEnv;
use payments::http::handle_cancel_payment;

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    let metrics = payments::telemetry::init_metrics("cancel-payment")?;
    // Cold start: configuration, clients and the use case, built once and
    // borrowed by every event.
    let app = &aws::cancel_payment(&ProcessEnv).await?;
    // Each invocation's metrics go out as one EMF document when it ends.
    payments::telemetry::run_http(metrics, move |request: Request| async move {
        Ok::<_, Error>(handle_cancel_payment(app, request).await)
    })
    .await
}
