//! What the long-running commands share: logging, the admin HTTP server, signal handling,
//! and starting stages on threads of their own.
//!
//! Stages run on dedicated OS threads (librdkafka's rebalance callbacks block, and must not
//! block a tokio worker); tokio serves only the admin endpoints and waits for signals.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router as Http;
use earshot_analyze::Analyzer;
use earshot_kafka::{run_stage, Health, Shutdown, StageError, StageReport, StageSpec};
use earshot_pipeline::{KafkaConfig, Metrics};
use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};
use tracing::{info, warn};

use crate::reload::swap::{InForce, Reconfigure, Reloading};
use crate::reload::watch::Trigger;
use crate::reload::Updates;
use crate::settings::{LogFormat, LogSettings, Shape};
use crate::stages::analyze::AnalyzeProcessor;
use crate::stages::process::ProcessProcessor;
use crate::stages::route::RouteProcessor;

/// Sets up `tracing`: human or JSON lines on stderr (coloured only on a terminal without
/// `NO_COLOR`), `RUST_LOG` overriding the level; librdkafka's logs come through it too.
pub fn init_logging(settings: &LogSettings) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::output::LogWriter)
        .with_ansi(crate::output::colour_logs())
        .log_internal_errors(false);
    let _ = match settings.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

/// A stage running on its own thread.
#[derive(Debug)]
pub struct RunningStage {
    pub name: &'static str,
    pub health: Arc<Health>,
    /// The configuration version the stage processes with, when it follows reloads.
    pub in_force: Option<InForce>,
    thread: JoinHandle<Result<StageReport, StageError>>,
}

impl RunningStage {
    pub fn join(self) -> Result<StageReport, StageError> {
        self.thread.join().unwrap_or_else(|_| {
            Err(StageError::Delivery {
                topic: String::new(),
                partition: -1,
                offset: -1,
                error: "stage thread panicked".into(),
            })
        })
    }

    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }
}

/// What a stage that analyses runs: the analyzer, and on how many threads.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub analyzer: Arc<Analyzer>,
    /// Threads that score records ahead of the stage's thread (`[analyze] threads`).
    pub threads: usize,
}

impl Analysis {
    fn processor(
        self,
        kafka: &KafkaConfig,
        limits: earshot_model::PostLimits,
        metrics: &Metrics,
    ) -> AnalyzeProcessor {
        AnalyzeProcessor::new(self.analyzer, kafka.topics.scored.clone(), metrics)
            .with_limits(limits, kafka.max_message_bytes)
            .with_threads(self.threads)
    }
}

pub fn spawn_analyze(
    kafka: &KafkaConfig,
    limits: earshot_model::PostLimits,
    analysis: Analysis,
    metrics: &Metrics,
    shutdown: &Shutdown,
    updates: Option<Updates>,
) -> RunningStage {
    let spec = kafka.analyze_stage(Some(instance_id()));
    let processor = analysis.processor(kafka, limits, metrics);
    spawn_following(
        spec,
        kafka.clone(),
        processor,
        metrics.clone(),
        shutdown.clone(),
        updates,
    )
}

pub fn spawn_route(
    kafka: &KafkaConfig,
    limits: earshot_model::PostLimits,
    router: earshot_route::Router,
    clock: crate::settings::RouteClock,
    metrics: &Metrics,
    shutdown: &Shutdown,
    updates: Option<Updates>,
) -> RunningStage {
    let spec = kafka.route_stage(Some(instance_id()));
    let processor = route_processor(kafka, &spec.group_id, limits, router, clock, metrics);
    spawn_following(
        spec,
        kafka.clone(),
        processor,
        metrics.clone(),
        shutdown.clone(),
        updates,
    )
}

/// What the fused stage needs beyond the analyze and route stages' parts.
#[derive(Debug, Clone, Copy)]
pub struct Fused {
    pub clock: crate::settings::RouteClock,
    /// Also write scored posts to the scored topic.
    pub tap_scored: bool,
}

/// The fused stage: analyze → route in one consumer of the raw topic.
#[allow(clippy::too_many_arguments)]
pub fn spawn_process(
    kafka: &KafkaConfig,
    limits: earshot_model::PostLimits,
    analysis: Analysis,
    router: earshot_route::Router,
    fused: Fused,
    metrics: &Metrics,
    shutdown: &Shutdown,
    updates: Option<Updates>,
) -> RunningStage {
    let spec = kafka.process_stage(Some(instance_id()));
    let analyze = analysis.processor(kafka, limits, metrics);
    let route = route_processor(kafka, &spec.group_id, limits, router, fused.clock, metrics)
        .reading(kafka.topics.raw.clone());
    spawn_following(
        spec,
        kafka.clone(),
        ProcessProcessor::new(analyze, route, fused.tap_scored),
        metrics.clone(),
        shutdown.clone(),
        updates,
    )
}

/// Analyze and route in one process, in the configured shape: the fused stage, or the
/// analyze and route stages through the scored topic. `updates` gives each stage its
/// subscription to reloads, when they are followed.
#[allow(clippy::too_many_arguments)]
pub fn spawn_pipeline(
    kafka: &KafkaConfig,
    limits: earshot_model::PostLimits,
    analysis: Analysis,
    router: earshot_route::Router,
    shape: crate::settings::PipelineSettings,
    clock: crate::settings::RouteClock,
    metrics: &Metrics,
    shutdown: &Shutdown,
    updates: &dyn Fn() -> Option<Updates>,
) -> Vec<RunningStage> {
    match shape.shape {
        Shape::Fused => {
            let fused = Fused {
                clock,
                tap_scored: shape.tap_scored,
            };
            vec![spawn_process(
                kafka,
                limits,
                analysis,
                router,
                fused,
                metrics,
                shutdown,
                updates(),
            )]
        }
        Shape::Split => vec![
            spawn_analyze(kafka, limits, analysis, metrics, shutdown, updates()),
            spawn_route(kafka, limits, router, clock, metrics, shutdown, updates()),
        ],
    }
}

/// Route's processor for a stage of consumer group `group`, exchanging spike counts with the
/// other replicas and keeping its state in the changelog when the broker allows.
fn route_processor(
    kafka: &KafkaConfig,
    group: &str,
    limits: earshot_model::PostLimits,
    router: earshot_route::Router,
    clock: crate::settings::RouteClock,
    metrics: &Metrics,
) -> RouteProcessor {
    let mut processor = RouteProcessor::new(router, kafka.topics.clone(), metrics.clone())
        .with_clock(clock)
        .with_limits(limits);
    match signals_consumer(kafka, group) {
        Ok((replica, consumer)) => processor = processor.with_signals(replica, consumer),
        Err(e) => warn!(error = %e, "Spike counts will not be exchanged with other route replicas"),
    }
    match changelog_reader(kafka, group) {
        Ok(reader) => processor.with_changelog(kafka.topics.changelog.clone(), reader),
        Err(e) => {
            warn!(error = %format!("{e:#}"), "Route state will not be kept in Kafka");
            processor
        }
    }
}

/// Spawns the stage; with `updates`, its processor swaps each reloaded set in between two
/// records.
fn spawn_following<P: earshot_kafka::Processor + Reconfigure + 'static>(
    spec: StageSpec,
    kafka: KafkaConfig,
    processor: P,
    metrics: Metrics,
    shutdown: Shutdown,
    updates: Option<Updates>,
) -> RunningStage {
    match updates {
        None => spawn(spec, kafka, processor, metrics, shutdown),
        Some(updates) => {
            let processor = Reloading::new(spec.name, processor, updates);
            let in_force = processor.in_force();
            let mut stage = spawn(spec, kafka, processor, metrics, shutdown);
            stage.in_force = Some(in_force);
            stage
        }
    }
}

fn spawn<P: earshot_kafka::Processor + 'static>(
    spec: StageSpec,
    kafka: KafkaConfig,
    processor: P,
    metrics: Metrics,
    shutdown: Shutdown,
) -> RunningStage {
    let health = Health::new();
    let stage_health = health.clone();
    let name = spec.name;
    let thread = std::thread::Builder::new()
        .name(format!("earshot-{name}"))
        .spawn(move || run_stage(&spec, &kafka, processor, &shutdown, &stage_health, &metrics))
        .expect("spawning a stage thread");
    RunningStage {
        name,
        health,
        in_force: None,
        thread,
    }
}

/// A consumer of the signals topic for this replica: a group of its own (every replica reads
/// every replica's counts), from the earliest record (merging is idempotent).
fn signals_consumer(
    kafka: &KafkaConfig,
    group: &str,
) -> Result<(String, rdkafka::consumer::BaseConsumer)> {
    use rdkafka::consumer::Consumer;
    static REPLICAS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let replica = format!(
        "{}-{}-{}",
        host_name(),
        std::process::id(),
        REPLICAS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut config = earshot_kafka::client_config(kafka, &earshot_kafka::ClientRole::Consumer);
    config
        .set("group.id", format!("{group}-signals-{replica}"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    let consumer: rdkafka::consumer::BaseConsumer =
        config.create().context("creating the signals consumer")?;
    consumer
        .subscribe(&[&kafka.topics.signals])
        .context("subscribing to the signals topic")?;
    Ok((replica, consumer))
}

/// The reader of route's changelog: assigned the partitions to restore, from the beginning,
/// committed records only, telling when it reached the end; it belongs to no group.
pub(crate) fn changelog_reader(
    kafka: &KafkaConfig,
    group: &str,
) -> Result<crate::stages::route::ChangelogReader> {
    let mut config = earshot_kafka::client_config(kafka, &earshot_kafka::ClientRole::Consumer);
    config
        .set("group.id", format!("{group}-changelog"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest");
    config
        .create_with_context(crate::stages::route::ReaderContext)
        .context("creating the changelog reader")
}

/// A replica's stable name for exactly-once `transactional.id`s: the host name (a pod name
/// in Kubernetes) and the replica's index in this process. Stable across restarts, so a
/// restarted replica fences its predecessor's unfinished transaction; distinct between the
/// replicas of one process, so they do not fence each other.
fn instance_id() -> String {
    static STAGES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{}-{}",
        host_name(),
        STAGES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// `HOSTNAME` (a pod's name in Kubernetes), else `host`.
fn host_name() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into())
}

#[derive(Clone)]
struct AdminState {
    registry: Registry,
    /// Outputs waiting this long with no acknowledgement make a stage not live.
    live_stall: Duration,
    healths: Vec<(&'static str, Arc<Health>)>,
    /// The configuration version each stage that follows reloads processes with.
    versions: Vec<(&'static str, InForce)>,
    ready: IntGaugeVec,
}

/// Serves `/metrics`, `/livez` and `/readyz` on `listen` until the runtime stops. Registers
/// `earshot_stage_ready{stage}` on `registry`: what `/readyz` says, for alerts. `/readyz`
/// also names the configuration version each stage of `versions` processes with.
pub async fn serve_admin(
    listen: &str,
    live_stall: Duration,
    registry: Registry,
    healths: Vec<(&'static str, Arc<Health>)>,
    versions: Vec<(&'static str, InForce)>,
) -> Result<SocketAddr> {
    let ready = IntGaugeVec::new(
        Opts::new(
            "earshot_stage_ready",
            "1 while the stage is ready (partitions assigned, a broker connection, not stopping), else 0",
        ),
        &["stage"],
    )?;
    registry.register(Box::new(ready.clone()))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the admin server to {listen}"))?;
    let address = listener.local_addr()?;
    let app = Http::new()
        .route("/metrics", get(metrics))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .with_state(AdminState {
            registry,
            live_stall,
            healths,
            versions,
            ready,
        });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!(error = %e, "Admin server stopped");
        }
    });
    info!(%address, "Admin server listening (/metrics, /livez, /readyz)");
    Ok(address)
}

async fn metrics(
    State(state): State<AdminState>,
) -> (StatusCode, [(&'static str, &'static str); 1], Vec<u8>) {
    // Read at scrape time from the stages' health, which /readyz reads too: one owner.
    for (stage, health) in &state.healths {
        state
            .ready
            .with_label_values(&[stage])
            .set(i64::from(health.is_ready()));
    }
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    let status = match encoder.encode(&state.registry.gather(), &mut body) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (
        status,
        [("content-type", "text/plain; version=0.0.4")],
        body,
    )
}

async fn livez(State(state): State<AdminState>) -> (StatusCode, String) {
    // The processing loops go round at least every 50 ms; ten seconds of silence means stuck.
    let stuck: Vec<String> = state
        .healths
        .iter()
        .filter_map(|(stage, h)| {
            if !h.is_live(Duration::from_secs(10)) {
                Some(format!("{stage}: the stage loop is not making progress\n"))
            } else if h.stalled_for() > state.live_stall {
                Some(format!(
                    "{stage}: outputs not acknowledged for {} s\n",
                    h.stalled_for().as_secs()
                ))
            } else {
                None
            }
        })
        .collect();
    if stuck.is_empty() {
        (StatusCode::OK, "live\n".into())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, stuck.concat())
    }
}

/// 200 when every stage has partitions to work on, a broker connection, and is not shutting
/// down; else 503 with the reason per stage (`analyze: no partitions assigned`). Either way,
/// a line per stage that follows reloads with the configuration version it processes with
/// (`analyze: config sha256:…`).
async fn readyz(State(state): State<AdminState>) -> (StatusCode, String) {
    let not_ready: Vec<String> = state
        .healths
        .iter()
        .filter_map(|(stage, h)| h.not_ready_because().map(|why| format!("{stage}: {why}\n")))
        .collect();
    let versions: String = state
        .versions
        .iter()
        .map(|(stage, v)| format!("{stage}: config {}\n", v.version()))
        .collect();
    if state.healths.is_empty() {
        (StatusCode::SERVICE_UNAVAILABLE, "no stage runs\n".into())
    } else if not_ready.is_empty() {
        (StatusCode::OK, format!("ready\n{versions}"))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}{versions}", not_ready.concat()),
        )
    }
}

/// On the first SIGTERM or SIGINT, asks the stages to stop gracefully; on the second, exits
/// at once.
pub async fn watch_signals(shutdown: Shutdown) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        warn!("Could not install signal handlers");
        return;
    };
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    info!("Shutting down: draining, flushing and committing (a second signal exits at once)");
    shutdown.trigger();
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    warn!("Second signal: exiting without draining");
    std::process::exit(130);
}

/// Hands each SIGHUP to the reloader. Installed by the daemons that reload (analyze, route,
/// run); without it SIGHUP would end the process.
pub async fn watch_hangups(triggers: std::sync::mpsc::Sender<Trigger>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        warn!("Could not install the SIGHUP handler: reload by changing a file");
        return;
    };
    while hup.recv().await.is_some() {
        info!("SIGHUP: reloading the configuration");
        if triggers.send(Trigger::Signal).is_err() {
            return;
        }
    }
}
