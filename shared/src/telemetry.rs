//! Structured JSON logs and CloudWatch metrics. Inside Lambda, lambda_runtime
//! opens a span per invocation carrying the request id; logging the current
//! span puts it on every line. Metrics go out in CloudWatch Embedded Metric
//! Format: one JSON document on stdout after each invocation, namespace
//! `Payments` (`METRICS_NAMESPACE`), dimension `Function`.

use metrics_cloudwatch_embedded::Collector;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;

pub use metrics_cloudwatch_embedded::lambda::handler::{run as run_event, run_http};

/// The log filter: `RUST_LOG`, else Lambda's `AWS_LAMBDA_LOG_LEVEL`, else
/// `info`. Levels per target (`info`, `warn,payments=debug`): `Targets`, not
/// `EnvFilter`, whose span and field directives no one here uses and whose
/// field patterns linked a regex engine into every binary.
fn log_filter() -> Targets {
    let from = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|value| parse_log_filter(&value))
    };
    from("RUST_LOG")
        .or_else(|| from("AWS_LAMBDA_LOG_LEVEL"))
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// `level` or `target=level`, comma-separated, spaces around each allowed;
/// anything else is no filter at all, so the caller falls back to `info`.
/// (Taken as is, `Targets` reads a stray word such as `info;debug` as a
/// target enabled at trace, which silences every other target.)
fn parse_log_filter(value: &str) -> Option<Targets> {
    let mut filter = Targets::new();
    // `LevelFilter` reads an empty string as a level of its own.
    let level = |text: &str| match text.trim() {
        "" => None,
        text => text.parse::<LevelFilter>().ok(),
    };
    for directive in value.split(',').map(str::trim) {
        filter = match directive.split_once('=') {
            None => filter.with_default(level(directive)?),
            Some((target, level_text)) => {
                let target = target.trim();
                let is_path = !target.is_empty()
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
                if !is_path {
                    return None;
                }
                filter.with_target(target, level(level_text)?)
            }
        };
    }
    Some(filter)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn enables(filter: &Option<Targets>, target: &str, level: Level) -> bool {
        filter
            .as_ref()
            .is_some_and(|f| f.would_enable(target, &level))
    }

    #[test]
    fn a_level_or_levels_per_target_are_the_filter() {
        let info = parse_log_filter(" INFO ");
        assert!(enables(&info, "payments::app", Level::INFO));
        assert!(!enables(&info, "payments::app", Level::DEBUG));
        let mixed = parse_log_filter("warn, payments::app = debug");
        assert!(enables(&mixed, "payments::app::refund", Level::DEBUG));
        assert!(!enables(&mixed, "aws_smithy_runtime", Level::INFO));
        assert!(enables(&mixed, "aws_smithy_runtime", Level::WARN));
    }

    #[test]
    fn anything_else_is_no_filter_so_info_applies() {
        for value in [
            "info;debug",
            "verbose",
            "",
            "payments=",
            "=debug",
            "pay ments=debug",
            "info,",
        ] {
            assert!(parse_log_filter(value).is_none(), "{value:?} was taken");
        }
    }
}
