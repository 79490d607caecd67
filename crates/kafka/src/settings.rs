//! Kafka settings: brokers, delivery mode, limits, and any librdkafka property, passed
//! through untouched so operators can set SASL, TLS and tuning themselves. Which topics and
//! groups a stage uses is its own business (Earshot's are in `earshot-pipeline`).

use std::collections::BTreeMap;

use serde::Deserialize;

/// How stages talk to Kafka.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct KafkaSettings {
    /// `bootstrap.servers`.
    #[serde(deserialize_with = "text")]
    pub brokers: String,
    /// Partitions for topics created at start-up (the embedded broker, `create_topics`).
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
    #[serde(deserialize_with = "properties")]
    pub properties: BTreeMap<String, String>,
    /// Extra properties for consumers only, and for producers only.
    #[serde(deserialize_with = "properties")]
    pub consumer: BTreeMap<String, String>,
    #[serde(deserialize_with = "properties")]
    pub producer: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: "localhost:9092".into(),
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

/// A value librdkafka takes as text, written as a number or a boolean (`"fetch.wait.max.ms" =
/// 100`, or an environment variable, which the configuration reader types by its look).
#[derive(Debug)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Text::deserialize(d).map(|t| t.0)
}

fn properties<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = BTreeMap::<String, Text>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
}
