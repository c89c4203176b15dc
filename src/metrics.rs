//! Prometheus metrics: one process-wide registry that every module counts into. Below every
//! handler (it knows nothing of them); `/metrics` serves it (`ops::health`).

use std::sync::OnceLock;

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    pub registry: Registry,
    pub http_requests: HistogramVec,
    pub responses: IntCounterVec,
    pub writer_batch: Histogram,
    pub queue_depth: IntGauge,
    pub export_failures: IntCounterVec,
    /// Connections of each pool (`main`, `export`) by `state` (`in_use`, `idle`), set at scrape.
    pub pool_connections: IntGaugeVec,
    /// How long a checkout waited for a connection, by pool (r2d2's event handler).
    pub pool_wait: HistogramVec,
    /// Checkouts that gave up (the pool's connection timeout), by pool.
    pub pool_timeouts: IntCounterVec,
    /// Invitations waiting in the outbox by state (`queued`, `retrying`, `sending`), set at scrape.
    pub outbox_invitations: IntGaugeVec,
    /// Invitation deliveries that failed, by kind (`temporary`: retried; `permanent`: given up).
    pub outbox_failures: IntCounterVec,
    /// Days until each instrument version's PRA clearance ends, set at scrape.
    pub pra_days: GaugeVec,
}

/// Process-wide metrics (one registry, however many apps a test process starts).
pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| {
        let r = Registry::new();
        let m = Metrics {
            http_requests: histograms(&r, "cx_http_request_duration_seconds", "HTTP requests by route and status",
                &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0], &["method", "route", "status"]),
            responses: counters(&r, "cx_responses_total",
                "Survey responses by outcome (stored, duplicate, rejected, honeypot)", &["outcome"]),
            writer_batch: register(&r, Histogram::with_opts(
                HistogramOpts::new("cx_intake_batch_size", "Intake items committed per transaction")
                    .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0]),
            )),
            queue_depth: register(&r, IntGauge::new("cx_intake_queue_depth", "Intake items waiting for the writer")),
            export_failures: counters(&r, "cx_export_failures_total",
                "Response exports that failed: at the start (an error status) or mid-stream (the transfer was cut)", &["stage"]),
            pool_connections: register(&r, IntGaugeVec::new(
                Opts::new("cx_db_pool_connections", "Database pool connections by pool and state (in_use, idle)"),
                &["pool", "state"],
            )),
            pool_wait: histograms(&r, "cx_db_pool_wait_seconds", "Time a checkout waited for a pooled database connection",
                &[0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0], &["pool"]),
            pool_timeouts: counters(&r, "cx_db_pool_timeouts_total",
                "Checkouts that found no connection within the pool's timeout", &["pool"]),
            outbox_invitations: register(&r, IntGaugeVec::new(
                Opts::new("cx_outbox_invitations", "Invitations waiting in the outbox by state (queued, retrying, sending)"),
                &["state"],
            )),
            outbox_failures: counters(&r, "cx_outbox_delivery_failures_total",
                "Invitation deliveries that failed: temporary (retried later) or permanent (given up)", &["kind"]),
            pra_days: register(&r, GaugeVec::new(
                Opts::new("cx_pra_days_until_expiry",
                    "Days until the PRA clearance ends (end of its expiration date in CX_REPORT_TZ); negative once expired"),
                &["instrument", "version"],
            )),
            registry: r,
        };
        // Shown from the start at 0, so a rate() has a baseline before the first one happens.
        for kind in ["temporary", "permanent"] {
            m.outbox_failures.with_label_values(&[kind]);
        }
        for pool in ["main", "export"] {
            m.pool_timeouts.with_label_values(&[pool]);
        }
        // process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds, … (Linux).
        #[cfg(target_os = "linux")]
        m.registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("register process metrics");
        m
    })
}

/// Registers a collector; the names and labels are ours, so a failure is a programming error.
fn register<C: prometheus::core::Collector + Clone + 'static>(
    r: &Registry,
    c: prometheus::Result<C>,
) -> C {
    let c = c.expect("metric");
    r.register(Box::new(c.clone())).expect("register metric");
    c
}

fn counters(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(r, IntCounterVec::new(Opts::new(name, help), labels))
}

fn histograms(
    r: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
    labels: &[&str],
) -> HistogramVec {
    register(
        r,
        HistogramVec::new(
            HistogramOpts::new(name, help).buckets(buckets.to_vec()),
            labels,
        ),
    )
}

/// The registry in Prometheus' text format.
pub fn render() -> Vec<u8> {
    let mut buf = vec![];
    let _ = TextEncoder::new().encode(&metrics().registry.gather(), &mut buf);
    buf
}
