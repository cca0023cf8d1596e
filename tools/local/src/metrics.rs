//! The metrics the service records, kept in memory by the local stack and
//! served at `GET /local/metrics`: on Lambda the same `metrics` calls become
//! CloudWatch EMF documents, here there is no CloudWatch to send them to.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use serde_json::{json, Value};

/// Counters, gauges and histogram samples by name (`Name{Label=value}`).
#[derive(Clone, Default)]
pub struct KeptMetrics {
    kept: Arc<Mutex<Kept>>,
}

#[derive(Default)]
struct Kept {
    counters: BTreeMap<String, Arc<AtomicU64>>,
    // f64 bits, as `metrics` stores gauges in an AtomicU64.
    gauges: BTreeMap<String, Arc<AtomicU64>>,
    histograms: BTreeMap<String, Arc<Samples>>,
}

#[derive(Default)]
struct Samples(Mutex<Vec<f64>>);

impl HistogramFn for Samples {
    fn record(&self, value: f64) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(value);
    }
}

impl std::fmt::Debug for KeptMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeptMetrics")
    }
}

fn name_of(key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|label| format!("{}={}", label.key(), label.value()))
        .collect();
    if labels.is_empty() {
        key.name().to_owned()
    } else {
        format!("{}{{{}}}", key.name(), labels.join(","))
    }
}

impl KeptMetrics {
    /// Makes these the process's metrics; `None` if another recorder was
    /// installed first.
    pub fn install() -> Option<Self> {
        let kept = Self::default();
        metrics::set_global_recorder(kept.clone()).ok()?;
        Some(kept)
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        // Every write leaves the maps whole, so a panicked writer's data is sound.
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What has been recorded so far, as JSON: counters and gauges by name,
    /// histograms as count / min / max / sum of their samples.
    pub fn snapshot(&self) -> Value {
        let kept = self.lock();
        let counters: BTreeMap<&String, u64> = kept
            .counters
            .iter()
            .map(|(name, value)| (name, value.load(Ordering::Relaxed)))
            .collect();
        let gauges: BTreeMap<&String, f64> = kept
            .gauges
            .iter()
            .map(|(name, bits)| (name, f64::from_bits(bits.load(Ordering::Relaxed))))
            .collect();
        let histograms: BTreeMap<&String, Value> = kept
            .histograms
            .iter()
            .map(|(name, samples)| {
                let samples = samples
                    .0
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let summary = json!({
                    "count": samples.len(),
                    "min": samples.iter().copied().reduce(f64::min),
                    "max": samples.iter().copied().reduce(f64::max),
                    "sum": samples.iter().sum::<f64>(),
                });
                (name, summary)
            })
            .collect();
        json!({ "counters": counters, "gauges": gauges, "histograms": histograms })
    }
}

impl Recorder for KeptMetrics {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let cell = self
            .lock()
            .counters
            .entry(name_of(key))
            .or_default()
            .clone();
        Counter::from_arc(cell)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let cell = self.lock().gauges.entry(name_of(key)).or_default().clone();
        Gauge::from_arc(cell)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let cell = self
            .lock()
            .histograms
            .entry(name_of(key))
            .or_default()
            .clone();
        Histogram::from_arc(cell)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn counters_gauges_and_histograms_are_kept_by_name_and_label() {
        let kept = KeptMetrics::default();
        metrics::with_local_recorder(&kept, || {
            metrics::counter!("PaymentCreated").increment(1);
            metrics::counter!("PaymentCreated").increment(2);
            metrics::counter!("WebhookRejected", "Reason" => "stale").increment(1);
            metrics::gauge!("OutboxBacklog").set(4.0);
            metrics::histogram!("ProviderLatency").record(12.0);
            metrics::histogram!("ProviderLatency").record(30.0);
        });
        let snapshot = kept.snapshot();
        assert_eq!(snapshot["counters"]["PaymentCreated"], 3);
        assert_eq!(snapshot["counters"]["WebhookRejected{Reason=stale}"], 1);
        assert_eq!(snapshot["gauges"]["OutboxBacklog"], 4.0);
        assert_eq!(
            snapshot["histograms"]["ProviderLatency"],
            json!({"count": 2, "min": 12.0, "max": 30.0, "sum": 42.0})
        );
    }
}
