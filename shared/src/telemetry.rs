//! Structured JSON logs. Inside Lambda, lambda_runtime opens a span per invocation
//! carrying the request id; logging the current span puts it on every line.

use tracing_subscriber::EnvFilter;

pub fn init_json_logs() {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // try_init: a second call (tests, local stack) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .try_init();
}
