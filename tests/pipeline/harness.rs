//! The harness: a mock cluster with Earshot's topics, the example configuration pointed at it,
//! stages on threads, a publisher, a collector reading output topics, and waits that fail
//! with the progress they saw instead of hanging.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use earshot::daemon::{spawn_analyze, spawn_pipeline, spawn_route, RunningStage};
use earshot::reload::Updates;
use earshot::settings::{RouteClock, Settings, Shape};
use earshot::stages::analyze::AnalyzeProcessor;
use earshot::stages::ingest::Publisher;
use earshot_analyze::Analyzer;
use earshot_kafka::{
    run_stage, EmbeddedKafka, Health, Processor, Shutdown, StageError, StageReport, StageSpec,
};
use earshot_pipeline::Metrics;
use earshot_route::Router;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::expect::Expected;

/// How long a stage may take to stop once asked; a stage still running then is a hang.
pub const STOP_WITHIN: Duration = Duration::from_secs(30);
/// How long publishing may take (it waits for every acknowledgement).
const PUBLISH_WITHIN: Duration = Duration::from_secs(30);

/// The tests run one at a time: each starts a cluster and two to four stages, and the
/// machine has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    /// `[analyze] threads` of the fixtures this test's thread starts: 0 (the stage's thread
    /// scores each record, as taken one at a time) unless [`with_analysis_threads`] says
    /// otherwise. The tests through the `earshot` binary run the default, one thread.
    static ANALYSIS_THREADS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Runs `test` with its fixtures' analysing stages scoring ahead on `threads` threads.
pub fn with_analysis_threads<T>(threads: usize, test: impl FnOnce() -> T) -> T {
    ANALYSIS_THREADS.set(threads);
    let result = test();
    ANALYSIS_THREADS.set(0);
    result
}

/// The non-blank lines of a file in `examples/`.
pub fn example_lines(file: &str) -> Vec<Vec<u8>> {
    let path = earshot_e2e::repo_root().join("examples").join(file);
    let source = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path:?}: {e}"));
    source
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(<[u8]>::to_vec)
        .collect()
}

/// A mock cluster with every Earshot topic, and the example configuration pointing at it.
pub struct Fixture {
    pub settings: Settings,
    pub analyzer: Arc<Analyzer>,
    pub queues: Vec<String>,
    /// Metrics of the stages started with [`Fixture::spawn_analyze`] and
    /// [`Fixture::spawn_route`].
    pub metrics: Metrics,
    /// Stops the stages started with [`Fixture::spawn_analyze`] and [`Fixture::spawn_route`].
    pub shutdown: Shutdown,
    /// Every shutdown handed out, triggered on drop so a failed test leaves no stage running.
    shutdowns: Mutex<Vec<Shutdown>>,
    pub broker: EmbeddedKafka,
    _serial: MutexGuard<'static, ()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.shutdown.trigger();
        for s in self
            .shutdowns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            s.trigger();
        }
    }
}

impl Fixture {
    /// `brokers` mock brokers; every topic with `partitions` partitions.
    pub fn start(brokers: i32, partitions: i32) -> Fixture {
        Fixture::start_with(brokers, partitions, |_| {})
    }

    /// Like [`Fixture::start`], with a chance to change the settings before topics are made.
    pub fn start_with(brokers: i32, partitions: i32, tune: impl FnOnce(&mut Settings)) -> Fixture {
        let config = earshot_e2e::repo_root().join("examples/earshot.toml");
        Fixture::start_from(&config, brokers, partitions, tune)
    }

    /// Like [`Fixture::start_with`], with the configuration `config` (a copy of the example
    /// that a test edits).
    pub fn start_from(
        config: &Path,
        brokers: i32,
        partitions: i32,
        tune: impl FnOnce(&mut Settings),
    ) -> Fixture {
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        if std::env::var_os("RUST_LOG").is_some() {
            earshot::daemon::init_logging(&earshot::settings::LogSettings::default());
        }
        let mut settings = Settings::load(Some(config)).expect("loading the configuration");
        let broker = EmbeddedKafka::start(brokers).expect("starting the mock cluster");
        settings.kafka.brokers = broker.bootstrap_servers();
        settings.kafka.partitions = partitions;
        settings.kafka.replication_factor = brokers;
        settings.kafka.shutdown_seconds = 10;
        settings.analyze.threads = ANALYSIS_THREADS.get();
        // The mock holds a rebalance open for the session timeout less a second (a real
        // broker moves on once every member rejoined): keep it short so that a replica
        // joining takes seconds, not 44 of them.
        for (key, value) in [
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "500"),
        ] {
            settings.kafka.consumer.insert(key.into(), value.into());
        }
        tune(&mut settings);
        let analyzer = Arc::new(settings.analyzer().expect("building the analyzer"));
        let router = settings.router(&analyzer).expect("building the router");
        let queues = router.config().queue_ids();
        broker
            .create_topics(&settings.kafka, &settings.kafka.topics.all(&queues))
            .expect("creating topics");
        Fixture {
            settings,
            analyzer,
            queues,
            metrics: Metrics::unregistered(),
            shutdown: Shutdown::new(),
            shutdowns: Mutex::new(Vec::new()),
            broker,
            _serial: serial,
        }
    }

    pub fn router(&self) -> Router {
        self.settings
            .router(&self.analyzer)
            .expect("building the router")
    }

    /// What analyze and route must make of `lines`, computed offline.
    pub fn expect(&self, lines: &[Vec<u8>]) -> Expected {
        Expected::compute(&self.analyzer, self.router(), lines)
    }

    pub fn topics(&self) -> &earshot_pipeline::Topics {
        &self.settings.kafka.topics
    }

    /// The topics route writes to: every queue's tickets, incidents, unrouted.
    pub fn route_topics(&self) -> Vec<String> {
        let t = self.topics();
        let mut topics: Vec<String> = self.queues.iter().map(|q| t.tickets(q)).collect();
        topics.push(t.incidents.clone());
        topics.push(t.unrouted.clone());
        topics
    }

    /// A shutdown of its own for stages a test stops separately; triggered on drop.
    pub fn new_shutdown(&self) -> Shutdown {
        let shutdown = Shutdown::new();
        self.shutdowns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(shutdown.clone());
        shutdown
    }

    /// The analyze stage as `earshot analyze` starts it.
    pub fn spawn_analyze(&self) -> Stage {
        self.spawn_analyze_following(None)
    }

    /// The analyze stage, swapping in the sets `updates` hands it when given.
    pub fn spawn_analyze_following(&self, updates: Option<Updates>) -> Stage {
        Stage::Daemon(spawn_analyze(
            &self.settings.kafka,
            self.settings.limits,
            self.settings.analysis(self.analyzer.clone()),
            &self.metrics,
            &self.shutdown,
            updates,
        ))
    }

    /// Analyze and route in `shape` (the fused stage, or the analyze and route stages), on
    /// the event clock, as `earshot demo` starts them.
    pub fn spawn_pipeline(&self, shape: Shape) -> Vec<Stage> {
        let mut pipeline = self.settings.pipeline;
        pipeline.shape = shape;
        spawn_pipeline(
            &self.settings.kafka,
            self.settings.limits,
            self.settings.analysis(self.analyzer.clone()),
            self.router(),
            pipeline,
            RouteClock::Event,
            &self.metrics,
            &self.shutdown,
            &|| None,
        )
        .into_iter()
        .map(Stage::Daemon)
        .collect()
    }

    /// The route stage on the event clock (each post's `created_at`), as `earshot demo`
    /// starts it.
    pub fn spawn_route(&self) -> Stage {
        self.spawn_route_following(None)
    }

    /// The route stage on the event clock, swapping in the sets `updates` hands it when
    /// given.
    pub fn spawn_route_following(&self, updates: Option<Updates>) -> Stage {
        Stage::Daemon(spawn_route(
            &self.settings.kafka,
            self.settings.limits,
            self.router(),
            RouteClock::Event,
            &self.metrics,
            &self.shutdown,
            updates,
        ))
    }

    /// An analyze replica named `instance` (its `transactional.id` in exactly-once mode)
    /// with metrics of its own.
    pub fn analyze_replica(&self, instance: &str, metrics: &Metrics, shutdown: &Shutdown) -> Stage {
        let kafka = &self.settings.kafka;
        let processor =
            AnalyzeProcessor::new(self.analyzer.clone(), kafka.topics.scored.clone(), metrics);
        self.run_stage("analyze", instance, processor, metrics, shutdown)
    }

    /// Runs `processor` as stage `name` (analyze or route: input topic and group follow) on
    /// a thread of its own.
    pub fn run_stage<P: Processor + 'static>(
        &self,
        name: &'static str,
        instance: &str,
        processor: P,
        metrics: &Metrics,
        shutdown: &Shutdown,
    ) -> Stage {
        let kafka = self.settings.kafka.clone();
        let (input_topic, group_id) = match name {
            "analyze" => (kafka.topics.raw.clone(), kafka.groups.analyze.clone()),
            "route" => (kafka.topics.scored.clone(), kafka.groups.route.clone()),
            other => panic!("unknown stage {other}"),
        };
        let spec = StageSpec {
            name,
            input_topic,
            group_id,
            instance_id: Some(instance.to_string()),
            dlq_topic: kafka.topics.dlq.clone(),
        };
        let health = Health::new();
        let (metrics, shutdown, stage_health) = (metrics.clone(), shutdown.clone(), health.clone());
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{instance}"))
            .spawn(move || run_stage(&spec, &kafka, processor, &shutdown, &stage_health, &metrics))
            .expect("spawning a stage thread");
        Stage::Thread {
            name: format!("{name}-{instance}"),
            health,
            thread,
        }
    }

    pub fn publisher(&self) -> Publisher {
        Publisher::new(&self.settings.kafka, self.settings.limits).expect("creating the publisher")
    }

    /// Publishes `lines` through ingest and waits for the acknowledgements: (valid posts,
    /// invalid lines sent to the DLQ).
    pub fn publish(&self, lines: &[Vec<u8>]) -> (usize, usize) {
        publish_with(&self.publisher(), lines)
    }

    /// Publishes `lines` in `chunks` roughly equal parts, calling `between(i)` after part `i`
    /// is acknowledged (to inject a fault, start a replica…). Returns the valid posts.
    pub fn publish_in_chunks(
        &self,
        lines: &[Vec<u8>],
        chunks: usize,
        mut between: impl FnMut(usize),
    ) -> usize {
        let publisher = self.publisher();
        let size = lines.len().div_ceil(chunks.max(1)).max(1);
        let mut valid = 0;
        for (i, chunk) in lines.chunks(size).enumerate() {
            valid += publish_with(&publisher, chunk).0;
            between(i);
        }
        valid
    }

    /// A reader of `topics` from the beginning (every partition assigned, no group), with
    /// `isolation.level=read_committed`.
    pub fn collector(&self, topics: &[String]) -> Collector {
        Collector::new(
            &self.settings.kafka.brokers,
            topics,
            self.settings.kafka.partitions,
            "read_committed",
        )
    }

    /// Committed offsets of `group` on `topic`, per partition (`None`: nothing committed).
    pub fn committed(&self, group: &str, topic: &str) -> BTreeMap<i32, Option<i64>> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.settings.kafka.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("creating an offsets reader");
        let mut tpl = TopicPartitionList::new();
        for p in 0..self.settings.kafka.partitions {
            tpl.add_partition(topic, p);
        }
        let committed = consumer
            .committed_offsets(tpl, Duration::from_secs(10))
            .expect("reading committed offsets");
        committed
            .elements_for_topic(topic)
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => (e.partition(), Some(o)),
                _ => (e.partition(), None),
            })
            .collect()
    }

    /// The high watermark of each partition of `topic`.
    pub fn high_watermarks(&self, topic: &str) -> BTreeMap<i32, i64> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.settings.kafka.brokers)
            .create()
            .expect("creating a watermark reader");
        (0..self.settings.kafka.partitions)
            .map(|p| {
                let (_, high) = consumer
                    .fetch_watermarks(topic, p, Duration::from_secs(10))
                    .expect("reading watermarks");
                (p, high)
            })
            .collect()
    }

    /// The broker leading partition 0 of `topic`.
    pub fn leader_of(&self, topic: &str) -> i32 {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.settings.kafka.brokers)
            .create()
            .expect("creating a metadata reader");
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("reading metadata");
        metadata.topics()[0].partitions()[0].leader()
    }
}

fn publish_with(publisher: &Publisher, lines: &[Vec<u8>]) -> (usize, usize) {
    let (mut valid, mut invalid) = (0, 0);
    for line in lines {
        if publisher.publish_line(line) {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    publisher
        .flush(PUBLISH_WITHIN)
        .expect("publishing the posts");
    (valid, invalid)
}

/// A stage on a thread: started like the daemon does, or through `run_stage` directly.
pub enum Stage {
    Daemon(RunningStage),
    Thread {
        name: String,
        health: Arc<Health>,
        thread: JoinHandle<Result<StageReport, StageError>>,
    },
}

impl Stage {
    pub fn name(&self) -> String {
        match self {
            Stage::Daemon(s) => s.name.to_string(),
            Stage::Thread { name, .. } => name.clone(),
        }
    }

    pub fn health(&self) -> &Health {
        match self {
            Stage::Daemon(s) => &s.health,
            Stage::Thread { health, .. } => health,
        }
    }

    /// The configuration version the stage processes with, when it follows reloads.
    pub fn config_version(&self) -> Option<String> {
        match self {
            Stage::Daemon(s) => s.in_force.as_ref().map(|v| v.version()),
            Stage::Thread { .. } => None,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.health().is_ready()
    }

    pub fn is_finished(&self) -> bool {
        match self {
            Stage::Daemon(s) => s.is_finished(),
            Stage::Thread { thread, .. } => thread.is_finished(),
        }
    }

    fn join(self) -> Result<StageReport, StageError> {
        match self {
            Stage::Daemon(s) => s.join(),
            Stage::Thread { thread, name, .. } => thread
                .join()
                .unwrap_or_else(|_| panic!("stage {name} panicked")),
        }
    }

    /// Waits for the stage to stop (its shutdown must have been triggered); fails on an
    /// error or when it does not stop within [`STOP_WITHIN`].
    pub fn stop_within(self) -> StageReport {
        let name = self.name();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(self.join());
        });
        match rx.recv_timeout(STOP_WITHIN) {
            Ok(Ok(report)) => report,
            Ok(Err(e)) => panic!("stage {name} stopped with an error: {e}"),
            Err(_) => panic!("stage {name} did not stop within {STOP_WITHIN:?} of shutdown"),
        }
    }
}

/// Triggers `shutdown` and waits for each stage; their reports in order.
pub fn stop(shutdown: &Shutdown, stages: Vec<Stage>) -> Vec<StageReport> {
    shutdown.trigger();
    stages.into_iter().map(Stage::stop_within).collect()
}

/// Calls `progress` until it returns `Ok`; fails when a stage stops early or `within`
/// passes, with the last progress report. `progress` should block briefly (poll a
/// collector) so this does not spin.
pub fn wait_for(
    what: &str,
    within: Duration,
    stages: &[&Stage],
    mut progress: impl FnMut() -> Result<(), String>,
) {
    let started = Instant::now();
    loop {
        let report = match progress() {
            Ok(()) => return,
            Err(report) => report,
        };
        if let Some(stage) = stages.iter().find(|s| s.is_finished()) {
            panic!(
                "waiting for {what}: stage {} stopped early; last progress: {report}",
                stage.name()
            );
        }
        if started.elapsed() >= within {
            panic!("waiting for {what}: timed out after {within:?}; last progress: {report}");
        }
    }
}

/// Posts a stage took from its input.
pub fn received(metrics: &Metrics, stage: &str) -> u64 {
    metrics.posts_received.with_label_values(&[stage]).get()
}

/// Input records of a stage whose outputs await acknowledgement.
pub fn in_flight(metrics: &Metrics, stage: &str) -> i64 {
    metrics.in_flight.with_label_values(&[stage]).get()
}

/// One record read from an output topic.
#[derive(Debug, Clone)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

impl Record {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Reads topics from their beginning, keeping every record.
pub struct Collector {
    consumer: BaseConsumer,
    pub records: Vec<Record>,
}

impl Collector {
    pub fn new(brokers: &str, topics: &[String], partitions: i32, isolation: &str) -> Collector {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", "earshot-test-collector")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", isolation)
            .create()
            .expect("creating the collector");
        let mut tpl = TopicPartitionList::new();
        for topic in topics {
            for partition in 0..partitions {
                tpl.add_partition_offset(topic, partition, Offset::Beginning)
                    .expect("adding a partition");
            }
        }
        consumer.assign(&tpl).expect("assigning the output topics");
        Collector {
            consumer,
            records: Vec::new(),
        }
    }

    /// Reads for `duration`; how many records arrived.
    pub fn poll_for(&mut self, duration: Duration) -> usize {
        let until = Instant::now() + duration;
        let before = self.records.len();
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Transient errors (injected faults included) are retried by the client.
            if let Some(Ok(m)) = self.consumer.poll(left.min(Duration::from_millis(50))) {
                self.records.push(Record {
                    topic: m.topic().to_string(),
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    payload: m.payload().unwrap_or_default().to_vec(),
                    headers: m
                        .headers()
                        .map(|hs| {
                            hs.iter()
                                .map(|h| {
                                    let value = h.value.unwrap_or_default();
                                    (
                                        h.key.to_string(),
                                        String::from_utf8_lossy(value).into_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
        }
        self.records.len() - before
    }

    /// Reads until nothing new arrives for `quiet` (at most `within`), to catch records that
    /// should not be there after the expected ones arrived.
    pub fn settle(&mut self, quiet: Duration, within: Duration) {
        let started = Instant::now();
        while self.poll_for(quiet) > 0 {
            assert!(
                started.elapsed() < within,
                "outputs still arriving after {within:?}"
            );
        }
    }

    pub fn on<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.records.iter().filter(move |r| r.topic == topic)
    }
}
