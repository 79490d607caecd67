//! Earshot's metrics: the stage runner's ([`earshot_kafka::Metrics`], reached through
//! `Deref`) and what the stages count in the user's terms. One registry, built at start-up
//! and passed in.

use std::ops::Deref;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

/// Handles to every stage metric; cheap to clone.
#[derive(Debug, Clone)]
pub struct Metrics {
    runner: earshot_kafka::Metrics,
    pub posts_discarded: IntCounterVec,
    pub post_to_ticket_latency: Histogram,
    pub tickets_emitted: IntCounterVec,
    pub incidents_opened: IntCounter,
}

impl Deref for Metrics {
    type Target = earshot_kafka::Metrics;
    fn deref(&self) -> &earshot_kafka::Metrics {
        &self.runner
    }
}

impl Metrics {
    /// Creates the metrics and registers them on `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Metrics> {
        let metrics = Metrics {
            runner: earshot_kafka::Metrics::register(registry)?,
            posts_discarded: IntCounterVec::new(
                Opts::new(
                    "earshot_posts_discarded_total",
                    "Posts a stage dropped on purpose (no watchlist matched, suppressed by a rule)",
                ),
                &["stage", "reason"],
            )?,
            post_to_ticket_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "earshot_post_to_ticket_latency_seconds",
                    "From ingest publishing a post to route emitting its ticket",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                ]),
            )?,
            tickets_emitted: IntCounterVec::new(
                Opts::new(
                    "earshot_tickets_emitted_total",
                    "Ticket records (new and revised) by queue and priority",
                ),
                &["queue", "priority"],
            )?,
            incidents_opened: IntCounter::new(
                "earshot_incidents_opened_total",
                "Incidents opened by spike detection",
            )?,
        };
        registry.register(Box::new(metrics.posts_discarded.clone()))?;
        registry.register(Box::new(metrics.post_to_ticket_latency.clone()))?;
        registry.register(Box::new(metrics.tickets_emitted.clone()))?;
        registry.register(Box::new(metrics.incidents_opened.clone()))?;
        Ok(metrics)
    }

    /// Metrics on a registry of their own, for tests and tools.
    pub fn unregistered() -> Metrics {
        Metrics::register(&Registry::new()).expect("fresh registry accepts the metrics")
    }

    /// The runner's part, for `run_stage`.
    pub fn runner(&self) -> &earshot_kafka::Metrics {
        &self.runner
    }
}
