//! refund-payment: `POST /payments/{payment_id}/refunds` and
//! `POST /events/{event_id}/redeliver` behind API Gateway.

use lambda_http::{Error, Request};
use payments::compose::aws;
use payments::config::ProcessEnv;
use payments::http::handle_refund_function;

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    let metrics = payments::telemetry::init_metrics("refund-payment")?;
    // Cold start: configuration, clients and the use case, built once and
    // borrowed by every event.
    let (refunds, redeliver) = &aws::refund_function(&ProcessEnv).await?;
    // Each invocation's metrics go out as one EMF document when it ends.
    payments::telemetry::run_http(metrics, move |request: Request| async move {
        Ok::<_, Error>(handle_refund_function(refunds, redeliver, request).await)
    })
    .await
}
