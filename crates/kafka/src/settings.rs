//! Kafka settings: brokers, topics, consumer groups, delivery mode, and any librdkafka
//! property, passed through untouched so operators can set SASL, TLS and tuning themselves.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The `[kafka]` section of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSettings {
    /// `bootstrap.servers`.
    pub brokers: String,
    pub topics: Topics,
    pub groups: Groups,
    /// Partitions for topics Earshot creates (`earshot demo`, `create_topics = true`).
    pub partitions: i32,
    pub replication_factor: i32,
    /// Create missing topics at start-up.
    pub create_topics: bool,
    pub delivery: DeliveryMode,
    /// Messages whose outputs are not yet acknowledged before the stage pauses its
    /// partitions (backpressure instead of an unbounded queue).
    pub max_in_flight: usize,
    /// The largest record (payload, key and headers) a stage produces; keep it at or below
    /// the brokers' `message.max.bytes` and the topics' `max.message.bytes`. Analyze cuts
    /// explanations to fit; an output still larger sends its input to the dead-letter topic.
    pub max_message_bytes: usize,
    /// Exactly-once: messages per transaction (a transaction also ends every
    /// `transaction_ms`).
    pub transaction_messages: usize,
    pub transaction_ms: u64,
    /// How long a graceful shutdown may take before the process exits anyway.
    pub shutdown_seconds: u64,
    /// What a stage does when processing one record panics (a bug, not bad input): send the
    /// record to the dead-letter topic as `internal_error` and go on (the default, as Kafka
    /// Streams' log-and-continue handler), or stop the stage without committing past it.
    pub on_internal_error: InternalErrorPolicy,
    /// librdkafka properties for every client (`"security.protocol" = "SASL_SSL"`, …).
    pub properties: BTreeMap<String, String>,
    /// Extra properties for consumers only, and for producers only.
    pub consumer: BTreeMap<String, String>,
    pub producer: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: "localhost:9092".into(),
            topics: Topics::default(),
            groups: Groups::default(),
            partitions: 6,
            replication_factor: 1,
            create_topics: false,
            delivery: DeliveryMode::AtLeastOnce,
            max_in_flight: 10_000,
            max_message_bytes: 1_000_000,
            transaction_messages: 1_000,
            transaction_ms: 100,
            shutdown_seconds: 30,
            on_internal_error: InternalErrorPolicy::DeadLetter,
            properties: BTreeMap::new(),
            consumer: BTreeMap::new(),
            producer: BTreeMap::new(),
        }
    }
}

/// Topic names.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Topics {
    pub raw: String,
    pub scored: String,
    /// Tickets go to `<tickets_prefix><queue>`, e.g. `earshot.tickets.billing`.
    pub tickets_prefix: String,
    pub incidents: String,
    pub unrouted: String,
    pub dlq: String,
    /// Route replicas exchange their spike counts here (keyed by replica), so that each
    /// decides on incidents from the totals over all partitions.
    pub signals: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            raw: "earshot.posts.raw".into(),
            scored: "earshot.posts.scored".into(),
            tickets_prefix: "earshot.tickets.".into(),
            incidents: "earshot.incidents".into(),
            unrouted: "earshot.posts.unrouted".into(),
            dlq: "earshot.dlq".into(),
            signals: "earshot.signals".into(),
        }
    }
}

impl Topics {
    pub fn tickets(&self, queue: &str) -> String {
        format!("{}{queue}", self.tickets_prefix)
    }

    /// Every topic Earshot reads or writes, with a ticket topic for each of `queues`.
    pub fn all<Q: AsRef<str>>(&self, queues: &[Q]) -> Vec<String> {
        let mut topics = vec![
            self.raw.clone(),
            self.scored.clone(),
            self.incidents.clone(),
            self.unrouted.clone(),
            self.dlq.clone(),
            self.signals.clone(),
        ];
        topics.extend(queues.iter().map(|q| self.tickets(q.as_ref())));
        topics
    }
}

/// Consumer group ids, one per stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Groups {
    pub analyze: String,
    pub route: String,
}

impl Default for Groups {
    fn default() -> Self {
        Groups {
            analyze: "earshot-analyze".into(),
            route: "earshot-route".into(),
        }
    }
}

/// How outputs and input offsets are tied together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// Offsets are stored only after every output of a message (and of every message
    /// before it) is acknowledged. Redeliveries after a crash repeat outputs, with the same
    /// ticket ids.
    AtLeastOnce,
    /// Outputs and input offsets are committed in one Kafka transaction. Downstream
    /// consumers must read with `isolation.level=read_committed`.
    ExactlyOnce,
}

/// What a stage does with a record whose processing panicked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InternalErrorPolicy {
    /// Dead-letter the record (`internal_error`, with the panic message) and go on.
    #[default]
    DeadLetter,
    /// Stop the stage with an error; nothing past the record is committed, so a restart
    /// meets it again.
    Stop,
}
