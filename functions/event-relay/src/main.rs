//! event-relay: on the table's stream, publish the events each batch carries
//! and report the records that failed; every minute, drain every shard of the
//! outbox index (what a failed batch or a lost record left behind).

use lambda_runtime::{Error, LambdaEvent};
use payments::compose::aws;
use payments::config::ProcessEnv;
use payments::triggers::{self, RelayTrigger};

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    let metrics = payments::telemetry::init_metrics("event-relay")?;
    let relay = &aws::relay_events(&ProcessEnv).await?;
    payments::telemetry::run_event(
        metrics,
        move |event: LambdaEvent<RelayTrigger>| async move {
            triggers::relay(relay, event.payload).await
        },
    )
    .await
}
