//! Prometheus metrics for `nnhost serve` (text format at `/metrics`): requests, failures,
//! cancellations (the client went away first) and latency per model, backend and protocol;
//! requests waiting in the queue and running, per model.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    failures: Family<Labels, Counter>,
    cancelled: Family<Labels, Counter>,
    duration: Family<Labels, Histogram, fn() -> Histogram>,
    queued: Family<Labels, Gauge>,
    running: Family<Labels, Gauge>,
}

fn histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

fn labels(model: &str, backend: &str, protocol: Option<&str>) -> Labels {
    let mut l = vec![("model", model.to_string()), ("backend", backend.to_string())];
    if let Some(p) = protocol {
        l.push(("protocol", p.to_string()));
    }
    l
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<Labels, Counter>::default();
        let failures = Family::<Labels, Counter>::default();
        let cancelled = Family::<Labels, Counter>::default();
        let duration = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(histogram as fn() -> Histogram);
        let queued = Family::<Labels, Gauge>::default();
        let running = Family::<Labels, Gauge>::default();
        registry.register("nnhost_requests", "Inference requests received", requests.clone());
        registry.register("nnhost_request_failures", "Inference requests answered with an error", failures.clone());
        registry.register(
            "nnhost_requests_cancelled",
            "Inference requests whose client went away (hung up, cancelled, past its deadline) before the answer",
            cancelled.clone(),
        );
        registry.register("nnhost_request_duration_seconds", "Inference request latency, queueing included", duration.clone());
        registry.register("nnhost_queue_depth", "Inference requests waiting for a slot", queued.clone());
        registry.register("nnhost_requests_running", "Inference requests running in a sandbox", running.clone());
        Self { registry, requests, failures, cancelled, duration, queued, running }
    }

    pub fn finished(&self, model: &str, backend: &str, protocol: &str, ok: bool, seconds: f64) {
        let l = labels(model, backend, Some(protocol));
        self.requests.get_or_create(&l).inc();
        if !ok {
            self.failures.get_or_create(&l).inc();
        }
        self.duration.get_or_create(&l).observe(seconds);
    }

    /// A request whose client went away before its answer: counted as a request and as cancelled.
    pub fn cancelled(&self, model: &str, backend: &str, protocol: &str) {
        let l = labels(model, backend, Some(protocol));
        self.requests.get_or_create(&l).inc();
        self.cancelled.get_or_create(&l).inc();
    }

    /// A request counted by [`Self::finished`] as answered that failed after all.
    pub fn failed(&self, model: &str, backend: &str, protocol: &str) {
        self.failures.get_or_create(&labels(model, backend, Some(protocol))).inc();
    }

    pub fn queued(&self, model: &str, backend: &str) -> Gauge {
        self.queued.get_or_create(&labels(model, backend, None)).clone()
    }

    pub fn running(&self, model: &str, backend: &str) -> Gauge {
        self.running.get_or_create(&labels(model, backend, None)).clone()
    }

    pub fn text(&self) -> String {
        let mut body = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut body, &self.registry);
        body
    }
}
