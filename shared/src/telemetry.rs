//! Structured JSON logs and CloudWatch metrics. Inside Lambda, lambda_runtime
//! opens a span per invocation carrying the request id; logging the current
//! span puts it on every line. Metrics go out in CloudWatch Embedded Metric
//! Format: one JSON document on stdout after each invocation, namespace
//! `Payments` (`METRICS_NAMESPACE`), dimension `Function`.

use metrics_cloudwatch_embedded::Collector;
use tracing_subscriber::filter::Targets;

pub use metrics_cloudwatch_embedded::lambda::handler::{run as run_event, run_http};

/// The log filter: `RUST_LOG`, else Lambda's `AWS_LAMBDA_LOG_LEVEL`, else
/// `info`. Levels per target (`info`, `warn,payments=debug`): `Targets`, not
/// `EnvFilter`, whose span and field directives no one here uses and whose
/// field patterns linked a regex engine into every binary.
fn log_filter() -> Targets {
    let parsed = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse::<Targets>().ok())
    };
    parsed("RUST_LOG")
        .or_else(|| parsed("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

pub fn init_json_logs() {
    // try_init: a second call (tests, local stack) keeps the first subscriber.
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time();
    let _ = tracing_subscriber::registry()
        .with(logs.with_filter(log_filter()))
        .try_init();
}

/// The metrics collector a Lambda function flushes after each invocation,
/// with `ColdStart` counted once and the request id on every document.
pub fn init_metrics(
    function: &'static str,
) -> Result<&'static Collector, metrics_cloudwatch_embedded::Error> {
    let namespace = std::env::var("METRICS_NAMESPACE")
        .ok()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| "Payments".to_owned());
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace)
        .with_dimension("Function", function)
        .lambda_cold_start_metric("ColdStart")
        .with_lambda_request_id("RequestId")
        .init()?;
    // Units go to the recorder just installed.
    crate::app::metrics::describe();
    Ok(collector)
}
