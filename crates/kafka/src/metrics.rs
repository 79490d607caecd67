//! The metrics of the stage runner, registered on a registry the caller owns (no globals,
//! so tests stay isolated). Names follow `earshot_<subject>_<unit>[_total]`; labels are
//! bounded: stage, topic, partition, error code. What a stage's own logic counts (tickets,
//! incidents, discarded posts) is the stage's business.

use prometheus::{
    CounterVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// Handles to the stage metrics; cheap to clone.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub posts_received: IntCounterVec,
    pub records_produced: IntCounterVec,
    pub dead_letters: IntCounterVec,
    pub errors: IntCounterVec,
    pub stage_latency: HistogramVec,
    pub consumer_lag: IntGaugeVec,
    pub in_flight: IntGaugeVec,
    pub backpressure_seconds: CounterVec,
    pub rebalances: IntCounterVec,
    pub state_writes_coalesced: IntCounterVec,
    pub records_prepared: IntCounterVec,
}

impl Metrics {
    /// Creates the metrics and registers them on `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Metrics> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
        };
        let latency_buckets = vec![
            0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
        ];
        let metrics = Metrics {
            posts_received: counter(
                "earshot_posts_received_total",
                "Records a stage took from its input topic",
                &["stage"],
            )?,
            records_produced: counter(
                "earshot_records_produced_total",
                "Records a stage produced and the broker acknowledged",
                &["stage", "topic"],
            )?,
            dead_letters: counter(
                "earshot_dead_letters_total",
                "Records sent to the dead-letter topic",
                &["stage", "error_code"],
            )?,
            errors: counter(
                "earshot_errors_total",
                "Errors by stage and code",
                &["stage", "error_code"],
            )?,
            stage_latency: HistogramVec::new(
                HistogramOpts::new(
                    "earshot_stage_latency_seconds",
                    "Time to process one record in a stage",
                )
                .buckets(latency_buckets),
                &["stage"],
            )?,
            consumer_lag: IntGaugeVec::new(
                Opts::new(
                    "earshot_kafka_consumer_lag",
                    "High watermark minus position, per assigned partition",
                ),
                &["topic", "partition"],
            )?,
            in_flight: IntGaugeVec::new(
                Opts::new(
                    "earshot_in_flight_records",
                    "Input records whose outputs await acknowledgement",
                ),
                &["stage"],
            )?,
            backpressure_seconds: CounterVec::new(
                Opts::new(
                    "earshot_backpressure_seconds_total",
                    "Time a stage read nothing because max_in_flight outputs awaited acknowledgement",
                ),
                &["stage"],
            )?,
            rebalances: counter(
                "earshot_kafka_rebalances_total",
                "Consumer group rebalances a stage took part in, by event (assigned, revoked)",
                &["stage", "event"],
            )?,
            state_writes_coalesced: counter(
                "earshot_state_writes_coalesced_total",
                "Changelog writes not sent because a later write of the same key went in their place (at-least-once)",
                &["stage"],
            )?,
            records_prepared: counter(
                "earshot_records_prepared_total",
                "Records a stage took together with others and prepared ahead of their turn (scored on the analysis threads)",
                &["stage"],
            )?,
        };
        registry.register(Box::new(metrics.posts_received.clone()))?;
        registry.register(Box::new(metrics.records_produced.clone()))?;
        registry.register(Box::new(metrics.dead_letters.clone()))?;
        registry.register(Box::new(metrics.errors.clone()))?;
        registry.register(Box::new(metrics.stage_latency.clone()))?;
        registry.register(Box::new(metrics.consumer_lag.clone()))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        registry.register(Box::new(metrics.backpressure_seconds.clone()))?;
        registry.register(Box::new(metrics.rebalances.clone()))?;
        registry.register(Box::new(metrics.state_writes_coalesced.clone()))?;
        registry.register(Box::new(metrics.records_prepared.clone()))?;
        Ok(metrics)
    }

    /// Metrics on a registry of their own, for tests and tools.
    pub fn unregistered() -> Metrics {
        Metrics::register(&Registry::new()).expect("fresh registry accepts the metrics")
    }
}
