//! Structured JSON logs and CloudWatch metrics. Inside Lambda, lambda_runtime
//! opens a span per invocation carrying the request id; logging the current
//! span puts it on every line. Metrics go out in CloudWatch Embedded Metric
//! Format: one JSON document on stdout after each invocation, namespace
//! `Payments` (`METRICS_NAMESPACE`), dimension `Function`.

use metrics_cloudwatch_embedded::Collector;
use tracing_subscriber::EnvFilter;

pub use metrics_cloudwatch_embedded::lambda::handler::{run as run_event, run_http};

/// The log filter: `RUST_LOG`, else Lambda's `AWS_LAMBDA_LOG_LEVEL`, else `info`.
fn log_filter() -> EnvFilter {
    EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .map(|level| EnvFilter::new(level.to_ascii_lowercase()))
        })
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

pub fn init_json_logs() {
    // try_init: a second call (tests, local stack) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(log_filter())
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
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
