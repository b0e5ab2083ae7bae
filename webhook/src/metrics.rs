//! Prometheus metrics of the webhook: requests by kind, operation and verdict,
//! and a latency histogram. No object names, no values.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    kind: &'static str,
    operation: &'static str,
    verdict: &'static str,
}

/// The webhook's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<Request, Counter>,
    latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sealgate_webhook");
        let requests = Family::<Request, Counter>::default();
        let latency = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "requests",
            "Admission requests by kind, operation and verdict",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer an admission request",
            latency.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
        }
    }
}

impl Metrics {
    /// Counts one answered request. Kinds the webhook does not check count as
    /// `other`, so a misrouted webhook cannot grow the label set without bound.
    pub fn observe(&self, kind: &str, operation: &'static str, verdict: &'static str, seconds: f64) {
        let labels = Request {
            kind: label_kind(kind),
            operation,
            verdict,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency.observe(seconds);
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

/// `kind` as a label value: one of the kinds the webhook checks, `""` when the
/// request had none, `other` for the rest.
pub fn label_kind(kind: &str) -> &'static str {
    const CHECKED: [&str; 8] = [
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "CronJob",
        "Pod",
        "ReplicationController",
    ];
    match kind {
        "" => "",
        _ => CHECKED.into_iter().find(|k| *k == kind).unwrap_or("other"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_outside_the_checked_ones_count_as_other() {
        let m = Metrics::default();
        m.observe("Deployment", "CREATE", "allowed", 0.001);
        m.observe("ConfigMap", "CREATE", "skipped", 0.001);
        m.observe("Widget", "UPDATE", "skipped", 0.001);
        m.observe("", "", "invalid", 0.0);
        let text = m.render();
        for line in [
            r#"sealgate_webhook_requests_total{kind="Deployment",operation="CREATE",verdict="allowed"} 1"#,
            r#"sealgate_webhook_requests_total{kind="other",operation="CREATE",verdict="skipped"} 1"#,
            r#"sealgate_webhook_requests_total{kind="other",operation="UPDATE",verdict="skipped"} 1"#,
            r#"sealgate_webhook_requests_total{kind="",operation="",verdict="invalid"} 1"#,
            "sealgate_webhook_request_duration_seconds_count 4",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        assert!(!text.contains("ConfigMap") && !text.contains("Widget"), "{text}");
    }
}
