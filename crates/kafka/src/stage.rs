//! The stage loop: consume → process → produce, one record at a time, on one thread.
//!
//! [`StageLoop`] owns everything a stage changes — the consumer, the producer, the
//! processor and the delivery strategy ([`AtLeastOnce`] or [`ExactlyOnce`]) — and nothing
//! else changes them: acknowledgements and rebalances arrive as events on channels (see
//! `events.rs`) and are applied here, between records. One turn of the loop:
//!
//! 1. apply rebalances: settle and hand back revoked partitions, restore assigned ones;
//! 2. apply acknowledgements; stop on a delivery that failed for good;
//! 3. wait while `max_in_flight` records await acknowledgement (backpressure);
//! 4. take a record — or, for a processor that reads ahead, up to its
//!    [`Processor::read_ahead`] records librdkafka already holds, stopping at a rebalance —
//!    let the processor prepare them at once (analysis on several threads), then process
//!    them one by one, in order, handing each one's outputs to the strategy;
//! 5. store offsets or end a transaction when due; tick the processor once a second.
//!
//! It runs on a dedicated thread (`run_stage` blocks): librdkafka's callbacks run inside
//! `poll`, and the loop blocks on flushes and commits, which must never happen on a tokio
//! worker. Shutdown: stop taking records, settle (flush, commit or end the transaction)
//! within the deadline, hand back the partitions, return.

use std::any::Any;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::{Histogram, IntCounter, IntGauge};
use rdkafka::consumer::{Consumer, RebalanceProtocol};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{error, info, warn};

use crate::client::{client_config, is_fatal, ClientRole, SetDefault};
use crate::dead_letter::{clip, dead_letter_room, DeadLetter, Origin, MAX_REASON_BYTES};
use crate::delivery::{
    Ack, AtLeastOnce, Delivery, ExactlyOnce, Io, Rewind, Source, StageConsumer, StageProducer,
    Taken,
};
use crate::events::{ConsumerEvents, ProducerEvents, Rebalanced};
use crate::health::{now_ms, Health, Shutdown};
use crate::metrics::Metrics;
use crate::record::{Input, Output, Processor, Reject, INGESTED_AT_HEADER, TRACE_HEADER};
use crate::settings::{DeliveryMode, InternalErrorPolicy, KafkaSettings};
use crate::StageError;

/// One stage: its name (a metrics label), input topic, consumer group and dead-letter topic.
#[derive(Debug, Clone)]
pub struct StageSpec {
    pub name: &'static str,
    pub input_topic: String,
    pub group_id: String,
    /// Distinguishes replicas in exactly-once mode (`transactional.id`); defaults to the
    /// host name and process id.
    pub instance_id: Option<String>,
    /// Where records that cannot be processed go.
    pub dlq_topic: String,
}

/// What a stage did, returned when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageReport {
    pub received: u64,
    pub produced: u64,
    pub dead_letters: u64,
}

/// Of the shutdown deadline, what is kept for the final commit after flushing.
const COMMIT_ROOM: Duration = Duration::from_secs(2);
/// How long `poll` waits for a record; the loop goes round at least this often.
const POLL: Duration = Duration::from_millis(50);
/// How often the processor is ticked.
const TICK_EVERY: Duration = Duration::from_secs(1);

/// Runs a stage until `shutdown` is triggered or a fatal error occurs. Blocks the calling
/// thread; run it on a thread of its own.
pub fn run_stage<P: Processor>(
    spec: &StageSpec,
    settings: &KafkaSettings,
    processor: P,
    shutdown: &Shutdown,
    health: &Arc<Health>,
    metrics: &Metrics,
) -> Result<StageReport, StageError> {
    match settings.delivery {
        DeliveryMode::AtLeastOnce => StageLoop::start(
            spec,
            settings,
            processor,
            AtLeastOnce::new(),
            health,
            metrics,
        )?
        .run(shutdown),
        DeliveryMode::ExactlyOnce => StageLoop::start(
            spec,
            settings,
            processor,
            ExactlyOnce::new(),
            health,
            metrics,
        )?
        .run(shutdown),
    }
}

/// The stage's clients and what describes them. Records borrow the consumer while the
/// [`Worker`] handles them; the delivery strategy borrows all of them as [`Io`].
struct Clients<'a> {
    spec: &'a StageSpec,
    settings: &'a KafkaSettings,
    metrics: &'a Metrics,
    consumer: StageConsumer,
    producer: StageProducer,
    acks: Receiver<Ack>,
}

impl Clients<'_> {
    fn io(&self) -> Io<'_> {
        Io {
            consumer: &self.consumer,
            producer: &self.producer,
            acks: &self.acks,
            topic: &self.spec.input_topic,
            dlq_topic: &self.spec.dlq_topic,
            settings: self.settings,
            stage: self.spec.name,
            metrics: self.metrics,
        }
    }

    fn cooperative(&self) -> bool {
        matches!(
            self.consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        )
    }

    fn partition_list(&self, partitions: &[i32]) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for &partition in partitions {
            tpl.add_partition(&self.spec.input_topic, partition);
        }
        tpl
    }
}

/// What the loop changes record by record: the processor, the delivery strategy, and what
/// it reports.
struct Worker<'a, P, D> {
    spec: &'a StageSpec,
    settings: &'a KafkaSettings,
    metrics: &'a Metrics,
    health: &'a Arc<Health>,
    processor: P,
    delivery: D,
    report: StageReport,
    outputs: Vec<Output>,
    counters: Counters,
}

/// The stage's per-record series, looked up once: `with_label_values` hashes the labels
/// and takes a lock on every call, and a record passes several of them.
struct Counters {
    received: IntCounter,
    prepared: IntCounter,
    latency: Histogram,
    in_flight: IntGauge,
    /// `records_produced` by output topic, filled as topics appear.
    produced: HashMap<String, IntCounter, foldhash::fast::RandomState>,
}

impl Counters {
    fn new(metrics: &Metrics, stage: &str) -> Self {
        Counters {
            received: metrics.posts_received.with_label_values(&[stage]),
            prepared: metrics.records_prepared.with_label_values(&[stage]),
            latency: metrics.stage_latency.with_label_values(&[stage]),
            in_flight: metrics.in_flight.with_label_values(&[stage]),
            produced: HashMap::default(),
        }
    }

    fn produced(&mut self, metrics: &Metrics, stage: &str, topic: &str) -> &IntCounter {
        if !self.produced.contains_key(topic) {
            let counter = metrics.records_produced.with_label_values(&[stage, topic]);
            self.produced.insert(topic.to_string(), counter);
        }
        &self.produced[topic]
    }
}

/// A running stage. See the module docs.
pub(crate) struct StageLoop<'a, P, D> {
    clients: Clients<'a>,
    worker: Worker<'a, P, D>,
    rebalances: Receiver<Rebalanced>,
    /// Rebalances taken off the channel while reading ahead, applied before any newer one.
    held_rebalances: VecDeque<Rebalanced>,
    /// Partitions of the input topic this replica owns now.
    assigned: BTreeSet<i32>,
    last_tick: Instant,
}

impl<'a, P: Processor, D: Delivery> StageLoop<'a, P, D> {
    fn start(
        spec: &'a StageSpec,
        settings: &'a KafkaSettings,
        processor: P,
        delivery: D,
        health: &'a Arc<Health>,
        metrics: &'a Metrics,
    ) -> Result<Self, StageError> {
        let exactly_once = settings.delivery == DeliveryMode::ExactlyOnce;
        let (ack_tx, acks) = channel();
        let mut producer_config = client_config(settings, &ClientRole::Producer);
        producer_config
            .set_default("enable.idempotence", "true")
            .set_default("acks", "all")
            .set_default("linger.ms", "20")
            .set_default("compression.type", "lz4");
        if exactly_once {
            let instance = spec.instance_id.clone().unwrap_or_else(default_instance_id);
            producer_config.set(
                "transactional.id",
                format!("{}-{}-{}", spec.group_id, spec.name, instance),
            );
        }
        let producer: StageProducer = producer_config
            .create_with_context(ProducerEvents::new(ack_tx))
            .map_err(StageError::Config)?;
        if exactly_once {
            producer
                .init_transactions(Duration::from_secs(30))
                .map_err(StageError::Transaction)?;
        }

        let (rebalance_tx, rebalances) = channel();
        let mut consumer_config = client_config(settings, &ClientRole::Consumer);
        consumer_config
            .set("group.id", &spec.group_id)
            .set_default("auto.offset.reset", "earliest")
            .set_default("isolation.level", "read_committed")
            .set_default("statistics.interval.ms", "5000")
            .set_default("fetch.wait.max.ms", "100");
        if exactly_once {
            consumer_config.set("enable.auto.commit", "false");
        } else {
            consumer_config
                .set("enable.auto.commit", "true")
                .set_default("auto.commit.interval.ms", "1000")
                .set("enable.auto.offset.store", "false");
        }
        let consumer: StageConsumer = consumer_config
            .create_with_context(ConsumerEvents::new(
                rebalance_tx,
                spec.input_topic.clone(),
                spec.name,
                health.clone(),
                metrics.clone(),
            ))
            .map_err(StageError::Config)?;
        consumer
            .subscribe(&[&spec.input_topic])
            .map_err(StageError::Config)?;
        info!(stage = spec.name, topic = %spec.input_topic, group = %spec.group_id, mode = ?settings.delivery, "Stage started");

        // Counters an alert watches start at 0, so that Prometheus sees their first increase
        // (a series that appears already at 1 has no increase to show).
        for code in ["consume", "delivery_failed"] {
            metrics.errors.with_label_values(&[spec.name, code]);
        }
        for event in ["assigned", "revoked"] {
            metrics.rebalances.with_label_values(&[spec.name, event]);
        }
        let counters = Counters::new(metrics, spec.name);
        metrics.backpressure_seconds.with_label_values(&[spec.name]);
        Ok(StageLoop {
            clients: Clients {
                spec,
                settings,
                metrics,
                consumer,
                producer,
                acks,
            },
            worker: Worker {
                spec,
                settings,
                metrics,
                health,
                processor,
                delivery,
                counters,
                report: StageReport::default(),
                outputs: Vec::new(),
            },
            rebalances,
            held_rebalances: VecDeque::new(),
            assigned: BTreeSet::new(),
            last_tick: Instant::now(),
        })
    }

    fn run(mut self, shutdown: &Shutdown) -> Result<StageReport, StageError> {
        let result = self.turn_until(shutdown);
        self.finish(result)
    }

    /// Goes round until shutdown or an error.
    fn turn_until(&mut self, shutdown: &Shutdown) -> Result<(), StageError> {
        loop {
            self.worker.health.beat();
            if shutdown.is_triggered() {
                return Ok(());
            }
            self.apply_rebalances()?;
            let (clients, worker) = (&self.clients, &mut self.worker);
            worker.apply_acks(clients);
            if let Some(error) = worker.delivery.failure() {
                return Err(error);
            }
            worker.wait_for_room(clients, shutdown);
            let read_ahead = worker.processor.read_ahead().max(1);
            let messages = take(
                clients,
                &self.rebalances,
                &mut self.held_rebalances,
                read_ahead,
            )?;
            let inputs: Vec<Input<'_>> = messages.iter().map(input_of).collect();
            let prepared = if inputs.len() > 1 {
                worker.prepare(&inputs)
            } else {
                Duration::ZERO
            };
            for input in &inputs {
                worker.process(clients, input, prepared)?;
            }
            // The records borrow the consumer, which a rewind seeks.
            drop(inputs);
            drop(messages);
            let rewind = worker
                .delivery
                .maintain(&clients.io(), &mut worker.report)?;
            if let Some(rewind) = rewind {
                self.rewind(rewind)?;
            }
            if self.last_tick.elapsed() >= TICK_EVERY {
                self.last_tick = Instant::now();
                self.worker.tick(&self.clients)?;
            }
        }
    }

    /// Hands rebalances over: revoked partitions are settled (flush, commit or transaction)
    /// and forgotten by the processor before librdkafka hands them to another replica;
    /// assigned ones are restored by the processor before their first record is fetched.
    fn apply_rebalances(&mut self) -> Result<(), StageError> {
        while let Some(event) = self
            .held_rebalances
            .pop_front()
            .or_else(|| self.rebalances.try_recv().ok())
        {
            let stage = self.clients.spec.name;
            match event {
                Rebalanced::Revoked(partitions) => {
                    self.revoke(&partitions);
                    let tpl = self.clients.partition_list(&partitions);
                    let result = if self.clients.cooperative() {
                        self.clients.consumer.incremental_unassign(&tpl)
                    } else {
                        self.clients.consumer.unassign()
                    };
                    if let Err(e) = result {
                        warn!(stage, error = %e, "Unassigning revoked partitions failed");
                    }
                }
                Rebalanced::Assigned(partitions) => {
                    self.assign(&partitions)?;
                    let tpl = self.clients.partition_list(&partitions);
                    let result = if self.clients.cooperative() {
                        self.clients.consumer.incremental_assign(&tpl)
                    } else {
                        self.clients.consumer.assign(&tpl)
                    };
                    if let Err(e) = result {
                        warn!(stage, error = %e, "Assigning partitions failed");
                    }
                }
                Rebalanced::Failed(why) => {
                    warn!(stage, error = %why, "Rebalance error; giving up the assignment");
                    let all: Vec<i32> = self.assigned.iter().copied().collect();
                    self.revoke(&all);
                    if let Err(e) = self.clients.consumer.unassign() {
                        warn!(stage, error = %e, "Unassigning failed");
                    }
                }
            }
        }
        Ok(())
    }

    fn revoke(&mut self, partitions: &[i32]) {
        let (clients, worker) = (&self.clients, &mut self.worker);
        info!(
            stage = clients.spec.name,
            partitions = partitions.len(),
            "Partitions revoked"
        );
        worker.apply_acks(clients);
        let settled = worker
            .delivery
            .revoke(&clients.io(), partitions, &mut worker.report);
        worker.processor.revoked(partitions, settled);
        for partition in partitions {
            self.assigned.remove(partition);
            clients
                .metrics
                .consumer_lag
                .remove_label_values(&[&clients.spec.input_topic, &partition.to_string()])
                .ok();
        }
        self.note_assignment("revoked");
        self.worker.note_in_flight();
    }

    fn assign(&mut self, partitions: &[i32]) -> Result<(), StageError> {
        info!(
            stage = self.clients.spec.name,
            partitions = partitions.len(),
            "Partitions assigned"
        );
        // Joining the group took a coordinator: the client is connected.
        self.worker.health.connected.store(true, Ordering::SeqCst);
        self.assigned.extend(partitions.iter().copied());
        self.note_assignment("assigned");
        self.worker.restore(partitions)
    }

    /// The open transaction was aborted: its partitions are processed again from where it
    /// began, with their state as committed.
    fn rewind(&mut self, rewind: Rewind) -> Result<(), StageError> {
        let partitions: Vec<i32> = rewind.0.iter().map(|(p, _)| *p).collect();
        self.worker.processor.revoked(&partitions, false);
        self.worker.restore(&partitions)?;
        for (partition, offset) in rewind.0 {
            self.clients
                .consumer
                .seek(
                    &self.clients.spec.input_topic,
                    partition,
                    Offset::Offset(offset),
                    Duration::from_secs(10),
                )
                .map_err(StageError::Fatal)?;
        }
        Ok(())
    }

    /// Counts the partitions from the rebalance events themselves (which suits eager and
    /// cooperative protocols alike). Asking the consumer for its assignment blocked for
    /// good when the revoke came from closing the consumer at shutdown.
    fn note_assignment(&self, event: &str) {
        self.clients
            .metrics
            .rebalances
            .with_label_values(&[self.clients.spec.name, event])
            .inc();
        self.worker
            .health
            .assigned_partitions
            .store(self.assigned.len(), Ordering::SeqCst);
    }

    /// Graceful shutdown: not ready, no more intake, then settle within the deadline and
    /// hand the partitions back.
    fn finish(mut self, result: Result<(), StageError>) -> Result<StageReport, StageError> {
        let (clients, worker) = (&self.clients, &mut self.worker);
        let stage = clients.spec.name;
        worker.health.stopping.store(true, Ordering::SeqCst);
        // The process exits at `shutdown_seconds` whatever happens (the daemon's `wait`); the
        // flush takes what is left after room for the final commit, so that a broker that
        // is slow or frozen costs the outputs in flight (redelivered later), never the
        // deadline.
        let deadline = Duration::from_secs(clients.settings.shutdown_seconds.max(1))
            .saturating_sub(COMMIT_ROOM)
            .max(Duration::from_millis(500));
        let result = result.and_then(|()| worker.tick(clients));
        worker.apply_acks(clients);
        let clean = result.is_ok();
        let finished = worker
            .delivery
            .finish(&clients.io(), deadline, clean, &mut worker.report);
        let failure = worker.delivery.failure();
        let all: Vec<i32> = self.assigned.iter().copied().collect();
        worker
            .processor
            .revoked(&all, clean && finished.is_ok() && failure.is_none());
        // From here librdkafka's last revoke (closing the consumer on drop) is handled by
        // the callback itself.
        clients.consumer.context().loop_stopped();
        result?;
        finished?;
        if let Some(error) = failure {
            return Err(error);
        }
        let report = worker.report;
        info!(
            stage,
            received = report.received,
            produced = report.produced,
            dead_letters = report.dead_letters,
            "Stage stopped"
        );
        Ok(report)
    }
}

impl<P: Processor, D: Delivery> Worker<'_, P, D> {
    /// Lets the processor prepare records it is about to get; returns each record's share
    /// of the time it took. A panic is logged and otherwise ignored: `process` meets it
    /// again on the record that causes it, and dead-letters that record alone.
    fn prepare(&mut self, inputs: &[Input<'_>]) -> Duration {
        let started = Instant::now();
        self.counters.prepared.inc_by(inputs.len() as u64);
        let processor = &mut self.processor;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| processor.prepare(inputs))) {
            let panic = panic_message(panic.as_ref());
            warn!(stage = self.spec.name, panic = %panic, "Preparing records panicked; processing them one by one");
        }
        started.elapsed() / u32::try_from(inputs.len()).unwrap_or(u32::MAX).max(1)
    }

    /// Takes one record: processes it (or dead-letters it) and hands its outputs over.
    /// `prepared`: its share of the time spent preparing it with others, counted in its
    /// processing time.
    fn process(
        &mut self,
        clients: &Clients<'_>,
        input: &Input<'_>,
        prepared: Duration,
    ) -> Result<(), StageError> {
        self.health.connected.store(true, Ordering::Relaxed);
        let stage = self.spec.name;
        let started = Instant::now();
        self.report.received += 1;
        self.outputs.clear();
        let trace = input
            .trace_id
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}-{}-{}", input.topic, input.partition, input.offset));
        let ingested_at = input
            .ingested_at_ms
            .or(input.timestamp_ms)
            .unwrap_or_else(|| now_ms() as i64);
        let outcome = if self.delivery.refused_before(input.partition, input.offset) {
            Err(Reject::new(
                "output_refused",
                "the broker refused an output of this record for good",
            ))
        } else {
            match process_caught(&mut self.processor, input, &mut self.outputs) {
                Ok(outcome) => outcome,
                Err(panic) => {
                    error!(stage, topic = input.topic, partition = input.partition, offset = input.offset, panic = %panic, "Processing a record panicked (a bug in Earshot)");
                    self.metrics
                        .errors
                        .with_label_values(&[stage, "internal_error"])
                        .inc();
                    if self.settings.on_internal_error == InternalErrorPolicy::Stop {
                        return Err(StageError::Internal {
                            topic: input.topic.to_string(),
                            partition: input.partition,
                            offset: input.offset,
                            message: panic,
                        });
                    }
                    Err(Reject::new(
                        "internal_error",
                        format!("processing panicked: {panic}"),
                    ))
                }
            }
        };
        let outcome = outcome.and_then(|()| fits(&self.outputs, self.settings.max_message_bytes));
        if let Err(reject) = outcome {
            warn!(stage, code = reject.code, reason = %reject.reason, partition = input.partition, offset = input.offset, "Record sent to the dead-letter topic");
            self.metrics
                .dead_letters
                .with_label_values(&[stage, reject.code])
                .inc();
            self.report.dead_letters += 1;
            self.outputs.clear();
            self.outputs.push(self.dead_letter(input, &reject));
        }
        let source = (D::KEEPS_INPUTS && !self.outputs.is_empty())
            .then(|| Arc::new(Source::of(input, &trace, ingested_at)));
        self.report.produced += self.outputs.len() as u64;
        let taken = Taken {
            partition: input.partition,
            offset: input.offset,
            trace,
            ingested_at,
            source,
        };
        self.delivery
            .taken(&clients.io(), taken, &mut self.outputs)?;
        // At once, not at the next turn: a reader of the gauge that sees this record taken
        // must not see the stage idle before its outputs are sent. Counted as received only
        // then, for the same reason.
        self.note_in_flight();
        self.counters.received.inc();
        self.counters
            .latency
            .observe((started.elapsed() + prepared).as_secs_f64());
        Ok(())
    }

    fn dead_letter(&self, input: &Input<'_>, reject: &Reject) -> Output {
        DeadLetter {
            stage: self.spec.name,
            code: reject.code,
            reason: &reject.reason,
            origin: Some(Origin {
                topic: input.topic,
                partition: input.partition,
                offset: input.offset,
            }),
            extra: Vec::new(),
        }
        .to_output(
            &self.spec.dlq_topic,
            input.key,
            input.payload.unwrap_or_default(),
            dead_letter_room(self.settings.max_message_bytes),
            None,
        )
    }

    /// Lets the processor produce what time produces; a panic there is logged and counted,
    /// and stops the stage only under `on_internal_error = "stop"` (there is no record to
    /// dead-letter).
    fn tick(&mut self, clients: &Clients<'_>) -> Result<(), StageError> {
        let stage = self.spec.name;
        self.outputs.clear();
        let processor = &mut self.processor;
        let outputs = &mut self.outputs;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| processor.tick(outputs))) {
            let message = panic_message(panic.as_ref());
            error!(stage, panic = %message, "A periodic task panicked (a bug in Earshot)");
            self.metrics
                .errors
                .with_label_values(&[stage, "internal_error"])
                .inc();
            self.outputs.clear();
            if self.settings.on_internal_error == InternalErrorPolicy::Stop {
                return Err(StageError::Internal {
                    topic: String::new(),
                    partition: -1,
                    offset: -1,
                    message,
                });
            }
        }
        self.report.produced += self.outputs.len() as u64;
        self.delivery.tick(&clients.io(), &mut self.outputs)
    }

    /// The processor restores what `partitions` need, before any of their records.
    fn restore(&mut self, partitions: &[i32]) -> Result<(), StageError> {
        if partitions.is_empty() {
            return Ok(());
        }
        self.health.restoring.store(true, Ordering::SeqCst);
        let restored = self.processor.assigned(partitions);
        self.health.restoring.store(false, Ordering::SeqCst);
        restored.map_err(|why| StageError::Restore {
            partitions: partitions.to_vec(),
            error: why,
        })
    }

    fn apply_acks(&mut self, clients: &Clients<'_>) {
        while let Ok(ack) = clients.acks.try_recv() {
            self.acknowledged(clients, ack);
        }
        self.delivery.after_acks(&clients.io());
        self.note_in_flight();
    }

    fn acknowledged(&mut self, clients: &Clients<'_>, ack: Ack) {
        if ack.error.is_none() {
            self.health.acknowledged();
            self.counters
                .produced(self.metrics, self.spec.name, &ack.pending.topic)
                .inc();
        }
        self.delivery
            .acknowledged(&clients.io(), ack, &mut self.report);
    }

    fn note_in_flight(&self) {
        let waiting = self.delivery.waiting();
        self.counters.in_flight.set(waiting as i64);
        self.health.note_in_flight(waiting);
    }

    /// Backpressure: while `max_in_flight` input records wait for acknowledgements, read no
    /// more; apply acknowledgements until half of them have arrived.
    ///
    /// Not polling the consumer meanwhile is safe: heartbeats run on librdkafka's own
    /// thread, deliveries normally take milliseconds, and one that cannot be made fails
    /// within `message.timeout.ms`, which stops the stage. Pausing the partitions instead
    /// made librdkafka drop what it had fetched, and on tansu consumption sometimes never
    /// resumed.
    fn wait_for_room(&mut self, clients: &Clients<'_>, shutdown: &Shutdown) {
        let max = self.settings.max_in_flight.max(1);
        if self.delivery.waiting() < max {
            return;
        }
        let started = Instant::now();
        while self.delivery.waiting() > max / 2
            && !self.delivery.has_failed()
            && !shutdown.is_triggered()
        {
            self.health.beat();
            self.note_in_flight();
            if let Ok(ack) = clients.acks.recv_timeout(Duration::from_millis(100)) {
                self.acknowledged(clients, ack);
                while let Ok(ack) = clients.acks.try_recv() {
                    self.acknowledged(clients, ack);
                }
                self.delivery.after_acks(&clients.io());
            }
        }
        self.metrics
            .backpressure_seconds
            .with_label_values(&[self.spec.name])
            .inc_by(started.elapsed().as_secs_f64());
        self.note_in_flight();
    }
}

/// Refuses outputs that the broker would refuse for their size: the input then goes to the
/// dead-letter topic instead of stopping the partition.
fn fits(outputs: &[Output], max_message_bytes: usize) -> Result<(), Reject> {
    for output in outputs {
        let size = output.size() + crate::dead_letter::RECORD_OVERHEAD_BYTES / 4;
        if size > max_message_bytes {
            return Err(Reject::new(
                "output_too_large",
                format!(
                    "an output to {} would be {size} bytes, more than max_message_bytes = {max_message_bytes}",
                    output.topic
                ),
            ));
        }
    }
    Ok(())
}

/// Runs the processor on one record. `Err` carries the message of a panic: a bug met on
/// one record must not stop the partition (the caller dead-letters the record), and the
/// processor's state is per-record scratch or state a half-applied record leaves consistent
/// enough to go on with (route's folding tables), as Kafka Streams assumes for its
/// log-and-continue handler.
fn process_caught<P: Processor>(
    processor: &mut P,
    input: &Input<'_>,
    outputs: &mut Vec<Output>,
) -> Result<Result<(), Reject>, String> {
    catch_unwind(AssertUnwindSafe(|| processor.process(input, outputs))).map_err(|panic| {
        outputs.clear();
        panic_message(panic.as_ref())
    })
}

/// The message a panic carried (`panic!("…")` gives a `&str` or a `String`), bounded: it
/// goes into a header.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    clip(&message, MAX_REASON_BYTES)
}

/// The records of one turn: the first waits up to `POLL`; while fewer than `read_ahead`
/// are taken, more follow as long as librdkafka holds them already. Taking stops at a
/// rebalance, which is held for the next turn: the records taken before it are of
/// partitions still this replica's, since librdkafka waits for the loop to unassign them.
fn take<'c>(
    clients: &'c Clients<'_>,
    rebalances: &Receiver<Rebalanced>,
    held: &mut VecDeque<Rebalanced>,
    read_ahead: usize,
) -> Result<Vec<BorrowedMessage<'c>>, StageError> {
    let stage = clients.spec.name;
    let mut messages = Vec::new();
    let mut wait = POLL;
    while messages.len() < read_ahead {
        let polled = clients.consumer.poll(wait);
        wait = Duration::ZERO;
        match polled {
            None => break,
            Some(Err(e)) => {
                clients
                    .metrics
                    .errors
                    .with_label_values(&[stage, "consume"])
                    .inc();
                if is_fatal(&e) {
                    error!(stage, error = %e, "Fatal consumer error");
                    return Err(StageError::Fatal(e));
                }
                warn!(stage, error = %e, code = ?e.rdkafka_error_code(), "Consumer error; retrying");
                break;
            }
            Some(Ok(message)) => messages.push(message),
        }
        if read_ahead > 1 {
            held.extend(rebalances.try_iter());
            if !held.is_empty() {
                break;
            }
        }
    }
    Ok(messages)
}

fn input_of<'a>(message: &'a BorrowedMessage<'a>) -> Input<'a> {
    let header = |name: &str| -> Option<&'a str> {
        let headers = message.headers()?;
        headers
            .iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value)
            .and_then(|v| std::str::from_utf8(v).ok())
    };
    Input {
        topic: message.topic(),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key(),
        payload: message.payload(),
        timestamp_ms: message.timestamp().to_millis(),
        trace_id: header(TRACE_HEADER),
        ingested_at_ms: header(INGESTED_AT_HEADER).and_then(|v| v.parse().ok()),
    }
}

fn default_instance_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!("{host}-{}", std::process::id())
}
