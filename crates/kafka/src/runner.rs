//! The stage runner: consume → process → produce, with at-least-once or exactly-once
//! delivery, dead letters, backpressure and graceful shutdown.
//!
//! Everything runs on one dedicated thread (`run_stage` blocks): librdkafka's rebalance
//! callbacks run inside `poll`, they must block (flush, synchronous commit), and they must
//! never do so on a tokio worker. Delivery reports arrive on the producer's own thread and
//! only touch the [`OffsetTracker`].
//!
//! At-least-once (the default): `enable.auto.offset.store=false`; an input offset is stored
//! only when every output of that message and of every earlier message of its partition is
//! acknowledged; stored offsets are auto-committed every second, and committed synchronously
//! when partitions are revoked and at shutdown. A delivery that fails for good pins its
//! partition and stops the stage with an error: nothing past it is committed.
//!
//! Exactly-once: outputs and input offsets go into one transaction
//! (`send_offsets_to_transaction`), ended every `transaction_messages` records or
//! `transaction_ms`. A revoke aborts the open transaction; its records are redelivered to
//! the partition's next owner.

use std::any::Any;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tracing::{debug, error, info, warn};

use crate::metrics::Metrics;
use crate::offsets::OffsetTracker;
use crate::record::*;
use crate::settings::{DeliveryMode, InternalErrorPolicy, KafkaSettings};
use crate::StageError;

/// What a stage reports to the admin endpoints: readiness and liveness.
#[derive(Debug, Default)]
pub struct Health {
    /// Partitions of the input topic assigned to this replica.
    pub assigned_partitions: AtomicUsize,
    /// Whether the client reached a broker lately: set by fetched records and librdkafka's
    /// statistics, cleared when all broker connections are down.
    pub connected: AtomicBool,
    /// Set once shutdown began (or the stage stopped).
    pub stopping: AtomicBool,
    /// Last time (ms since the epoch) the processing loop went round.
    pub last_progress_ms: AtomicU64,
    /// Input records whose outputs await acknowledgement, and since when (ms since the
    /// epoch) some have been waiting.
    pub in_flight: AtomicUsize,
    pub in_flight_since_ms: AtomicU64,
    /// Last time (ms since the epoch) the broker acknowledged an output.
    pub last_ack_ms: AtomicU64,
}

/// Outputs waiting this long with no acknowledgement at all make a stage not ready: the
/// broker accepts connections but does not answer (frozen, overloaded, partitioned away).
pub const READY_STALL: Duration = Duration::from_secs(10);

impl Health {
    pub fn new() -> Arc<Health> {
        Arc::new(Health::default())
    }

    /// Ready: has partitions to work on, is connected, and is not shutting down.
    pub fn is_ready(&self) -> bool {
        self.not_ready_because().is_none()
    }

    /// Why the stage is not ready, if it is not.
    pub fn not_ready_because(&self) -> Option<&'static str> {
        if self.stopping.load(Ordering::SeqCst) {
            Some("shutting down")
        } else if self.assigned_partitions.load(Ordering::SeqCst) == 0 {
            Some("no partitions assigned")
        } else if !self.connected.load(Ordering::SeqCst) {
            Some("no broker connection")
        } else if self.stalled_for() > READY_STALL {
            Some("outputs not acknowledged by the broker")
        } else {
            None
        }
    }

    /// How long outputs have waited with no acknowledgement at all; zero when none waits.
    pub fn stalled_for(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            return Duration::ZERO;
        }
        let since = self
            .in_flight_since_ms
            .load(Ordering::SeqCst)
            .max(self.last_ack_ms.load(Ordering::SeqCst));
        Duration::from_millis((now_ms() as u64).saturating_sub(since))
    }

    /// The stage loop saw `waiting` input records with outputs in flight.
    fn note_in_flight(&self, waiting: usize) {
        let before = self.in_flight.swap(waiting, Ordering::SeqCst);
        if before == 0 && waiting > 0 {
            self.in_flight_since_ms
                .store(now_ms() as u64, Ordering::SeqCst);
        }
    }

    fn acknowledged(&self) {
        self.last_ack_ms.store(now_ms() as u64, Ordering::Relaxed);
    }

    fn beat(&self) {
        self.last_progress_ms
            .store(now_ms() as u64, Ordering::Relaxed);
    }

    /// Whether the loop went round within `within`.
    pub fn is_live(&self, within: Duration) -> bool {
        let last = self.last_progress_ms.load(Ordering::Relaxed);
        last > 0 && (now_ms() as u64).saturating_sub(last) <= within.as_millis() as u64
    }
}

/// Asks a running stage to stop: stop intake, drain, flush, commit, return.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a stage did, returned when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageReport {
    pub received: u64,
    pub produced: u64,
    pub dead_letters: u64,
}

/// One stage: its name (a metrics label), input topic and consumer group.
#[derive(Debug, Clone)]
pub struct StageSpec {
    pub name: &'static str,
    pub input_topic: String,
    pub group_id: String,
    /// Distinguishes replicas in exactly-once mode (`transactional.id`); defaults to the
    /// host name and process id.
    pub instance_id: Option<String>,
}

/// Marks which input message a produced record belongs to; `partition < 0` for records
/// no input offset waits for (tick outputs, exactly-once mode).
struct Pending {
    partition: i32,
    offset: i64,
    topic: String,
    /// The input, for the dead-letter topic if the broker refuses this output for good
    /// (at-least-once only).
    source: Option<Arc<Source>>,
}

/// An input record kept until its outputs are acknowledged: if the broker refuses one of
/// them for a permanent reason (too large, invalid), the input goes to the dead-letter topic
/// instead and the partition moves on.
struct Source {
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    trace: String,
    ingested_at: i64,
    /// Set once the input was dead-lettered (several of its outputs may be refused).
    dead_lettered: AtomicBool,
}

impl Source {
    fn input(&self) -> Input<'_> {
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

/// Outputs the broker refused for good, handed from the producer's thread to the stage loop.
type Refused = Mutex<Vec<(Arc<Source>, String)>>;

struct DeliveryContext {
    tracker: Arc<Mutex<OffsetTracker>>,
    /// Notified on every delivery report, for a loop waiting for room (backpressure).
    delivered: Arc<Condvar>,
    metrics: Metrics,
    stage: &'static str,
    failure: Arc<Mutex<Option<StageError>>>,
    refused: Arc<Refused>,
    health: Arc<Health>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<Pending>;

    fn delivery(&self, result: &DeliveryResult<'_>, pending: Box<Pending>) {
        match result {
            Ok(_) => {
                self.health.acknowledged();
                self.metrics
                    .records_produced
                    .with_label_values(&[self.stage, &pending.topic])
                    .inc();
                if pending.partition >= 0 {
                    lock(&self.tracker).ack(pending.partition, pending.offset);
                }
            }
            Err((e, _)) => self.refused_or_failed(pending, e),
        }
        self.delivered.notify_all();
    }
}

impl DeliveryContext {
    /// An output was not delivered. Refused for a permanent reason (too large, invalid),
    /// its input goes to the dead-letter topic (by the stage loop) and the partition moves
    /// on; otherwise (the broker unreachable past the client's retries) the stage stops.
    fn refused_or_failed(&self, pending: Box<Pending>, error: &KafkaError) {
        match &pending.source {
            Some(source) if is_permanent(error) => {
                lock(&self.refused).push((
                    source.clone(),
                    format!("the broker refused an output to {}: {error}", pending.topic),
                ));
            }
            _ => self.failed(&pending, error),
        }
    }

    /// An output will never be delivered: pin its partition and stop the stage.
    fn failed(&self, pending: &Pending, error: &KafkaError) {
        error!(stage = self.stage, error = %error, topic = %pending.topic, partition = pending.partition, offset = pending.offset, "Could not deliver an output; offsets past it will not be committed");
        self.metrics
            .errors
            .with_label_values(&[self.stage, "delivery_failed"])
            .inc();
        if pending.partition >= 0 {
            lock(&self.tracker).fail(pending.partition, pending.offset);
        }
        let mut failure = lock(&self.failure);
        if failure.is_none() {
            *failure = Some(StageError::Delivery {
                topic: pending.topic.clone(),
                partition: pending.partition,
                offset: pending.offset,
                error: error.to_string(),
            });
        }
    }
}

type StageProducer = ThreadedProducer<DeliveryContext>;

struct RebalanceContext {
    producer: Arc<StageProducer>,
    tracker: Arc<Mutex<OffsetTracker>>,
    topic: String,
    mode: DeliveryMode,
    health: Arc<Health>,
    stage: &'static str,
    in_transaction: Arc<AtomicBool>,
    metrics: Metrics,
}

impl ClientContext for RebalanceContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.health.connected.store(false, Ordering::SeqCst);
        }
        error!(stage = self.stage, error = %error, reason, "Kafka client error");
    }

    /// Consumer lag from librdkafka's statistics (every `statistics.interval.ms`), which
    /// use the high watermark of the last fetch response: asking the broker for watermarks
    /// would block the processing loop, and tansu could take seconds to answer.
    fn stats(&self, statistics: Statistics) {
        // Real brokers have node ids >= 0; the bootstrap entries do not.
        let up = statistics
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP");
        self.health.connected.store(up, Ordering::SeqCst);
        let Some(topic) = statistics.topics.get(&self.topic) else {
            return;
        };
        for partition in topic.partitions.values() {
            // Unassigned partitions and the internal "-1" partition report a lag of -1.
            if partition.partition >= 0 && partition.consumer_lag >= 0 {
                self.metrics
                    .consumer_lag
                    .with_label_values(&[&self.topic, &partition.partition.to_string()])
                    .set(partition.consumer_lag);
            }
        }
    }
}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        info!(
            stage = self.stage,
            partitions = revoked.count(),
            "Partitions revoked"
        );
        match self.mode {
            DeliveryMode::AtLeastOnce => {
                // Wait for the outputs of what this replica took, so that its offsets can be
                // committed before another replica takes over the partitions.
                if let Err(e) = self.producer.flush(Duration::from_secs(30)) {
                    warn!(stage = self.stage, error = %e, "Outputs still in flight at revoke; their messages will be redelivered");
                }
                let mut tracker = lock(&self.tracker);
                store(
                    consumer,
                    &self.topic,
                    &tracker.take_committable(),
                    self.stage,
                    &self.metrics,
                );
                if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                    if !matches!(e, KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) {
                        warn!(stage = self.stage, error = %e, "Commit at revoke failed");
                    }
                }
                for element in revoked.elements() {
                    tracker.forget(element.partition());
                    self.metrics
                        .consumer_lag
                        .remove_label_values(&[&self.topic, &element.partition().to_string()])
                        .ok();
                }
            }
            DeliveryMode::ExactlyOnce => {
                if self.in_transaction.swap(false, Ordering::SeqCst) {
                    if let Err(e) = self.producer.abort_transaction(Duration::from_secs(30)) {
                        error!(stage = self.stage, error = %e, "Could not abort the transaction at revoke");
                    }
                }
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(assigned) => {
                info!(
                    stage = self.stage,
                    partitions = assigned.count(),
                    "Partitions assigned"
                );
                // Joining the group took a coordinator: the client is connected.
                self.health.connected.store(true, Ordering::SeqCst);
                self.note_assignment(assigned, "assigned");
            }
            Rebalance::Revoke(revoked) => self.note_assignment(revoked, "revoked"),
            Rebalance::Error(e) => warn!(stage = self.stage, error = %e, "Rebalance error"),
        }
    }
}

impl RebalanceContext {
    /// Counts the partitions from the rebalance events themselves (added on assign, taken
    /// off on revoke, which suits eager and cooperative protocols alike). Asking the
    /// consumer for its assignment here blocked for good when the revoke came from closing
    /// the consumer at shutdown.
    fn note_assignment(&self, partitions: &TopicPartitionList, event: &str) {
        self.metrics
            .rebalances
            .with_label_values(&[self.stage, event])
            .inc();
        let count = partitions.count();
        let assigned = &self.health.assigned_partitions;
        if event == "assigned" {
            assigned.fetch_add(count, Ordering::SeqCst);
        } else {
            let _ = assigned.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_sub(count))
            });
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain counters behind; carry on with them.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn store(
    consumer: &BaseConsumer<impl ConsumerContext>,
    topic: &str,
    offsets: &[(i32, i64)],
    stage: &str,
    metrics: &Metrics,
) {
    if offsets.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for &(partition, offset) in offsets {
        // `store_offsets` takes the next offset to read, as given (no +1).
        if tpl
            .add_partition_offset(topic, partition, Offset::Offset(offset))
            .is_err()
        {
            continue;
        }
    }
    if let Err(e) = consumer.store_offsets(&tpl) {
        debug!(stage, error = %e, "Could not store offsets (partition no longer assigned?)");
        metrics
            .errors
            .with_label_values(&[stage, "offset_store"])
            .inc();
    }
}

/// Builds a client configuration from the settings: the brokers, every pass-through
/// property (SASL, TLS, …), then the per-role ones.
pub fn client_config(settings: &KafkaSettings, role: &ClientRole) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &settings.brokers);
    let extra = match role {
        ClientRole::Consumer => Some(&settings.consumer),
        ClientRole::Producer => Some(&settings.producer),
        ClientRole::Admin => None,
    };
    for (k, v) in settings
        .properties
        .iter()
        .chain(extra.into_iter().flatten())
    {
        config.set(k, v);
    }
    config
}

/// Sets a property unless the operator already set it.
trait SetDefault {
    fn set_default(&mut self, key: &str, value: &str);
}

impl SetDefault for ClientConfig {
    fn set_default(&mut self, key: &str, value: &str) {
        if self.get(key).is_none() {
            self.set(key, value);
        }
    }
}

/// Which per-role properties apply.
#[derive(Debug, Clone, Copy)]
pub enum ClientRole {
    Consumer,
    Producer,
    /// Creating topics: the common properties only.
    Admin,
}

/// Runs a stage until `shutdown` is triggered or a fatal error occurs. Blocks the calling
/// thread; run it on a thread of its own.
pub fn run_stage<P: Processor>(
    spec: &StageSpec,
    settings: &KafkaSettings,
    mut processor: P,
    shutdown: &Shutdown,
    health: &Arc<Health>,
    metrics: &Metrics,
) -> Result<StageReport, StageError> {
    let stage = spec.name;
    let tracker = Arc::new(Mutex::new(OffsetTracker::new()));
    let delivered = Arc::new(Condvar::new());
    let failure = Arc::new(Mutex::new(None));
    let refused: Arc<Refused> = Arc::new(Mutex::new(Vec::new()));
    let exactly_once = settings.delivery == DeliveryMode::ExactlyOnce;

    let mut producer_config = client_config(settings, &ClientRole::Producer);
    producer_config.set_default("enable.idempotence", "true");
    producer_config.set_default("acks", "all");
    producer_config.set_default("linger.ms", "20");
    producer_config.set_default("compression.type", "lz4");
    if exactly_once {
        let instance = spec.instance_id.clone().unwrap_or_else(default_instance_id);
        producer_config.set(
            "transactional.id",
            format!("{}-{}-{}", spec.group_id, stage, instance),
        );
    }
    let producer: Arc<StageProducer> = Arc::new(
        producer_config
            .create_with_context(DeliveryContext {
                tracker: tracker.clone(),
                delivered: delivered.clone(),
                metrics: metrics.clone(),
                stage,
                failure: failure.clone(),
                refused: refused.clone(),
                health: health.clone(),
            })
            .map_err(StageError::Config)?,
    );
    if exactly_once {
        producer
            .init_transactions(Duration::from_secs(30))
            .map_err(StageError::Transaction)?;
    }

    let in_transaction = Arc::new(AtomicBool::new(false));
    let mut consumer_config = client_config(settings, &ClientRole::Consumer);
    consumer_config.set("group.id", &spec.group_id);
    consumer_config.set_default("auto.offset.reset", "earliest");
    consumer_config.set_default("isolation.level", "read_committed");
    consumer_config.set_default("statistics.interval.ms", "5000");
    consumer_config.set_default("fetch.wait.max.ms", "100");
    if exactly_once {
        consumer_config.set("enable.auto.commit", "false");
    } else {
        consumer_config.set("enable.auto.commit", "true");
        consumer_config.set_default("auto.commit.interval.ms", "1000");
        consumer_config.set("enable.auto.offset.store", "false");
    }
    let consumer: BaseConsumer<RebalanceContext> = consumer_config
        .create_with_context(RebalanceContext {
            producer: producer.clone(),
            tracker: tracker.clone(),
            topic: spec.input_topic.clone(),
            mode: settings.delivery,
            health: health.clone(),
            stage,
            in_transaction: in_transaction.clone(),
            metrics: metrics.clone(),
        })
        .map_err(StageError::Config)?;
    consumer
        .subscribe(&[&spec.input_topic])
        .map_err(StageError::Config)?;
    info!(stage, topic = %spec.input_topic, group = %spec.group_id, mode = ?settings.delivery, "Stage started");

    let mut report = StageReport::default();
    let mut outputs = Vec::new();
    let mut last_tick = Instant::now();
    let mut last_store = Instant::now();
    let mut txn = Transaction {
        started: Instant::now(),
        messages: 0,
        positions: HashMap::new(),
    };
    let received = metrics.posts_received.with_label_values(&[stage]);
    // Counters an alert watches start at 0, so that Prometheus sees their first increase
    // (a series that appears already at 1 has no increase to show).
    for code in ["consume", "delivery_failed"] {
        metrics.errors.with_label_values(&[stage, code]);
    }
    for event in ["assigned", "revoked"] {
        metrics.rebalances.with_label_values(&[stage, event]);
    }
    let latency = metrics.stage_latency.with_label_values(&[stage]);
    let in_flight = metrics.in_flight.with_label_values(&[stage]);
    let backpressure = metrics.backpressure_seconds.with_label_values(&[stage]);

    let result = loop {
        health.beat();
        if shutdown.is_triggered() {
            break Ok(());
        }
        if let Some(error) = lock(&failure).take() {
            break Err(error);
        }
        let waiting = wait_for_room(
            &tracker,
            &delivered,
            settings.max_in_flight,
            shutdown,
            health,
            &backpressure,
        );
        in_flight.set(waiting as i64);
        health.note_in_flight(waiting);

        match consumer.poll(Duration::from_millis(50)) {
            None => {}
            Some(Err(e)) => {
                let code = e.rdkafka_error_code();
                metrics.errors.with_label_values(&[stage, "consume"]).inc();
                if is_fatal(&e) {
                    error!(stage, error = %e, "Fatal consumer error");
                    break Err(StageError::Fatal(e));
                }
                warn!(stage, error = %e, ?code, "Consumer error; retrying");
            }
            Some(Ok(message)) => {
                health.connected.store(true, Ordering::Relaxed);
                let started = Instant::now();
                report.received += 1;
                outputs.clear();
                let input = input_of(&message);
                let trace = input.trace_id.map(str::to_string).unwrap_or_else(|| {
                    format!("{}-{}-{}", input.topic, input.partition, input.offset)
                });
                let ingested_at = input
                    .ingested_at_ms
                    .or(input.timestamp_ms)
                    .unwrap_or_else(now_ms);
                let outcome = match process_caught(&mut processor, &input, &mut outputs) {
                    Ok(outcome) => outcome,
                    Err(panic) => {
                        error!(stage, topic = input.topic, partition = input.partition, offset = input.offset, panic = %panic, "Processing a record panicked (a bug in Earshot)");
                        metrics
                            .errors
                            .with_label_values(&[stage, "internal_error"])
                            .inc();
                        if settings.on_internal_error == InternalErrorPolicy::Stop {
                            if !exactly_once {
                                lock(&tracker).fail(input.partition, input.offset);
                            }
                            break Err(StageError::Internal {
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
                };
                let outcome = outcome.and_then(|()| fits(&outputs, settings.max_message_bytes));
                if let Err(reject) = outcome {
                    warn!(stage, code = reject.code, reason = %reject.reason, partition = input.partition, offset = input.offset, "Record sent to the dead-letter topic");
                    metrics
                        .dead_letters
                        .with_label_values(&[stage, reject.code])
                        .inc();
                    report.dead_letters += 1;
                    outputs.clear();
                    outputs.push(dead_letter(settings, stage, &input, &reject));
                }
                let (partition, offset) = (input.partition, input.offset);
                if exactly_once {
                    if !in_transaction.load(Ordering::SeqCst) {
                        producer
                            .begin_transaction()
                            .map_err(StageError::Transaction)?;
                        in_transaction.store(true, Ordering::SeqCst);
                        txn = Transaction {
                            started: Instant::now(),
                            messages: 0,
                            positions: HashMap::new(),
                        };
                    }
                    txn.messages += 1;
                    txn.positions.insert(partition, offset + 1);
                } else {
                    let mut tracker = lock(&tracker);
                    tracker.begin(partition, offset, outputs.len() as u32);
                    // At once, not at the next turn: a reader of the gauge that sees this
                    // record taken must not see the stage idle before its outputs are sent.
                    in_flight.set(tracker.waiting() as i64);
                }
                // Counted once its outputs are accounted for (in flight), so that a watcher
                // never sees a record taken while the stage looks idle.
                received.inc();
                let link = if exactly_once { -1 } else { partition };
                let source = (!exactly_once && !outputs.is_empty()).then(|| {
                    Arc::new(Source {
                        topic: input.topic.to_string(),
                        partition,
                        offset,
                        key: input.key.map(<[u8]>::to_vec),
                        payload: input.payload.map(<[u8]>::to_vec),
                        trace: trace.clone(),
                        ingested_at,
                        dead_lettered: AtomicBool::new(false),
                    })
                });
                for output in outputs.drain(..) {
                    report.produced += 1;
                    send(
                        &producer,
                        output,
                        link,
                        offset,
                        (&trace, ingested_at),
                        source.clone(),
                    );
                }
                latency.observe(started.elapsed().as_secs_f64());
            }
        }

        report.dead_letters +=
            dead_letter_refused(&refused, &tracker, &producer, settings, stage, metrics);
        if exactly_once && in_transaction.load(Ordering::SeqCst) && txn.is_due(settings) {
            commit_transaction(
                &producer,
                &consumer,
                &spec.input_topic,
                &mut txn,
                &in_transaction,
            )?;
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            tick(
                &mut processor,
                &producer,
                &mut outputs,
                exactly_once,
                &in_transaction,
                (stage, metrics, settings.on_internal_error),
            )?;
        }
        // Stored offsets are committed once a second; storing them more often than every
        // few milliseconds only costs time (revoke and shutdown store what is due anyway).
        if !exactly_once && last_store.elapsed() >= STORE_EVERY {
            last_store = Instant::now();
            let offsets = lock(&tracker).take_committable();
            store(&consumer, &spec.input_topic, &offsets, stage, metrics);
        }
    };

    // Graceful shutdown: not ready, no more intake, then drain, flush and commit.
    health.stopping.store(true, Ordering::SeqCst);
    // The process exits at `shutdown_seconds` whatever happens (the daemon's `wait`); the
    // flush takes what is left after room for the final commit, so that a broker that is
    // slow or frozen costs the outputs in flight (redelivered later), never the deadline.
    let deadline = Duration::from_secs(settings.shutdown_seconds.max(1))
        .saturating_sub(COMMIT_ROOM)
        .max(Duration::from_millis(500));
    if result.is_ok() {
        tick(
            &mut processor,
            &producer,
            &mut outputs,
            exactly_once,
            &in_transaction,
            (stage, metrics, settings.on_internal_error),
        )?;
    }
    if exactly_once {
        if in_transaction.load(Ordering::SeqCst) {
            if result.is_ok() {
                commit_transaction(
                    &producer,
                    &consumer,
                    &spec.input_topic,
                    &mut txn,
                    &in_transaction,
                )?;
            } else {
                producer.abort_transaction(deadline).ok();
            }
        }
    } else {
        if let Err(e) = producer.flush(deadline) {
            warn!(stage, error = %e, "Outputs still in flight at shutdown; their messages will be redelivered");
        }
        let offsets = lock(&tracker).take_committable();
        store(&consumer, &spec.input_topic, &offsets, stage, metrics);
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => {}
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => {
                warn!(stage, error = %e, "Final commit failed; uncommitted messages will be redelivered")
            }
        }
    }
    if let Some(error) = lock(&failure).take() {
        return Err(error);
    }
    info!(
        stage,
        received = report.received,
        produced = report.produced,
        dead_letters = report.dead_letters,
        "Stage stopped"
    );
    result.map(|()| report)
}

/// Backpressure: while `max_in_flight` input records wait for acknowledgements, read no
/// more; wait for delivery reports until half of them have arrived. Returns how many wait.
///
/// Not polling the consumer meanwhile is safe: heartbeats run on librdkafka's own thread,
/// deliveries normally take milliseconds, and one that cannot be made fails within
/// `message.timeout.ms`, which stops the stage. Pausing the partitions instead made
/// librdkafka drop what it had fetched, and on tansu consumption sometimes never resumed.
fn wait_for_room(
    tracker: &Mutex<OffsetTracker>,
    delivered: &Condvar,
    max_in_flight: usize,
    shutdown: &Shutdown,
    health: &Health,
    waited: &prometheus::Counter,
) -> usize {
    let mut tracker = lock(tracker);
    if tracker.waiting() < max_in_flight.max(1) {
        return tracker.waiting();
    }
    let started = Instant::now();
    while tracker.waiting() > max_in_flight / 2 && !tracker.has_failed() && !shutdown.is_triggered()
    {
        health.beat();
        health.note_in_flight(tracker.waiting());
        tracker = delivered
            .wait_timeout(tracker, Duration::from_millis(100))
            .map_or_else(|poisoned| poisoned.into_inner().0, |(guard, _)| guard);
    }
    waited.inc_by(started.elapsed().as_secs_f64());
    tracker.waiting()
}

/// Of the shutdown deadline, what is kept for the final commit after flushing.
const COMMIT_ROOM: Duration = Duration::from_secs(2);

/// How often the loop stores committable offsets (at-least-once).
const STORE_EVERY: Duration = Duration::from_millis(20);

struct Transaction {
    started: Instant,
    messages: usize,
    positions: HashMap<i32, i64>,
}

impl Transaction {
    /// Called only while a transaction is open. One that `tick` opened holds no message
    /// (`messages == 0`) and must still end on time: left open until the next input record,
    /// it would hold back read_committed readers and outlive `transaction.timeout.ms`.
    fn is_due(&self, settings: &KafkaSettings) -> bool {
        self.messages >= settings.transaction_messages.max(1)
            || self.started.elapsed() >= Duration::from_millis(settings.transaction_ms)
    }
}

fn commit_transaction(
    producer: &StageProducer,
    consumer: &BaseConsumer<RebalanceContext>,
    topic: &str,
    txn: &mut Transaction,
    in_transaction: &AtomicBool,
) -> Result<(), StageError> {
    let timeout = Duration::from_secs(30);
    if !txn.positions.is_empty() {
        let mut tpl = TopicPartitionList::new();
        for (&partition, &offset) in &txn.positions {
            tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
                .map_err(StageError::Transaction)?;
        }
        let metadata =
            consumer
                .group_metadata()
                .ok_or(StageError::Fatal(KafkaError::ConsumerCommit(
                    RDKafkaErrorCode::InvalidGroupId,
                )))?;
        producer
            .send_offsets_to_transaction(&tpl, &metadata, timeout)
            .map_err(StageError::Transaction)?;
    }
    producer
        .commit_transaction(timeout)
        .map_err(StageError::Transaction)?;
    in_transaction.store(false, Ordering::SeqCst);
    txn.messages = 0;
    txn.positions.clear();
    Ok(())
}

/// Lets the processor produce what time produces; a panic there is logged and counted, and
/// stops the stage only under `on_internal_error = "stop"` (there is no record to
/// dead-letter).
fn tick<P: Processor>(
    processor: &mut P,
    producer: &StageProducer,
    outputs: &mut Vec<Output>,
    exactly_once: bool,
    in_transaction: &AtomicBool,
    (stage, metrics, policy): (&str, &Metrics, InternalErrorPolicy),
) -> Result<(), StageError> {
    outputs.clear();
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| processor.tick(outputs))) {
        let message = panic_message(panic.as_ref());
        error!(stage, panic = %message, "A periodic task panicked (a bug in Earshot)");
        metrics
            .errors
            .with_label_values(&[stage, "internal_error"])
            .inc();
        outputs.clear();
        if policy == InternalErrorPolicy::Stop {
            return Err(StageError::Internal {
                topic: String::new(),
                partition: -1,
                offset: -1,
                message,
            });
        }
    }
    if outputs.is_empty() {
        return Ok(());
    }
    if exactly_once && !in_transaction.load(Ordering::SeqCst) {
        producer
            .begin_transaction()
            .map_err(StageError::Transaction)?;
        in_transaction.store(true, Ordering::SeqCst);
    }
    let now = now_ms();
    for output in outputs.drain(..) {
        send(producer, output, -1, 0, ("tick", now), None);
    }
    Ok(())
}

/// Produces one record, waiting while the producer's queue is full (backpressure).
fn send(
    producer: &StageProducer,
    output: Output,
    partition: i32,
    offset: i64,
    (trace, ingested_at): (&str, i64),
    source: Option<Arc<Source>>,
) {
    let mut headers = OwnedHeaders::new_with_capacity(3 + output.headers.len())
        .insert(Header {
            key: SCHEMA_HEADER,
            value: Some(output.schema_version.to_string().as_bytes()),
        })
        .insert(Header {
            key: TRACE_HEADER,
            value: Some(trace.as_bytes()),
        })
        .insert(Header {
            key: INGESTED_AT_HEADER,
            value: Some(ingested_at.to_string().as_bytes()),
        });
    for (key, value) in &output.headers {
        headers = headers.insert(Header {
            key,
            value: Some(value.as_bytes()),
        });
    }
    let pending = Box::new(Pending {
        partition,
        offset,
        topic: output.topic.clone(),
        source,
    });
    let mut record = BaseRecord::with_opaque_to(&output.topic, pending)
        .payload(&output.payload)
        .headers(headers);
    if let Some(key) = &output.key {
        record = record.key(key);
    }
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((e, back)) => {
                // Not even queued (too large for the client): the same as a failed delivery.
                producer
                    .context()
                    .refused_or_failed(back.delivery_opaque, &e);
                return;
            }
        }
    }
}

fn dead_letter(
    settings: &KafkaSettings,
    stage: &str,
    input: &Input<'_>,
    reject: &Reject,
) -> Output {
    // The input came through Kafka, but the headers added here could push it over the
    // limit: leave room for them.
    let room = settings
        .max_message_bytes
        .saturating_sub(MAX_REASON_BYTES + RECORD_OVERHEAD_BYTES);
    let (payload, truncated) = fit_dead_letter(input.payload.unwrap_or_default(), room);
    let mut output = Output::new(
        settings.topics.dlq.clone(),
        input.key.map(|k| String::from_utf8_lossy(k).into_owned()),
        payload.to_vec(),
        0,
    );
    output.headers = vec![
        (DLQ_STAGE_HEADER, stage.to_string()),
        (DLQ_ERROR_CODE_HEADER, reject.code.to_string()),
        (DLQ_REASON_HEADER, clip(&reject.reason, MAX_REASON_BYTES)),
        (DLQ_TOPIC_HEADER, input.topic.to_string()),
        (DLQ_PARTITION_HEADER, input.partition.to_string()),
        (DLQ_OFFSET_HEADER, input.offset.to_string()),
    ];
    output
        .headers
        .extend(truncated.iter().flat_map(Truncated::headers));
    output
}

/// Room for what a record carries besides its payload (key, Earshot's headers, Kafka's
/// record framing).
const RECORD_OVERHEAD_BYTES: usize = 1024;

/// Refuses outputs that the broker would refuse for their size: the input then goes to the
/// dead-letter topic instead of stopping the partition.
fn fits(outputs: &[Output], max_message_bytes: usize) -> Result<(), Reject> {
    for output in outputs {
        let size = output.payload.len()
            + output.key.as_ref().map_or(0, String::len)
            + output
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
            + RECORD_OVERHEAD_BYTES / 4;
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

/// Sends the inputs of refused outputs to the dead-letter topic (once per input), and then
/// counts the refused outputs as settled, so the partition moves on once the dead letter is
/// acknowledged. Returns how many inputs were dead-lettered.
fn dead_letter_refused(
    refused: &Refused,
    tracker: &Mutex<OffsetTracker>,
    producer: &StageProducer,
    settings: &KafkaSettings,
    stage: &'static str,
    metrics: &Metrics,
) -> u64 {
    let refused = std::mem::take(&mut *lock(refused));
    let mut dead = 0;
    for (source, reason) in refused {
        let (partition, offset) = (source.partition, source.offset);
        if !source.dead_lettered.swap(true, Ordering::SeqCst) {
            warn!(stage, topic = %source.topic, partition, offset, reason = %reason, "Output refused by the broker; its input goes to the dead-letter topic");
            metrics
                .dead_letters
                .with_label_values(&[stage, "output_refused"])
                .inc();
            dead += 1;
            let output = dead_letter(
                settings,
                stage,
                &source.input(),
                &Reject::new("output_refused", reason),
            );
            // One more output for this input: the offset waits for the dead letter too.
            if !lock(tracker).add_output(partition, offset) {
                continue;
            }
            send(
                producer,
                output,
                partition,
                offset,
                (&source.trace, source.ingested_at),
                None,
            );
        }
        lock(tracker).ack(partition, offset);
    }
    dead
}

/// Delivery errors no retry can fix: the record itself is unacceptable (too large,
/// invalid). Its input belongs in the dead-letter topic; any other error is transient.
pub fn is_permanent(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::MessageBatchTooLarge
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::BadMessage
        )
    )
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

/// Dead-letter reasons and panic messages go into headers: at most this many bytes.
const MAX_REASON_BYTES: usize = 1024;

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
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

fn is_fatal(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::Fatal
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::GroupAuthorizationFailed
                | RDKafkaErrorCode::SaslAuthenticationFailed
        )
    )
}

fn default_instance_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!("{host}-{}", std::process::id())
}
