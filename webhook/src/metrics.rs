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
    kind: String,
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
    /// Counts one answered request.
    pub fn observe(&self, kind: &str, operation: &'static str, verdict: &'static str, seconds: f64) {
        let labels = Request {
            kind: kind.to_owned(),
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
