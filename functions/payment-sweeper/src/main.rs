//! payment-sweeper: every minute, settle pending payments past `expires_at`
//! whose webhook never came.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use payments::compose::aws;
use payments::config::ProcessEnv;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    let sweeper = &aws::sweep_overdue_payments(&ProcessEnv).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Pages through what is due until shortly before this invocation's deadline.
        Ok::<_, Error>(sweeper.execute_until(event.context.deadline).await?)
    }))
    .await
}
