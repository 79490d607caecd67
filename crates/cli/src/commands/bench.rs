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
use crate::daemon::{init_logging, spawn_analyze, spawn_pipeline};
use crate::output;
use crate::settings::{RouteClock, Settings, Shape};
use crate::stages::ingest::Publisher;

#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub name: &'static str,
    pub posts: u64,
    pub seconds: f64,
    pub posts_per_second: f64,
    /// Post → output: from the ingest timestamp header to the reader seeing the output.
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    /// Where that time goes, at the median: until the last stage produced the output (the
    /// publisher's linger, the stages' fetch waits, processing, and in the split shape the
    /// hop through the scored topic), then until the reader saw it (the last stage's linger
    /// and batching, the broker, the reader's fetch wait).
    pub until_produced_p50_ms: f64,
    pub produced_to_read_p50_ms: f64,
    /// Processing per post, summed over the stages on the path (mean of
    /// `earshot_stage_latency_seconds`).
    pub processing_ms: f64,
    /// Records the stages on the path produced per post in the throughput run, and those
    /// of them that went to route's changelog.
    pub records_per_post: f64,
    pub changelog_records_per_post: f64,
    /// Posts/s of each throughput run (`--runs`), in order; `posts_per_second` and
    /// `seconds` are their median's.
    pub throughput_runs: Vec<f64>,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub broker: String,
    /// The client profile: `default`, or `low-latency` (`--low-latency`).
    pub profile: &'static str,
    pub pass_through: RunResult,
    pub analyze_only: RunResult,
    /// The shape `earshot run` runs as configured (`[pipeline] shape`, fused by default).
    pub pipeline: RunResult,
    /// Both shapes side by side: analyze → route in one consumer, and the analyze and
    /// route stages through the scored topic.
    pub fused: RunResult,
    pub split: RunResult,
    /// pipeline posts/s ÷ pass-through posts/s: with several `--runs`, the median of each
    /// round's ratio (the kinds of a round run one after the other, under the same load).
    pub ratio: f64,
    pub fused_ratio: f64,
    pub split_ratio: f64,
    /// analyze-only posts/s ÷ pass-through posts/s: one hop with processing against one
    /// hop without.
    pub analyze_only_ratio: f64,
    /// Throughput runs of each kind, interleaved: round 1 runs every kind, then round 2…
    pub runs: usize,
    /// `[analyze] threads` of the analyze-only, fused and split runs.
    pub analysis_threads: usize,
}

/// The low-latency client profile (docs/operations.md): producers send at once instead of
/// lingering to batch, consumers ask brokers that hold a fetch to answer within 10 ms.
pub fn low_latency(kafka: &mut KafkaConfig) {
    kafka.producer.insert("linger.ms".into(), "0".into());
    kafka
        .consumer
        .insert("fetch.wait.max.ms".into(), "10".into());
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

#[allow(clippy::too_many_arguments)]
pub fn run(
    config: Option<&Path>,
    brokers: Option<&str>,
    copies: usize,
    rate: u64,
    runs: usize,
    timeout: Duration,
    json: bool,
    low_latency_profile: bool,
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
    if low_latency_profile {
        low_latency(&mut settings.kafka);
    }
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
    let run = |kind, round| {
        measure(
            kind, kafka, &prefix, &posts, rate, &analyzer, &settings, &queues, &create, timeout,
            round,
        )
    };
    // Round by round, so that a change in the machine's load between runs (a build next
    // door) weighs on every kind alike, and each round's ratios compare like with like.
    let runs = runs.max(1);
    let kinds = [
        Kind::PassThrough,
        Kind::AnalyzeOnly,
        Kind::Fused,
        Kind::Split,
    ];
    let mut rounds: [Vec<RunResult>; 4] = Default::default();
    for round in 0..runs {
        for (kind, results) in kinds.iter().zip(&mut rounds) {
            results.push(run(*kind, round)?);
        }
    }
    let [pass_through, analyze_only, fused, split] = rounds;
    // Each round's kind ÷ that round's pass-through, then the median over rounds.
    let ratio = |kind: &[RunResult]| {
        let per_round: Vec<f64> = kind
            .iter()
            .zip(&pass_through)
            .map(|(k, p)| k.posts_per_second / p.posts_per_second)
            .collect();
        (median(per_round) * 100.0).round() / 100.0
    };
    let (fused_ratio, split_ratio, analyze_only_ratio) =
        (ratio(&fused), ratio(&split), ratio(&analyze_only));
    let [pass_through, analyze_only, fused, split] =
        [pass_through, analyze_only, fused, split].map(combine);
    let (pipeline, pipeline_ratio) = match settings.pipeline.shape {
        Shape::Fused => (fused.clone(), fused_ratio),
        Shape::Split => (split.clone(), split_ratio),
    };

    let report = BenchReport {
        broker: if embedded.is_some() {
            "embedded (librdkafka mock cluster)".into()
        } else {
            kafka.brokers.clone()
        },
        profile: if low_latency_profile {
            "low-latency"
        } else {
            "default"
        },
        ratio: pipeline_ratio,
        fused_ratio,
        split_ratio,
        analyze_only_ratio,
        runs,
        analysis_threads: settings.analyze.threads,
        pass_through,
        analyze_only,
        pipeline,
        fused,
        split,
    };
    if json {
        output::print(format_args!("{}", serde_json::to_string(&report)?))?;
    } else {
        output::print(format_args!(
            "broker: {}, client profile: {}, throughput runs per kind: {}, analysis threads: {}",
            report.broker, report.profile, report.runs, report.analysis_threads
        ))?;
        for r in [
            &report.pass_through,
            &report.analyze_only,
            &report.fused,
            &report.split,
        ] {
            output::print(format_args!(
                "{:<13} {:>7} posts in {:>6.2} s = {:>8.0} posts/s, latency p50 {:>7.1} ms, p99 {:>7.1} ms \
                 (p50 {:.1} ms until produced + {:.1} ms until read; processing {:.3} ms; \
                 {:.2} records per post, {:.2} to the changelog)",
                r.name,
                r.posts,
                r.seconds,
                r.posts_per_second,
                r.latency_p50_ms,
                r.latency_p99_ms,
                r.until_produced_p50_ms,
                r.produced_to_read_p50_ms,
                r.processing_ms,
                r.records_per_post,
                r.changelog_records_per_post,
            ))?;
            if r.throughput_runs.len() > 1 {
                let runs: Vec<String> = r
                    .throughput_runs
                    .iter()
                    .map(|p| format!("{p:.0}"))
                    .collect();
                output::print(format_args!(
                    "{:<13} posts/s by run: {}",
                    "",
                    runs.join(", ")
                ))?;
            }
        }
        output::print(format_args!(
            "fused / pass-through = {:.2}; split / pass-through = {:.2}; analyze only / pass-through = {:.2}; \
             pipeline ({}) / pass-through = {:.2}{}",
            report.fused_ratio,
            report.split_ratio,
            report.analyze_only_ratio,
            report.pipeline.name,
            report.ratio,
            if report.runs > 1 {
                " (medians of each round's ratio)"
            } else {
                ""
            }
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
    /// Analyze → route in one consumer (`earshot process`).
    Fused,
    /// The analyze and route stages through the scored topic.
    Split,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::PassThrough => "pass_through",
            Kind::AnalyzeOnly => "analyze_only",
            Kind::Fused => "fused",
            Kind::Split => "split",
        }
    }

    /// The stages a post goes through, the first reading the published posts and the last
    /// writing the watched outputs.
    fn stages(self) -> &'static [&'static str] {
        match self {
            Kind::PassThrough => &["pass_through"],
            Kind::AnalyzeOnly => &["analyze"],
            Kind::Fused => &["process"],
            Kind::Split => &["analyze", "route"],
        }
    }

    fn input_stage(self) -> &'static str {
        self.stages()[0]
    }

    fn output_stage(self) -> &'static str {
        self.stages()[self.stages().len() - 1]
    }
}

/// Runs one kind over fresh topics: throughput on a backlog (every post published before
/// the stages start; timed from partition assignment until every output is acknowledged),
/// then, in the first round only, latency at a steady `rate` of posts per second while the
/// stages run.
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
    round: usize,
) -> Result<RunResult> {
    let mut seconds = 0.0;
    let mut latencies = Vec::new();
    let mut processing_ms = 0.0;
    let mut records = (0.0, 0.0);
    let phases: &[&str] = if round == 0 {
        &["throughput", "latency"]
    } else {
        &["throughput"]
    };
    for &phase in phases {
        // Topics and groups of their own for each kind, phase and round.
        let run = format!("{prefix}.{}.{phase}{round}", kind.name());
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
        kafka.groups.process = format!("{run}-process");
        let t = &kafka.topics;
        let input = t.raw.clone();
        let (watched, all): (Vec<String>, Vec<String>) = match kind {
            Kind::PassThrough => {
                let copy = format!("{run}.copy");
                (vec![copy.clone()], vec![input.clone(), copy])
            }
            Kind::AnalyzeOnly => (vec![t.scored.clone()], t.all::<&str>(&[])),
            Kind::Fused | Kind::Split => {
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
            "latency" => {
                // The measuring reader answers within 10 ms of an output, whatever the
                // profile: librdkafka's 500 ms default fetch wait would swamp the figures
                // on brokers that hold a fetch for the whole wait.
                let mut reader = kafka.clone();
                reader
                    .consumer
                    .insert("fetch.wait.max.ms".into(), "10".into());
                Some(tail_consumer(&reader, &watched_refs, true)?)
            }
            _ => None,
        };
        let wait_a_little = |latencies: &mut Vec<Sample>| -> Result<()> {
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
            Kind::AnalyzeOnly | Kind::Fused | Kind::Split => {
                let running = match kind {
                    Kind::AnalyzeOnly => vec![spawn_analyze(
                        &kafka,
                        settings.limits,
                        settings.analysis(analyzer.clone()),
                        &metrics,
                        &shutdown,
                        None,
                    )],
                    _ => {
                        let mut shape = settings.pipeline;
                        shape.shape = if kind == Kind::Fused {
                            Shape::Fused
                        } else {
                            Shape::Split
                        };
                        spawn_pipeline(
                            &kafka,
                            settings.limits,
                            settings.analysis(analyzer.clone()),
                            settings.router(analyzer)?,
                            shape,
                            RouteClock::Wall,
                            &metrics,
                            &shutdown,
                            &|| None,
                        )
                    }
                };
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
            let idle = kind
                .stages()
                .iter()
                .all(|s| m.in_flight.with_label_values(&[s]).get() == 0);
            let done = received >= published && idle && (kind != Kind::Split || routed >= scored);
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
                let counts: Vec<_> = kind.stages().iter().map(|s| (s, count(s))).collect();
                bail!(
                    "{kind:?} did not finish the {phase} run: {} posts published; \
                     (stage, (received, in flight)) {counts:?}",
                    if phase == "throughput" {
                        posts.len()
                    } else {
                        (rate as usize * 5).min(posts.len())
                    },
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
            records = records_per_post(&metrics, kind, &kafka.topics.changelog, posts.len());
        } else {
            latencies = phase_latencies;
            processing_ms = processing(&metrics, kind);
        }
    }
    Ok(result(
        kind.name(),
        posts.len() as u64,
        seconds,
        &latencies,
        processing_ms,
        records,
    ))
}

/// Records the stages on `kind`'s path produced (and had acknowledged) per post: all of
/// them, and those to `changelog`.
fn records_per_post(metrics: &Metrics, kind: Kind, changelog: &str, posts: usize) -> (f64, f64) {
    use prometheus::core::Collector;
    let (mut all, mut state) = (0.0, 0.0);
    for family in metrics.records_produced.collect() {
        for metric in family.get_metric() {
            let label = |name: &str| {
                metric
                    .get_label()
                    .iter()
                    .find(|l| l.name() == name)
                    .map(|l| l.value().to_string())
            };
            let on_path = label("stage").is_some_and(|s| kind.stages().contains(&s.as_str()));
            if !on_path {
                continue;
            }
            let n = metric.get_counter().get_value();
            all += n;
            if label("topic").as_deref() == Some(changelog) {
                state += n;
            }
        }
    }
    let per = |n: f64| (n / posts.max(1) as f64 * 100.0).round() / 100.0;
    (per(all), per(state))
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

/// One output's way from ingest to the reader, ms.
#[derive(Debug, Clone, Copy)]
struct Sample {
    total: f64,
    /// Until the stage produced it (the record's create time).
    until_produced: f64,
}

/// Mean processing time per post along `kind`'s path, ms.
fn processing(metrics: &Metrics, kind: Kind) -> f64 {
    let ms: f64 = kind
        .stages()
        .iter()
        .map(|stage| {
            let h = metrics.stage_latency.with_label_values(&[stage]);
            match h.get_sample_count() {
                0 => 0.0,
                n => h.get_sample_sum() / n as f64 * 1000.0,
            }
        })
        .sum();
    (ms * 1000.0).round() / 1000.0
}

fn drain(watcher: &rdkafka::consumer::BaseConsumer, latencies: &mut Vec<Sample>) -> Result<()> {
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
            // Clocks of one machine; still, never a negative span.
            let now = now.max(at);
            let produced = message.timestamp().to_millis().unwrap_or(now);
            latencies.push(Sample {
                total: (now - at) as f64,
                until_produced: (produced.clamp(at, now) - at) as f64,
            });
        }
    }
    Ok(())
}

fn result(
    name: &'static str,
    posts: u64,
    seconds: f64,
    samples: &[Sample],
    processing_ms: f64,
    (records_per_post, changelog_records_per_post): (f64, f64),
) -> RunResult {
    let quantile = |of: fn(&Sample) -> f64, q: f64| -> f64 {
        let mut values: Vec<f64> = samples.iter().map(of).collect();
        values.sort_by(f64::total_cmp);
        match values.len() {
            0 => 0.0,
            n => values[((n - 1) as f64 * q).round() as usize],
        }
    };
    RunResult {
        name,
        posts,
        seconds: (seconds * 1000.0).round() / 1000.0,
        posts_per_second: (posts as f64 / seconds).round(),
        latency_p50_ms: quantile(|s| s.total, 0.5),
        latency_p99_ms: quantile(|s| s.total, 0.99),
        until_produced_p50_ms: quantile(|s| s.until_produced, 0.5),
        produced_to_read_p50_ms: quantile(|s| s.total - s.until_produced, 0.5),
        processing_ms,
        records_per_post,
        changelog_records_per_post,
        throughput_runs: vec![(posts as f64 / seconds).round()],
    }
}

/// One kind's rounds (at least one) as one result: the first round's (the only one with
/// latency figures), with every round's throughput and their median.
fn combine(rounds: Vec<RunResult>) -> RunResult {
    let throughput_runs: Vec<f64> = rounds.iter().map(|r| r.posts_per_second).collect();
    let mut result = rounds
        .into_iter()
        .next()
        .expect("every kind runs at least once");
    let median = median(throughput_runs.clone());
    result.posts_per_second = median.round();
    result.seconds = if median > 0.0 {
        (result.posts as f64 / median * 1000.0).round() / 1000.0
    } else {
        0.0
    };
    result.throughput_runs = throughput_runs;
    result
}

/// The middle value (the mean of the two middle ones for an even count); 0 for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
