//! Prometheus metrics of the webhook: requests by kind, operation and verdict,
//! and a latency histogram. No object names, no values.

use std::sync::OnceLock;

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

/// Label values a request can have, in the order [`Metrics::known`] is indexed by.
const KINDS: [&str; 10] = [
    "",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
    "ReplicationController",
    "other",
];
const OPERATIONS: [&str; 6] = ["", "CREATE", "UPDATE", "DELETE", "CONNECT", "UNKNOWN"];
const VERDICTS: [&str; 9] = [
    "allowed",
    "warned",
    "denied",
    "skipped",
    "unreadable",
    "invalid",
    "not_ready",
    "timeout",
    "body_timeout",
];

/// The webhook's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<Request, Counter>,
    /// The family's counters by label index once used: a request then increments
    /// its counter without locking and hashing the family.
    known: Box<[OnceLock<Counter>]>,
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
            known: (0..KINDS.len() * OPERATIONS.len() * VERDICTS.len())
                .map(|_| OnceLock::new())
                .collect(),
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
        let position = |values: &[&str], value: &str| values.iter().position(|v| *v == value);
        let index = match (
            position(&KINDS, labels.kind),
            position(&OPERATIONS, operation),
            position(&VERDICTS, verdict),
        ) {
            (Some(k), Some(o), Some(v)) => Some((k * OPERATIONS.len() + o) * VERDICTS.len() + v),
            _ => None,
        };
        match index.and_then(|i| self.known.get(i)) {
            Some(known) => known
                .get_or_init(|| self.requests.get_or_create(&labels).clone())
                .inc(),
            None => self.requests.get_or_create(&labels).inc(),
        };
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
    KINDS.into_iter().find(|k| *k == kind).unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_outside_the_checked_ones_count_as_other() {
        let m = Metrics::default();
        m.observe("Deployment", "CREATE", "allowed", 0.001);
        m.observe("Deployment", "CREATE", "allowed", 0.001);
        m.observe("Deployment", "DELETE", "odd verdict", 0.001);
        m.observe("ConfigMap", "CREATE", "skipped", 0.001);
        m.observe("Widget", "UPDATE", "skipped", 0.001);
        m.observe("", "", "invalid", 0.0);
        let text = m.render();
        for line in [
            r#"sealgate_webhook_requests_total{kind="Deployment",operation="CREATE",verdict="allowed"} 2"#,
            r#"sealgate_webhook_requests_total{kind="Deployment",operation="DELETE",verdict="odd verdict"} 1"#,
            r#"sealgate_webhook_requests_total{kind="other",operation="CREATE",verdict="skipped"} 1"#,
            r#"sealgate_webhook_requests_total{kind="other",operation="UPDATE",verdict="skipped"} 1"#,
            r#"sealgate_webhook_requests_total{kind="",operation="",verdict="invalid"} 1"#,
            "sealgate_webhook_request_duration_seconds_count 6",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        assert!(!text.contains("ConfigMap") && !text.contains("Widget"), "{text}");
    }
}
