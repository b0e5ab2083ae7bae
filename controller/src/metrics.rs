//! Prometheus metrics of the controller. Labels are results and reasons,
//! never names of Secrets or anything from their values.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The controller's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    /// Reconciles by `result`: `ok`, `unseal_failed`, `invalid` (reserved metadata, a
    /// template that cannot be built), `not_managed`, `error`.
    pub reconciles: Family<Vec<(String, String)>, Counter>,
    /// Values that failed to unseal, by `reason` (e.g. `NoMatchingKey`, `BindingMismatch`).
    pub unseal_errors: Family<Vec<(String, String)>, Counter>,
    /// Reconcile duration in seconds.
    pub reconcile_duration: Histogram,
    /// Active keys.
    pub keys: Gauge,
    /// Unix time of the newest key.
    pub last_rotation: Gauge,
    /// Owned Secrets put back after an edit or deletion.
    pub drift_corrections: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sealgate");
        let m = Metrics {
            registry: Registry::default(),
            reconciles: Family::default(),
            unseal_errors: Family::default(),
            reconcile_duration: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            keys: Gauge::default(),
            last_rotation: Gauge::default(),
            drift_corrections: Counter::default(),
        };
        registry.register(
            "reconciles",
            "SealedSecret reconciles by result",
            m.reconciles.clone(),
        );
        registry.register(
            "unseal_errors",
            "Sealed values that failed to unseal, by reason",
            m.unseal_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time to reconcile one SealedSecret",
            m.reconcile_duration.clone(),
        );
        registry.register("keys", "Active sealing keys", m.keys.clone());
        registry.register(
            "last_rotation_timestamp_seconds",
            "Unix time the newest sealing key was created",
            m.last_rotation.clone(),
        );
        registry.register(
            "drift_corrections",
            "Owned Secrets restored after an edit or deletion",
            m.drift_corrections.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// Counts one reconcile with `result`.
    pub fn reconciled(&self, result: &str) {
        self.reconciles
            .get_or_create(&vec![("result".to_owned(), result.to_owned())])
            .inc();
    }

    /// Counts one value that failed to unseal.
    pub fn unseal_failed(&self, reason: &str) {
        self.unseal_errors
            .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric() {
        let m = Metrics::default();
        m.reconciled("ok");
        m.unseal_failed("NoMatchingKey");
        m.drift_corrections.inc();
        m.keys.set(2);
        m.reconcile_duration.observe(0.01);
        let text = m.render();
        for needle in [
            "sealgate_reconciles_total{result=\"ok\"} 1",
            "sealgate_unseal_errors_total{reason=\"NoMatchingKey\"} 1",
            "sealgate_drift_corrections_total 1",
            "sealgate_keys 2",
            "sealgate_reconcile_duration_seconds_count 1",
            "sealgate_last_rotation_timestamp_seconds 0",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }
}
