//! payment-sweeper: every minute, settle pending payments past `expires_at`
//! whose webhook never came.

use lambda_runtime::{Error, LambdaEvent};
use payments::app::correlation;
use payments::compose::aws;
use payments::config::ProcessEnv;
use payments::domain::CorrelationId;
use payments::triggers::SweepTrigger;

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    let metrics = payments::telemetry::init_metrics("payment-sweeper")?;
    let sweeper = &aws::sweep_overdue_payments(&ProcessEnv).await?;
    payments::telemetry::run_event(
        metrics,
        move |event: LambdaEvent<SweepTrigger>| async move {
            // Pages through what is due until shortly before this invocation's
            // deadline; what it changes carries this run's request id.
            let run = CorrelationId::parse(&event.context.request_id).ok();
            let swept = correlation::within(run, sweeper.execute_until(event.context.deadline));
            Ok::<_, Error>(swept.await?)
        },
    )
    .await
}
