//! Errors of the Kafka edge.

use rdkafka::error::KafkaError;

/// Why a stage stopped.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The client could not be created or configured (bad property, unknown broker).
    #[error("invalid Kafka configuration: {0}")]
    Config(#[source] KafkaError),
    /// The broker reported an error the client will not retry.
    #[error("fatal Kafka error: {0}")]
    Fatal(#[source] KafkaError),
    /// An output could not be delivered after the client's retries; offsets past it were
    /// not committed, so a restart reprocesses it.
    #[error(
        "could not deliver an output of {topic} partition {partition} offset {offset}: {error}"
    )]
    Delivery {
        topic: String,
        partition: i32,
        offset: i64,
        error: String,
    },
    /// Processing a record panicked and `on_internal_error = "stop"`; nothing past it was
    /// committed.
    #[error("processing {topic} partition {partition} offset {offset} panicked: {message}")]
    Internal {
        topic: String,
        partition: i32,
        offset: i64,
        message: String,
    },
    /// A transaction could not be committed (exactly-once mode).
    #[error("transaction failed: {0}")]
    Transaction(#[source] KafkaError),
    /// The state of newly assigned partitions could not be restored.
    #[error("could not restore the state of partitions {partitions:?}: {error}")]
    Restore { partitions: Vec<i32>, error: String },
}

impl StageError {
    /// A short stable name for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            StageError::Config(_) => "invalid_kafka_config",
            StageError::Fatal(_) => "broker_fatal",
            StageError::Delivery { .. } => "delivery_failed",
            StageError::Internal { .. } => "internal_error",
            StageError::Transaction(_) => "transaction_failed",
            StageError::Restore { .. } => "restore_failed",
        }
    }
}
