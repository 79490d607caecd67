//! `earshot demo`: the whole pipeline on an embedded broker with the bundled sample posts.
//!
//! Starts librdkafka's mock cluster in-process (the real protocol on localhost), creates
//! the topics, runs the analyze and route stages as consumer groups, publishes the sample
//! posts through ingest, prints tickets and incidents as they appear on their topics, and
//! exits once every post has gone through, with a summary (or one JSON line with `--json`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use earshot_kafka::{EmbeddedKafka, Shutdown};
use earshot_pipeline::Metrics;
use prometheus::Registry;
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use serde::Serialize;

use crate::commands::tail::{render, tail_consumer};
use crate::daemon::{init_logging, spawn_pipeline, RunningStage};
use crate::lines::{Line, Lines};
use crate::output;
use crate::settings::Settings;
use crate::settings::Shape;
use crate::stages::ingest::Publisher;

/// The final line of `earshot demo --json`.
#[derive(Debug, Serialize)]
pub struct DemoSummary {
    pub posts: u64,
    pub tickets: usize,
    /// Tickets per queue.
    pub queues: BTreeMap<String, usize>,
    pub incidents: usize,
    pub unrouted: u64,
    pub dlq: u64,
    pub seconds: f64,
}

pub fn run(config: Option<&Path>, inputs: &[PathBuf], json: bool, quiet: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let config = config.map(Path::to_path_buf).unwrap_or_else(default_config);
    let mut settings = Settings::load(Some(&config))?;
    if std::env::var_os("RUST_LOG").is_none() {
        settings.log.level = "warn".into();
    }
    init_logging(&settings.log);
    let inputs: Vec<PathBuf> = if inputs.is_empty() {
        vec![
            settings.resolve(Path::new("posts.jsonl")),
            settings.resolve(Path::new("bad_posts.jsonl")),
        ]
    } else {
        inputs.to_vec()
    };

    let analyzer = Arc::new(settings.analyzer()?);
    let router = settings.router(&analyzer)?;
    let queues = router.config().queue_ids();

    let broker = EmbeddedKafka::start(1).context("starting the embedded broker")?;
    settings.kafka.brokers = broker.bootstrap_servers();
    // One partition keeps the replay in post order, so that the event clock and spike
    // windows see the week as it happened.
    settings.kafka.partitions = 1;
    broker
        .create_topics(&settings.kafka, &settings.kafka.topics.all(&queues))
        .context("creating topics")?;

    let registry = Registry::new();
    let metrics = Metrics::register(&registry)?;
    let shutdown = Shutdown::new();
    output::stop_when_stderr_closes(&shutdown);
    let stages = spawn_pipeline(
        &settings.kafka,
        settings.limits,
        settings.analysis(analyzer.clone()),
        router,
        settings.pipeline,
        crate::settings::RouteClock::Event,
        &metrics,
        &shutdown,
        &|| None,
    );
    let shape = settings.pipeline.shape;

    let topics = &settings.kafka.topics;
    let ticket_topics: Vec<String> = queues.iter().map(|q| topics.tickets(q)).collect();
    let mut watched: Vec<&str> = ticket_topics.iter().map(String::as_str).collect();
    watched.push(&topics.incidents);
    let watcher = tail_consumer(&settings.kafka, &watched, true)?;

    let publisher = Publisher::new(&settings.kafka, settings.limits)?;
    for input in &inputs {
        let file =
            std::fs::File::open(input).with_context(|| format!("reading {}", input.display()))?;
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        let mut lines = Lines::new(reader, publisher.limits().max_record_bytes);
        while let Some((_, line)) = lines
            .next_line()
            .with_context(|| format!("reading {}", input.display()))?
        {
            match line {
                Line::Text(text) => {
                    publisher.publish_line(text);
                }
                Line::TooLong { prefix, original } => {
                    publisher.publish_oversize_line(prefix, &original)
                }
            }
        }
    }
    publisher.flush(Duration::from_secs(60))?;
    let published = publisher.stats.published.load(Ordering::Relaxed);
    let ingest_dlq = publisher.stats.dead_letters.load(Ordering::Relaxed);
    if !json && !quiet {
        stop_on_error(&shutdown, output::note(format_args!("earshot demo: published {published} posts ({ingest_dlq} invalid lines to the DLQ); watching tickets…")))?;
    }

    let mut tickets = HashMap::new();
    let mut incidents = HashSet::new();
    let mut seen_records = 0u64;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        while let Some(message) = watcher.poll(Duration::from_millis(50)) {
            let message = message.context("reading tickets")?;
            seen_records += 1;
            let payload = message.payload().unwrap_or_default();
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) {
                if let Some(id) = value["ticket_id"].as_str() {
                    let queue = value["queue"].as_str().unwrap_or_default();
                    tickets.insert(id.to_string(), queue.to_string());
                }
                if let Some(id) = value["incident_id"]
                    .as_str()
                    .filter(|_| value["kind"] == "incident")
                {
                    incidents.insert(id.to_string());
                }
            }
            if !json && !quiet {
                stop_on_error(
                    &shutdown,
                    output::print(format_args!("{}", render(message.topic(), payload, &[]))),
                )?;
            }
        }
        let analyzed = metrics
            .posts_received
            .with_label_values(&[shape.input_stage()])
            .get();
        let watched_records = produced_to(&registry, shape.output_stage(), &watched);
        let idle = stages
            .iter()
            .all(|s| metrics.in_flight.with_label_values(&[s.name]).get() == 0);
        let (scored, routed) = match shape {
            Shape::Fused => (analyzed, analyzed),
            Shape::Split => (
                metrics
                    .records_produced
                    .with_label_values(&["analyze", &topics.scored])
                    .get(),
                metrics.posts_received.with_label_values(&["route"]).get(),
            ),
        };
        if analyzed >= published && routed >= scored && idle && seen_records >= watched_records {
            break;
        }
        if stages.iter().any(RunningStage::is_finished) {
            break;
        }
        if Instant::now() > deadline {
            shutdown.trigger();
            bail!("the demo did not finish in 5 minutes: analyzed {analyzed}/{published}, routed {routed}/{scored}");
        }
    }
    shutdown.trigger();
    let mut stage_dead_letters = 0;
    for stage in stages {
        stage_dead_letters += stage
            .join()
            .map_err(|e| anyhow::anyhow!("a stage failed: {e}"))?
            .dead_letters;
    }
    let summary = DemoSummary {
        posts: published,
        tickets: tickets.len(),
        queues: tickets.values().fold(BTreeMap::new(), |mut counts, queue| {
            *counts.entry(queue.clone()).or_default() += 1;
            counts
        }),
        incidents: incidents.len(),
        unrouted: metrics
            .posts_discarded
            .with_label_values(&["route", "unrouted"])
            .get(),
        dlq: ingest_dlq + stage_dead_letters,
        seconds: (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
    };
    watcher.unsubscribe();
    if json {
        output::print(format_args!("{}", serde_json::to_string(&summary)?))?;
    } else {
        output::note(format_args!(
            "earshot demo: {} posts → {} tickets, {} incidents, {} unrouted, {} dead letters, dropped {} posts matching no watchlist, in {:.1} s",
            summary.posts,
            summary.tickets,
            summary.incidents,
            summary.unrouted,
            summary.dlq,
            metrics.posts_discarded.with_label_values(&["analyze", "no_watchlist"]).get(),
            summary.seconds
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A failed write ends the demo: its stages are asked to stop before the error returns.
fn stop_on_error<T>(shutdown: &Shutdown, result: Result<T, output::OutputError>) -> Result<T> {
    if result.is_err() {
        shutdown.trigger();
    }
    Ok(result?)
}

/// The bundled example configuration: `examples/earshot.toml` from the working directory,
/// else from the source tree the binary was built in.
pub fn default_config() -> PathBuf {
    let here = PathBuf::from("examples/earshot.toml");
    if here.exists() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/earshot.toml")
}

/// Records a stage produced (and the broker acknowledged) to any of `topics`.
fn produced_to(registry: &Registry, stage: &str, topics: &[&str]) -> u64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == "earshot_records_produced_total")
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| {
            let labels = m.get_label();
            labels
                .iter()
                .any(|l| l.name() == "stage" && l.value() == stage)
                && labels
                    .iter()
                    .any(|l| l.name() == "topic" && topics.contains(&l.value()))
        })
        .map(|m| m.get_counter().get_value() as u64)
        .sum()
}
