//! event-relay: every minute and on the table's stream, publish whatever the
//! outbox still holds. The trigger's payload does not matter: each run drains
//! the outbox index, so a schedule tick and a stream batch do the same.

use lambda_runtime::{Error, LambdaEvent};
use payments::compose::aws;
use payments::config::ProcessEnv;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    let metrics = payments::telemetry::init_metrics("event-relay")?;
    let relay = &aws::relay_events(&ProcessEnv).await?;
    payments::telemetry::run_event(metrics, move |_event: LambdaEvent<Value>| async move {
        // Events left behind fail the invocation, so the stream retries the batch.
        Ok::<_, Error>(relay.execute().await?.require_all_published()?)
    })
    .await
}
