//! refund-payment: `POST /payments/{payment_id}/refunds` behind API Gateway.

use std::convert::Infallible;

use lambda_http::{service_fn, Error, Request};
use payments::compose::aws;
use payments::config::ProcessEnv;
use payments::http::handle_refund_payment;

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    // Cold start: configuration, clients and the use case, built once and
    // borrowed by every event.
    let app = &aws::refund_payment(&ProcessEnv).await?;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(handle_refund_payment(app, request).await)
    }))
    .await
}
