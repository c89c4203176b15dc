//! Prometheus metrics: one process-wide registry that every module counts into. Below every
//! handler (it knows nothing of them); `/metrics` serves it (`ops::health`).

use std::sync::OnceLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    pub registry: Registry,
    pub http_requests: HistogramVec,
    pub responses: IntCounterVec,
    pub writer_batch: Histogram,
    pub queue_depth: IntGauge,
    pub export_failures: IntCounterVec,
}

/// Process-wide metrics (one registry, however many apps a test process starts).
pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| {
        let registry = Registry::new();
        let http_requests = HistogramVec::new(
            HistogramOpts::new(
                "cx_http_request_duration_seconds",
                "HTTP requests by route and status",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["method", "route", "status"],
        )
        .expect("metric");
        let responses = IntCounterVec::new(
            Opts::new(
                "cx_responses_total",
                "Survey responses by outcome (stored, duplicate, rejected, honeypot)",
            ),
            &["outcome"],
        )
        .expect("metric");
        let writer_batch = Histogram::with_opts(
            HistogramOpts::new(
                "cx_intake_batch_size",
                "Intake items committed per transaction",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
            ]),
        )
        .expect("metric");
        let queue_depth = IntGauge::new(
            "cx_intake_queue_depth",
            "Intake items waiting for the writer",
        )
        .expect("metric");
        let export_failures = IntCounterVec::new(
            Opts::new(
                "cx_export_failures_total",
                "Response exports that failed: at the start (an error status) or mid-stream (the transfer was cut)",
            ),
            &["stage"],
        )
        .expect("metric");
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(responses.clone()),
            Box::new(writer_batch.clone()),
            Box::new(queue_depth.clone()),
            Box::new(export_failures.clone()),
        ] {
            registry.register(c).expect("register metric");
        }
        Metrics {
            registry,
            http_requests,
            responses,
            writer_batch,
            queue_depth,
            export_failures,
        }
    })
}

/// The registry in Prometheus' text format.
pub fn render() -> Vec<u8> {
    let mut buf = vec![];
    let _ = TextEncoder::new().encode(&metrics().registry.gather(), &mut buf);
    buf
}
