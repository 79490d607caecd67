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

    /// The acknowledgements at hand were applied ([`Delivery::acknowledged`]): send what
    /// they let go.
    fn after_acks(&mut self, _io: &Io<'_>) {}

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
    /// Inputs whose state writes this one replaced (the same changelog key, sent together):
    /// they are delivered, or fail, with it.
    pub riders: Vec<(i32, i64)>,
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

/// The strategies on librdkafka's mock cluster, driven directly: what they send, hold back,
/// keep and commit, record by record.
#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;

    use rdkafka::config::ClientConfig;
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    use rdkafka::producer::Producer;

    use super::*;
    use crate::embedded::EmbeddedKafka;
    use crate::events::ProducerEvents;
    use crate::health::Health;

    const TOPIC: &str = "input";
    const OUT: &str = "output";
    const CHANGELOG: &str = "changelog";

    struct Rig {
        _broker: EmbeddedKafka,
        consumer: StageConsumer,
        producer: StageProducer,
        acks: Receiver<Ack>,
        settings: KafkaSettings,
        metrics: Metrics,
    }

    impl Rig {
        fn start(transactional: bool) -> Rig {
            let broker = EmbeddedKafka::start(1).unwrap();
            let settings = KafkaSettings {
                brokers: broker.bootstrap_servers(),
                partitions: 1,
                ..KafkaSettings::default()
            };
            broker
                .create_topics(&settings, &[TOPIC.into(), OUT.into(), CHANGELOG.into()])
                .unwrap();
            let (tx, acks) = channel();
            let mut config = ClientConfig::new();
            config.set("bootstrap.servers", &settings.brokers);
            if transactional {
                config.set("transactional.id", "delivery-test");
            }
            let producer: StageProducer =
                config.create_with_context(ProducerEvents::new(tx)).unwrap();
            if transactional {
                producer.init_transactions(Duration::from_secs(10)).unwrap();
            }
            let (rebalances, _) = channel();
            let consumer: StageConsumer = ClientConfig::new()
                .set("bootstrap.servers", &settings.brokers)
                .set("group.id", "delivery-test")
                .create_with_context(crate::events::ConsumerEvents::new(
                    rebalances,
                    TOPIC.into(),
                    "test",
                    Health::new(),
                    Metrics::unregistered(),
                ))
                .unwrap();
            Rig {
                _broker: broker,
                consumer,
                producer,
                acks,
                settings,
                metrics: Metrics::unregistered(),
            }
        }

        fn io(&self) -> Io<'_> {
            Io {
                consumer: &self.consumer,
                producer: &self.producer,
                acks: &self.acks,
                topic: TOPIC,
                dlq_topic: "dlq",
                settings: &self.settings,
                stage: "test",
                metrics: &self.metrics,
            }
        }

        /// Waits for `n` acknowledgements and hands them to `delivery`.
        fn acknowledge(
            &self,
            delivery: &mut impl Delivery,
            n: usize,
        ) -> Vec<(String, Option<(i32, i64)>)> {
            let mut report = StageReport::default();
            let mut seen = Vec::new();
            for _ in 0..n {
                let ack = self
                    .acks
                    .recv_timeout(Duration::from_secs(10))
                    .expect("an acknowledgement");
                seen.push((ack.pending.topic.clone(), ack.pending.input));
                delivery.acknowledged(&self.io(), ack, &mut report);
                delivery.after_acks(&self.io());
            }
            seen
        }
    }

    fn taken(partition: i32, offset: i64) -> Taken {
        Taken {
            partition,
            offset,
            trace: format!("t{offset}"),
            ingested_at: 0,
            source: None,
        }
    }

    fn output(n: i64) -> Output {
        Output::new(OUT, Some(format!("k{n}")), vec![1], 1)
    }

    fn state(n: i64) -> Output {
        Output::state(CHANGELOG, 0, format!("s{n}"), Some(vec![2]), 1)
    }

    #[test]
    fn at_least_once_writes_state_after_the_other_outputs_and_stores_offsets_after_both() {
        let rig = Rig::start(false);
        let io = rig.io();
        let mut d = AtLeastOnce::new();
        d.taken(&io, taken(0, 10), &mut vec![output(10), state(10)])
            .unwrap();
        d.taken(&io, taken(0, 11), &mut vec![state(11)]).unwrap();
        assert_eq!(d.waiting(), 2);
        // A tick's state write goes behind the writes held before it.
        d.tick(&io, &mut vec![state(99)]).unwrap();
        let first = rig.acknowledge(&mut d, 1);
        assert_eq!(
            first,
            [(OUT.to_string(), Some((0, 10)))],
            "only the output goes first"
        );
        assert_eq!(d.tracker.committable(0), Some(10));
        let rest = rig.acknowledge(&mut d, 3);
        let topics: Vec<(&str, i64)> = rest
            .iter()
            .map(|(t, input)| (t.as_str(), input.map_or(-1, |i| i.1)))
            .collect();
        assert_eq!(
            topics,
            [(CHANGELOG, 10), (CHANGELOG, 11), (CHANGELOG, 11)],
            "state writes in input order, the tick's last"
        );
        assert_eq!(
            d.tracker.committable(0),
            Some(12),
            "stored once the state is written"
        );
        assert_eq!(d.waiting(), 0);
    }

    #[test]
    fn at_least_once_sends_one_write_of_a_key_released_together() {
        let rig = Rig::start(false);
        let io = rig.io();
        let mut d = AtLeastOnce::new();
        let same = || Output::state(CHANGELOG, 0, "o".into(), Some(vec![3]), 1);
        d.taken(&io, taken(0, 20), &mut vec![output(20), same()])
            .unwrap();
        d.taken(&io, taken(0, 21), &mut vec![output(21), same()])
            .unwrap();
        // Both outputs are acknowledged before the loop releases anything.
        let mut report = StageReport::default();
        for _ in 0..2 {
            let ack = rig
                .acks
                .recv_timeout(Duration::from_secs(10))
                .expect("an acknowledgement");
            d.acknowledged(&io, ack, &mut report);
        }
        assert_eq!(d.tracker.committable(0), Some(20), "the state is held");
        d.after_acks(&io);
        let writes = rig.acknowledge(&mut d, 1);
        assert_eq!(writes, [(CHANGELOG.to_string(), Some((0, 21)))]);
        assert_eq!(
            d.tracker.committable(0),
            Some(22),
            "the write of 21 carried 20's"
        );
        assert_eq!(d.waiting(), 0);
        assert!(
            rig.acks.recv_timeout(Duration::from_millis(300)).is_err(),
            "20's write was not sent"
        );
        assert_eq!(
            io.metrics
                .state_writes_coalesced
                .with_label_values(&[io.stage])
                .get(),
            1
        );
    }

    #[test]
    fn exactly_once_keeps_a_transaction_and_its_positions_as_one_value() {
        let rig = Rig::start(true);
        let io = rig.io();
        let mut d = ExactlyOnce::new();
        d.taken(&io, taken(0, 5), &mut vec![output(5), state(5)])
            .unwrap();
        d.taken(&io, taken(0, 6), &mut vec![output(6)]).unwrap();
        assert_eq!(d.waiting(), 2);
        // The broker refuses an output of record 5 for good: the transaction is aborted and
        // the partition goes back to where it began.
        let ack = Ack {
            pending: Box::new(Pending {
                topic: OUT.into(),
                input: Some((0, 5)),
                source: None,
                riders: Vec::new(),
            }),
            error: Some(KafkaError::MessageProduction(
                RDKafkaErrorCode::MessageSizeTooLarge,
            )),
        };
        let mut report = StageReport::default();
        d.acknowledged(&io, ack, &mut report);
        let rewind = d.maintain(&io, &mut report).unwrap();
        assert_eq!(rewind, Some(Rewind(vec![(0, 5)])));
        assert!(
            d.open.is_none(),
            "the aborted transaction is gone, positions and all"
        );
        // The revoke-then-tick sequence of the old bug: a tick opens a new transaction,
        // which holds no position of the aborted one.
        d.tick(&io, &mut vec![output(99)]).unwrap();
        let open = d.open.as_ref().expect("the tick opened a transaction");
        assert!(open.positions.is_empty(), "{:?}", open.positions);
        assert_eq!(d.waiting(), 0);
        assert!(
            d.refused_before(0, 5),
            "record 5 goes to the dead-letter topic next time"
        );
        assert!(!d.refused_before(0, 6));
        assert!(
            d.revoke(&io, &[0], &mut report),
            "the tick's transaction commits at revoke"
        );
        assert!(d.open.is_none());
    }
}
