//! How outputs and input offsets are tied together: the [`Delivery`] strategy of a stage,
//! [`AtLeastOnce`] or [`ExactlyOnce`], and what both need (sending, acknowledgements).
//!
//! The stage loop owns its strategy and is the only one to change it: the producer's thread
//! only reports each delivery ([`Ack`]) on a channel the loop reads, in the order librdkafka
//! delivers them, and rebalances reach the loop as events (see `stage.rs`).

mod at_least_once;
mod exactly_once;

pub(crate) use at_least_once::AtLeastOnce;
pub(crate) use exactly_once::ExactlyOnce;

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, warn};

use crate::events::{ConsumerEvents, ProducerEvents};
use crate::metrics::Metrics;
use crate::record::{Input, Output};
use crate::settings::KafkaSettings;
use crate::{StageError, StageReport};

pub(crate) type StageProducer = ThreadedProducer<ProducerEvents>;
pub(crate) type StageConsumer = BaseConsumer<ConsumerEvents>;

/// The clients and settings a strategy works with; borrowed from the stage loop.
pub(crate) struct Io<'a> {
    pub consumer: &'a StageConsumer,
    pub producer: &'a StageProducer,
    pub acks: &'a Receiver<Ack>,
    /// The input topic.
    pub topic: &'a str,
    /// Where inputs that cannot be processed go.
    pub dlq_topic: &'a str,
    pub settings: &'a KafkaSettings,
    pub stage: &'static str,
    pub metrics: &'a Metrics,
}

/// A strategy: what happens to a record's outputs, to acknowledgements, and to offsets.
pub(crate) trait Delivery {
    /// Whether inputs are kept until their outputs are acknowledged, to dead-letter them
    /// if the broker refuses an output for good.
    const KEEPS_INPUTS: bool;

    /// The record at `taken` was processed into `outputs` (drained): send them.
    fn taken(
        &mut self,
        io: &Io<'_>,
        taken: Taken,
        outputs: &mut Vec<Output>,
    ) -> Result<(), StageError>;

    /// Outputs of the processor's tick, which belong to no input record.
    fn tick(&mut self, io: &Io<'_>, outputs: &mut Vec<Output>) -> Result<(), StageError>;

    /// The producer reported one delivery.
    fn acknowledged(&mut self, io: &Io<'_>, ack: Ack, report: &mut StageReport);

    /// Input records whose outputs are not settled yet (the backpressure measure).
    fn waiting(&self) -> usize;

    /// Periodic work between records: store offsets, end a transaction that is due. May
    /// ask the loop to process partitions again from earlier offsets.
    fn maintain(
        &mut self,
        io: &Io<'_>,
        report: &mut StageReport,
    ) -> Result<Option<Rewind>, StageError>;

    /// A delivery failed for good and nothing can be committed past it: the stage stops.
    fn failure(&mut self) -> Option<StageError>;

    /// Whether [`Delivery::failure`] has something to say.
    fn has_failed(&self) -> bool;

    /// Whether the record at `partition`/`offset` had an output refused for good and must
    /// now go to the dead-letter topic instead of being processed again.
    fn refused_before(&mut self, _partition: i32, _offset: i64) -> bool {
        false
    }

    /// `partitions` are being revoked: settle what was done on them. True when every
    /// output of theirs was acknowledged and their offsets committed.
    fn revoke(&mut self, io: &Io<'_>, partitions: &[i32], report: &mut StageReport) -> bool;

    /// The stage stops: settle what can be settled within `deadline`. `clean` is false
    /// when the stage stops on an error (nothing uncertain is committed then).
    fn finish(
        &mut self,
        io: &Io<'_>,
        deadline: Duration,
        clean: bool,
        report: &mut StageReport,
    ) -> Result<(), StageError>;
}

/// Partitions to process again from these offsets (their uncommitted work was aborted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rewind(pub Vec<(i32, i64)>);

/// The input a record came from, as the strategy needs it.
pub(crate) struct Taken {
    pub partition: i32,
    pub offset: i64,
    pub trace: String,
    pub ingested_at: i64,
    /// A copy of the input, when the strategy keeps inputs.
    pub source: Option<Arc<Source>>,
}

/// Marks which input a produced record belongs to.
pub(crate) struct Pending {
    pub topic: String,
    /// The input record; `None` for outputs of a tick.
    pub input: Option<(i32, i64)>,
    /// The input, to dead-letter it if the broker refuses this output for good.
    pub source: Option<Arc<Source>>,
}

/// What the producer said about one output.
pub(crate) struct Ack {
    pub pending: Box<Pending>,
    pub error: Option<KafkaError>,
}

/// An input record kept until its outputs are acknowledged: if the broker refuses one of
/// them for a permanent reason (too large, invalid), the input goes to the dead-letter topic
/// instead and the partition moves on.
pub(crate) struct Source {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub trace: String,
    pub ingested_at: i64,
    /// Set once the input was dead-lettered (several of its outputs may be refused).
    pub dead_lettered: AtomicBool,
}

impl Source {
    pub fn of(input: &Input<'_>, trace: &str, ingested_at: i64) -> Source {
        Source {
            topic: input.topic.to_string(),
            partition: input.partition,
            offset: input.offset,
            key: input.key.map(<[u8]>::to_vec),
            payload: input.payload.map(<[u8]>::to_vec),
            trace: trace.to_string(),
            ingested_at,
            dead_lettered: AtomicBool::new(false),
        }
    }

    pub fn input(&self) -> Input<'_> {
        Input {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            key: self.key.as_deref(),
            payload: self.payload.as_deref(),
            timestamp_ms: None,
            trace_id: Some(&self.trace),
            ingested_at_ms: Some(self.ingested_at),
        }
    }
}

/// Produces one record, waiting while the producer's queue is full (backpressure). A record
/// the client will not even queue (too large for it) is reported like a failed delivery.
pub(crate) fn send(
    producer: &StageProducer,
    output: Output,
    pending: Pending,
    (trace, ingested_at): (&str, i64),
) {
    let headers = output.kafka_headers(Some(trace), Some(ingested_at));
    let mut record = BaseRecord::with_opaque_to(&output.topic, Box::new(pending)).headers(headers);
    if let Some(payload) = &output.payload {
        record = record.payload(payload);
    }
    if let Some(key) = &output.key {
        record = record.key(key);
    }
    if let Some(partition) = output.partition {
        record = record.partition(partition);
    }
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((e, back)) => {
                producer.context().report(back.delivery_opaque, Some(e));
                return;
            }
        }
    }
}

/// Stores `offsets` (the next offset to read per partition) for the next commit.
pub(crate) fn store(io: &Io<'_>, offsets: &[(i32, i64)]) {
    if offsets.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for &(partition, offset) in offsets {
        // `store_offsets` takes the next offset to read, as given (no +1).
        if tpl
            .add_partition_offset(io.topic, partition, Offset::Offset(offset))
            .is_err()
        {
            continue;
        }
    }
    if let Err(e) = io.consumer.store_offsets(&tpl) {
        debug!(stage = io.stage, error = %e, "Could not store offsets (partition no longer assigned?)");
        io.metrics
            .errors
            .with_label_values(&[io.stage, "offset_store"])
            .inc();
    }
}

/// Commits the stored offsets now; false when the commit failed (it is logged).
pub(crate) fn commit_stored(io: &Io<'_>, when: &str) -> bool {
    match io.consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => true,
        Err(e) => {
            warn!(stage = io.stage, error = %e, "Commit {when} failed; uncommitted records will be redelivered");
            false
        }
    }
}
