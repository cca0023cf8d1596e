//! The service's CloudWatch metrics, by name (docs/runbook.md says what each
//! means). Recorded through the `metrics` facade: a function's EMF collector
//! turns them into one document per invocation; elsewhere they cost nothing.

use crate::domain::PaymentStatus;

pub fn count(name: &'static str) {
    metrics::counter!(name).increment(1);
}

pub fn count_with(name: &'static str, dimension: &'static str, value: &'static str) {
    metrics::counter!(name, dimension => value).increment(1);
}

/// One payment's arrival in `status`.
pub(crate) fn reached(status: PaymentStatus) {
    count(match status {
        PaymentStatus::Pending => "PaymentCreated",
        PaymentStatus::Approved => "PaymentApproved",
        PaymentStatus::Declined => "PaymentDeclined",
        PaymentStatus::Expired => "PaymentExpired",
        PaymentStatus::Canceled => "PaymentCanceled",
        PaymentStatus::Refunded => "PaymentRefunded",
    });
}

/// Milliseconds a call to the payment provider took.
pub fn provider_latency(milliseconds: f64) {
    metrics::histogram!("ProviderLatency").record(milliseconds);
}

/// The outbox after a relay run: how many events wait, and the oldest's age.
pub(crate) fn outbox(backlog: usize, oldest_age_seconds: f64) {
    metrics::gauge!("OutboxBacklog").set(backlog as f64);
    metrics::gauge!("OutboxOldestAge").set(oldest_age_seconds);
}

/// Every counter the service records (docs/runbook.md's catalogue says what
/// moves each; a test holds the code's calls to this list).
pub const COUNTERS: [&str; 18] = [
    "PaymentCreated",
    "PaymentApproved",
    "PaymentDeclined",
    "PaymentExpired",
    "PaymentCanceled",
    "PaymentRefunded",
    "RefundFailed",
    "LatePaymentRefunded",
    "WebhookRejected",
    "ProviderMismatch",
    "ProviderError",
    "EventPublished",
    "EventPublishFailed",
    "SweeperNeedsReview",
    "LatePaymentRefundFailed",
    "SweeperUnreadableItem",
    "WebhookUnsigned",
    "ProviderUnknownStatus",
];

/// The gauges and the histogram.
pub const MEASURES: [&str; 3] = ["ProviderLatency", "OutboxBacklog", "OutboxOldestAge"];

/// Units CloudWatch shows.
pub fn describe() {
    for name in COUNTERS {
        metrics::describe_counter!(name, metrics::Unit::Count, name);
    }
    metrics::describe_histogram!(
        "ProviderLatency",
        metrics::Unit::Milliseconds,
        "time of one call to Mercado Pago"
    );
    metrics::describe_gauge!(
        "OutboxBacklog",
        metrics::Unit::Count,
        "events not yet published"
    );
    metrics::describe_gauge!(
        "OutboxOldestAge",
        metrics::Unit::Seconds,
        "age of the oldest event not yet published"
    );
}
