//! `earshot bench pipeline`: throughput and post→ticket latency of the whole pipeline at
//! at-least-once, next to a raw pass-through (consume → produce, no processing) and the
//! analyze stage alone, on the same broker with the same client settings.
//!
//! All runs publish the same posts (the bundled samples, repeated with fresh ids) to an
//! input topic first, then start the stages and time until every input record has been
//! consumed and every output acknowledged. Latency is measured per output record by a
//! separate consumer, from the ingest timestamp header to when the record is read.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use earshot_kafka::{
    run_stage, EmbeddedKafka, Health, Input, Output, Processor, Reject, Shutdown, StageSpec,
    INGESTED_AT_HEADER,
};
use earshot_pipeline::{KafkaConfig, Metrics};
use prometheus::Registry;
use rdkafka::message::{Headers, Message};
use serde::Serialize;

use crate::commands::tail::tail_consumer;
use crate::daemon::{init_logging, spawn_analyze, spawn_route};
use crate::output;
use crate::settings::{RouteClock, Settings};
use crate::stages::ingest::Publisher;

#[derive(Debug, Serialize)]
pub struct RunResult {
    pub name: &'static str,
    pub posts: u64,
    pub seconds: f64,
    pub posts_per_second: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub broker: String,
    pub pass_through: RunResult,
    pub analyze_only: RunResult,
    pub pipeline: RunResult,
    /// pipeline posts/s ÷ pass-through posts/s.
    pub ratio: f64,
    /// analyze-only posts/s ÷ pass-through posts/s: one hop with processing against one
    /// hop without.
    pub analyze_only_ratio: f64,
}

/// Copies each record to another topic: the baseline.
struct PassThrough {
    topic: String,
}

impl Processor for PassThrough {
    fn process(&mut self, input: &Input<'_>, out: &mut Vec<Output>) -> Result<(), Reject> {
        let key = input.key.map(|k| String::from_utf8_lossy(k).into_owned());
        out.push(Output::new(
            self.topic.clone(),
            key,
            input.payload.unwrap_or_default().to_vec(),
            1,
        ));
        Ok(())
    }
}

pub fn run(
    config: Option<&Path>,
    brokers: Option<&str>,
    copies: usize,
    rate: u64,
    timeout: Duration,
    json: bool,
) -> Result<ExitCode> {
    let config = config
        .map(Path::to_path_buf)
        .unwrap_or_else(crate::commands::demo::default_config);
    let mut settings = Settings::load(Some(&config))?;
    if std::env::var_os("RUST_LOG").is_none() {
        settings.log.level = "warn".into();
    }
    init_logging(&settings.log);
    let posts = sample_posts(&settings, copies)?;
    let embedded = match brokers {
        Some(b) => {
            settings.kafka.brokers = b.to_string();
            None
        }
        None => {
            let broker = EmbeddedKafka::start(1)?;
            settings.kafka.brokers = broker.bootstrap_servers();
            Some(broker)
        }
    };
    let analyzer = Arc::new(settings.analyzer()?);
    let queues = settings.router(&analyzer)?.config().queue_ids();
    // Topic and group names of this process's own, so that a real broker's old data (or a
    // deployment's topics) does not count.
    let prefix = format!("bench{}", std::process::id());
    let kafka = &settings.kafka;

    // Neither the embedded broker nor every real one creates topics on first use.
    let create = |topics: &[String]| -> Result<()> {
        match &embedded {
            Some(broker) => {
                for topic in topics {
                    broker.cluster().create_topic(topic, kafka.partitions, 1)?;
                }
                Ok(())
            }
            None => crate::topics::create(kafka, topics),
        }
    };
    let run = |kind| {
        measure(
            kind, kafka, &prefix, &posts, rate, &analyzer, &settings, &queues, &create, timeout,
        )
    };
    let pass_through = run(Kind::PassThrough)?;
    let analyze_only = run(Kind::AnalyzeOnly)?;
    let pipeline = run(Kind::Pipeline)?;
    let ratio = |r: &RunResult| {
        (r.posts_per_second / pass_through.posts_per_second * 100.0).round() / 100.0
    };

    let report = BenchReport {
        broker: if embedded.is_some() {
            "embedded (librdkafka mock cluster)".into()
        } else {
            kafka.brokers.clone()
        },
        ratio: ratio(&pipeline),
        analyze_only_ratio: ratio(&analyze_only),
        pass_through,
        analyze_only,
        pipeline,
    };
    if json {
        output::print(format_args!("{}", serde_json::to_string(&report)?))?;
    } else {
        output::print(format_args!("broker: {}", report.broker))?;
        for r in [&report.pass_through, &report.analyze_only, &report.pipeline] {
            output::print(format_args!(
                "{:<13} {:>7} posts in {:>6.2} s = {:>8.0} posts/s, latency p50 {:>7.1} ms, p99 {:>7.1} ms",
                r.name, r.posts, r.seconds, r.posts_per_second, r.latency_p50_ms, r.latency_p99_ms
            ))?;
        }
        output::print(format_args!(
            "pipeline / pass-through = {:.2}; analyze only / pass-through = {:.2}",
            report.ratio, report.analyze_only_ratio
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PassThrough,
    /// The analyze stage alone (raw → scored): one hop with processing, to set against the
    /// pass-through's one hop without.
    AnalyzeOnly,
    Pipeline,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::PassThrough => "pass_through",
            Kind::AnalyzeOnly => "analyze_only",
            Kind::Pipeline => "pipeline",
        }
    }

    /// The stage that reads the published posts.
    fn input_stage(self) -> &'static str {
        match self {
            Kind::PassThrough => "pass_through",
            Kind::AnalyzeOnly | Kind::Pipeline => "analyze",
        }
    }

    /// The stage whose outputs are watched for latency.
    fn output_stage(self) -> &'static str {
        match self {
            Kind::PassThrough => "pass_through",
            Kind::AnalyzeOnly => "analyze",
            Kind::Pipeline => "route",
        }
    }
}

/// Runs one kind twice over fresh topics: throughput on a backlog (every post published
/// before the stages start; timed from partition assignment until every output is
/// acknowledged), then latency at a steady `rate` of posts per second while the stages run.
#[allow(clippy::too_many_arguments)]
fn measure(
    kind: Kind,
    base: &KafkaConfig,
    prefix: &str,
    posts: &[Vec<u8>],
    rate: u64,
    analyzer: &Arc<earshot_analyze::Analyzer>,
    settings: &Settings,
    queues: &[String],
    create: &dyn Fn(&[String]) -> Result<()>,
    timeout: Duration,
) -> Result<RunResult> {
    let mut seconds = 0.0;
    let mut latencies = Vec::new();
    for phase in ["throughput", "latency"] {
        // Topics and groups of their own for each kind and phase.
        let run = format!("{prefix}.{}.{phase}", kind.name());
        let mut kafka = base.clone();
        let t = &mut kafka.topics;
        for topic in [
            &mut t.raw,
            &mut t.scored,
            &mut t.incidents,
            &mut t.unrouted,
            &mut t.dlq,
            &mut t.signals,
            &mut t.changelog,
            &mut t.tickets_prefix,
        ] {
            *topic = format!("{run}.{topic}");
        }
        kafka.groups.analyze = format!("{run}-analyze");
        kafka.groups.route = format!("{run}-route");
        let t = &kafka.topics;
        let input = t.raw.clone();
        let (watched, all): (Vec<String>, Vec<String>) = match kind {
            Kind::PassThrough => {
                let copy = format!("{run}.copy");
                (vec![copy.clone()], vec![input.clone(), copy])
            }
            Kind::AnalyzeOnly => (vec![t.scored.clone()], t.all::<&str>(&[])),
            Kind::Pipeline => {
                let mut watched: Vec<String> = queues.iter().map(|q| t.tickets(q)).collect();
                watched.push(t.unrouted.clone());
                (watched, t.all(queues))
            }
        };
        create(&all)?;
        let publisher = Publisher::new(&kafka, settings.limits)?;
        if phase == "throughput" {
            for post in posts {
                publisher.publish_line(post);
            }
            publisher.flush(Duration::from_secs(120))?;
        }
        let registry = Registry::new();
        let metrics = Metrics::register(&registry)?;
        let shutdown = Shutdown::new();
        let watched_refs: Vec<&str> = watched.iter().map(String::as_str).collect();
        // Latency needs a reader of the outputs; the throughput run needs none, and one
        // would take CPU from the stages it measures.
        let watcher = match phase {
            "latency" => Some(tail_consumer(&kafka, &watched_refs, true)?),
            _ => None,
        };
        let wait_a_little = |latencies: &mut Vec<f64>| -> Result<()> {
            match &watcher {
                Some(watcher) => drain(watcher, latencies),
                None => {
                    std::thread::sleep(Duration::from_millis(5));
                    Ok(())
                }
            }
        };
        let mut stages = Vec::new();
        match kind {
            Kind::PassThrough => {
                let spec = StageSpec {
                    name: "pass_through",
                    input_topic: input.clone(),
                    group_id: format!("{run}-pass"),
                    instance_id: None,
                    dlq_topic: kafka.topics.dlq.clone(),
                };
                let health = Health::new();
                let (k, m, s, h, out) = (
                    kafka.clone(),
                    metrics.clone(),
                    shutdown.clone(),
                    health.clone(),
                    watched[0].clone(),
                );
                let thread = std::thread::spawn(move || {
                    run_stage(&spec, &k, PassThrough { topic: out }, &s, &h, &m)
                        .map(|_| ())
                        .map_err(anyhow::Error::from)
                });
                stages.push((health, thread));
            }
            Kind::AnalyzeOnly | Kind::Pipeline => {
                let mut running = vec![spawn_analyze(
                    &kafka,
                    settings.limits,
                    analyzer.clone(),
                    &metrics,
                    &shutdown,
                    None,
                )];
                if kind == Kind::Pipeline {
                    running.push(spawn_route(
                        &kafka,
                        settings.limits,
                        settings.router(analyzer)?,
                        RouteClock::Wall,
                        &metrics,
                        &shutdown,
                        None,
                    ));
                }
                for stage in running {
                    let health = stage.health.clone();
                    stages.push((
                        health,
                        std::thread::spawn(move || {
                            stage.join().map(|_| ()).map_err(anyhow::Error::from)
                        }),
                    ));
                }
            }
        }
        let ready_by = Instant::now() + Duration::from_secs(60);
        while !stages.iter().all(|(h, _)| h.is_ready()) {
            anyhow::ensure!(
                Instant::now() < ready_by,
                "stages were not assigned partitions within 60 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Some(watcher) = &watcher {
            wait_for_assignment(
                watcher,
                &watched_refs,
                Instant::now() + Duration::from_secs(60),
            )?;
        }
        let started = Instant::now();
        let mut phase_latencies = Vec::new();
        if phase == "latency" {
            // A steady trickle, so that latency is the pipeline's and not a backlog's.
            let count = (rate as usize * 5).min(posts.len());
            let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
            for (i, post) in posts.iter().take(count).enumerate() {
                publisher.publish_line(post);
                let due = started + interval * (i as u32 + 1);
                while Instant::now() < due {
                    wait_a_little(&mut phase_latencies)?;
                }
            }
            publisher.flush(Duration::from_secs(60))?;
        }
        let deadline = Instant::now() + timeout;
        let want = |m: &Metrics| -> (bool, u64) {
            let received = m
                .posts_received
                .with_label_values(&[kind.input_stage()])
                .get();
            let published = if phase == "throughput" {
                posts.len() as u64
            } else {
                (rate as usize * 5).min(posts.len()) as u64
            };
            let scored = m
                .records_produced
                .with_label_values(&["analyze", &kafka.topics.scored])
                .get();
            let routed = m.posts_received.with_label_values(&["route"]).get();
            let idle = ["pass_through", "analyze", "route"]
                .iter()
                .all(|s| m.in_flight.with_label_values(&[s]).get() == 0);
            let done =
                received >= published && idle && (kind != Kind::Pipeline || routed >= scored);
            let outputs: u64 = watched
                .iter()
                .map(|t| {
                    m.records_produced
                        .with_label_values(&[kind.output_stage(), t])
                        .get()
                })
                .sum();
            (done, outputs)
        };
        loop {
            wait_a_little(&mut phase_latencies)?;
            let (done, _) = want(&metrics);
            if done {
                break;
            }
            if Instant::now() > deadline || stages.iter().any(|(_, t)| t.is_finished()) {
                shutdown.trigger();
                let count = |stage: &str| {
                    (
                        metrics.posts_received.with_label_values(&[stage]).get(),
                        metrics.in_flight.with_label_values(&[stage]).get(),
                    )
                };
                bail!(
                    "{kind:?} did not finish the {phase} run: {} posts published; \
                     (received, in flight) pass_through {:?}, analyze {:?}, route {:?}",
                    if phase == "throughput" {
                        posts.len()
                    } else {
                        (rate as usize * 5).min(posts.len())
                    },
                    count("pass_through"),
                    count("analyze"),
                    count("route"),
                );
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let (_, outputs) = want(&metrics);
        let collect_by = Instant::now() + Duration::from_secs(30);
        while watcher.is_some()
            && (phase_latencies.len() as u64) < outputs
            && Instant::now() < collect_by
        {
            wait_a_little(&mut phase_latencies)?;
        }
        shutdown.trigger();
        for (_, thread) in stages {
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("stage thread panicked"))??;
        }
        if phase == "throughput" {
            seconds = elapsed;
        } else {
            latencies = phase_latencies;
        }
    }
    Ok(result(
        kind.name(),
        posts.len() as u64,
        seconds,
        &mut latencies,
    ))
}

/// The bundled posts, `copies` times, with ids made unique per copy.
fn sample_posts(settings: &Settings, copies: usize) -> Result<Vec<Vec<u8>>> {
    let path = settings.resolve(Path::new("posts.jsonl"));
    let source =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut posts = Vec::new();
    for copy in 0..copies.max(1) {
        for line in source.lines().filter(|l| !l.trim().is_empty()) {
            let mut value: serde_json::Value = serde_json::from_str(line)?;
            for field in ["id", "conversation_id", "in_reply_to"] {
                if let Some(v) = value[field].as_str() {
                    value[field] = serde_json::Value::String(format!("{v}-{copy}"));
                }
            }
            posts.push(serde_json::to_vec(&value)?);
        }
    }
    Ok(posts)
}

/// Waits until the output reader holds every watched topic. It reads from the beginning, so
/// nothing published before is missed; but on a loaded machine its group join can outlast a
/// short run, which left the latency figures empty.
fn wait_for_assignment(
    watcher: &rdkafka::consumer::BaseConsumer,
    topics: &[&str],
    by: Instant,
) -> Result<()> {
    use rdkafka::consumer::Consumer;
    loop {
        let assigned = watcher
            .assignment()
            .context("reading the output reader's assignment")?;
        let elements = assigned.elements();
        if topics
            .iter()
            .all(|t| elements.iter().any(|e| e.topic() == *t))
        {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < by,
            "the output reader was not assigned {topics:?} within 60 s"
        );
        // Polling is what lets the consumer join its group; nothing has been published yet.
        if let Some(Err(e)) = watcher.poll(Duration::from_millis(20)) {
            let unknown = matches!(
                e,
                rdkafka::error::KafkaError::MessageConsumption(
                    rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition
                )
            );
            anyhow::ensure!(unknown, "reading outputs: {e}");
        }
    }
}

fn drain(watcher: &rdkafka::consumer::BaseConsumer, latencies: &mut Vec<f64>) -> Result<()> {
    while let Some(message) = watcher.poll(Duration::from_millis(20)) {
        let message = match message {
            Ok(message) => message,
            // Output topics appear with their first record; until then the watcher hears
            // they do not exist.
            Err(rdkafka::error::KafkaError::MessageConsumption(
                rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition,
            )) => continue,
            Err(e) => return Err(e).context("reading outputs"),
        };
        let now = chrono::Utc::now().timestamp_millis();
        let ingested = message
            .headers()
            .and_then(|h| {
                h.iter()
                    .find(|h| h.key == INGESTED_AT_HEADER)
                    .and_then(|h| h.value)
            })
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<i64>().ok());
        if let Some(at) = ingested {
            latencies.push((now - at).max(0) as f64);
        }
    }
    Ok(())
}

fn result(name: &'static str, posts: u64, seconds: f64, latencies: &mut [f64]) -> RunResult {
    latencies.sort_by(f64::total_cmp);
    let quantile = |q: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        latencies[((latencies.len() - 1) as f64 * q).round() as usize]
    };
    RunResult {
        name,
        posts,
        seconds: (seconds * 1000.0).round() / 1000.0,
        posts_per_second: (posts as f64 / seconds).round(),
        latency_p50_ms: quantile(0.5),
        latency_p99_ms: quantile(0.99),
    }
}
