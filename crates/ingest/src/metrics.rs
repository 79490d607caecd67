//! Ingest's metrics, per source, registered on the caller's registry. Labels are bounded:
//! `source` is one of [`crate::Source`]'s names; `outcome`, `reason` and `error_code` are
//! fixed codes.

use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Handles to the ingest metrics; cheap to clone.
#[derive(Debug, Clone)]
pub struct IngestMetrics {
    /// Webhook requests by outcome: `ok`, `handshake`, `unauthorized`, `too_large`,
    /// `unavailable`, `forbidden`, `bad_request`.
    pub requests: IntCounterVec,
    pub posts_published: IntCounterVec,
    pub dead_letters: IntCounterVec,
    pub skipped: IntCounterVec,
    pub signature_failures: IntCounterVec,
    pub duplicates: IntCounterVec,
    pub reconnects: IntCounterVec,
    /// Now − `created_at` of each published post.
    pub lag: HistogramVec,
    /// From a request's (or a stream batch's) arrival to Kafka's last acknowledgement.
    pub ack_latency: HistogramVec,
    /// The stored resume cursor as a Unix time.
    pub cursor: GaugeVec,
}

impl IngestMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<IngestMetrics> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
        };
        let metrics = IngestMetrics {
            requests: counter(
                "earshot_ingest_requests_total",
                "Webhook requests by source and outcome",
                &["source", "outcome"],
            )?,
            posts_published: counter(
                "earshot_ingest_posts_published_total",
                "Posts published to the raw topic and acknowledged",
                &["source"],
            )?,
            dead_letters: counter(
                "earshot_ingest_dead_letters_total",
                "Verified events that could not be normalised, sent to the dead-letter topic",
                &["source", "error_code"],
            )?,
            skipped: counter(
                "earshot_ingest_events_skipped_total",
                "Events that are not posts (follows, deletes, the brand's own messages)",
                &["source", "reason"],
            )?,
            signature_failures: counter(
                "earshot_ingest_signature_failures_total",
                "Webhook requests refused for a missing or wrong signature",
                &["source", "error_code"],
            )?,
            duplicates: counter(
                "earshot_ingest_duplicates_total",
                "Posts delivered again after they were acknowledged (platform retries, stream overlap)",
                &["source"],
            )?,
            reconnects: counter(
                "earshot_ingest_reconnects_total",
                "Stream reconnections by reason",
                &["source", "reason"],
            )?,
            lag: HistogramVec::new(
                HistogramOpts::new(
                    "earshot_ingest_lag_seconds",
                    "From a post's creation on the platform to its publication",
                )
                .buckets(vec![
                    0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0,
                ]),
                &["source"],
            )?,
            ack_latency: HistogramVec::new(
                HistogramOpts::new(
                    "earshot_ingest_ack_seconds",
                    "From receipt to Kafka acknowledging every post of a request or batch",
                )
                .buckets(vec![
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0,
                ]),
                &["source"],
            )?,
            cursor: GaugeVec::new(
                Opts::new(
                    "earshot_ingest_cursor_timestamp_seconds",
                    "The stored stream cursor as a Unix time",
                ),
                &["source"],
            )?,
        };
        registry.register(Box::new(metrics.requests.clone()))?;
        registry.register(Box::new(metrics.posts_published.clone()))?;
        registry.register(Box::new(metrics.dead_letters.clone()))?;
        registry.register(Box::new(metrics.skipped.clone()))?;
        registry.register(Box::new(metrics.signature_failures.clone()))?;
        registry.register(Box::new(metrics.duplicates.clone()))?;
        registry.register(Box::new(metrics.reconnects.clone()))?;
        registry.register(Box::new(metrics.lag.clone()))?;
        registry.register(Box::new(metrics.ack_latency.clone()))?;
        registry.register(Box::new(metrics.cursor.clone()))?;
        Ok(metrics)
    }

    /// Metrics on a registry of their own, for tests and tools.
    pub fn unregistered() -> IngestMetrics {
        IngestMetrics::register(&Registry::new()).expect("fresh registry accepts the metrics")
    }
}
