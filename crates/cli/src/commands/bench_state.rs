//! `earshot bench state`: how large route's changelog is and how long a restore takes for
//! many open conversations.
//!
//! A router with state tracking routes `conversations` conversations of `posts` posts each
//! (the bundled posts that open a ticket, with fresh ids and conversation ids), all on
//! partition 0, and keeps the latest record per key as a compacted changelog would. Then:
//!
//! * the changelog's size: records, key and value bytes;
//! * the restore in memory: a fresh router puts the records back (decoding and applying,
//!   what a restore costs besides reading Kafka);
//! * with `--brokers`, the restore through Kafka: the records are produced to a topic of
//!   their own, and a fresh route processor restores partition 0 from it the way the route
//!   stage does on assignment (read to the end with read_committed, then applied).

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use earshot_kafka::{client_config, ClientRole, Processor};
use earshot_model::{Post, ScoredPost};
use earshot_pipeline::Metrics;
use earshot_route::{RouteOutput, Router, Shard, StateRecord};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde::Serialize;

use crate::daemon::init_logging;
use crate::settings::Settings;
use crate::stages::route::RouteProcessor;

#[derive(Debug, Serialize)]
pub struct StateReport {
    pub conversations: usize,
    pub posts_per_conversation: usize,
    /// Open conversations in the router after routing.
    pub open: usize,
    /// Seconds routing took, state tracking and encoding included.
    pub route_seconds: f64,
    /// The compacted changelog: records (one per key) and their key and value bytes.
    pub records: usize,
    pub bytes: usize,
    pub bytes_per_conversation: f64,
    /// A fresh router putting the records back from memory.
    pub restore_in_memory_seconds: f64,
    pub restored_tickets: usize,
    /// Estimated heap of the restored router's folding table.
    pub folding_bytes: usize,
    /// The restore through Kafka (read to the end and applied), with `--brokers`.
    pub broker: Option<String>,
    pub restore_from_kafka_seconds: Option<f64>,
}

pub fn run(
    config: Option<&Path>,
    brokers: Option<&str>,
    conversations: usize,
    posts: usize,
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
    let analyzer = settings.analyzer()?;
    let mut route_config = settings.router(&analyzer)?.config().clone();
    route_config.folding.max_open = route_config.folding.max_open.max(conversations);
    let now: DateTime<Utc> = "2026-11-20T09:00:00Z".parse()?;
    let openers = openers(&settings, &analyzer, &route_config, now)?;

    let new_router = || {
        let mut router = Router::new(route_config.clone());
        router.track_state();
        router.own_shard(Shard(0), "bench/0");
        router
    };
    let mut router = new_router();
    let mut changelog: HashMap<String, Vec<u8>> = HashMap::new();
    let mut state = Vec::new();
    let mut out = Vec::new();
    let started = Instant::now();
    for n in 0..conversations {
        let template = &openers[n % openers.len()];
        for k in 0..posts.max(1) {
            let mut post = template.clone();
            post.post.id = format!("bench-{n}-{k}");
            post.post.conversation_id = Some(format!("bench-{n}"));
            out.clear();
            router.route_owned_into(post, now, &mut out);
        }
        if n % 10_000 == 9_999 || n + 1 == conversations {
            router.take_state(&mut state);
            compact(&mut changelog, &mut state);
        }
    }
    let route_seconds = started.elapsed().as_secs_f64();
    let open = router.stats().folding.open;
    drop(router);
    let bytes: usize = changelog.iter().map(|(k, v)| k.len() + v.len()).sum();

    let mut fresh = new_router();
    let started = Instant::now();
    let restored = fresh.restore_shard(
        Shard(0),
        changelog.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
    );
    let restore_in_memory_seconds = started.elapsed().as_secs_f64();
    let folding_bytes = fresh.stats().folding.approx_bytes;
    drop(fresh);

    let restore_from_kafka_seconds = match brokers {
        Some(brokers) => {
            settings.kafka.brokers = brokers.to_string();
            Some(restore_from_kafka(
                &mut settings,
                &changelog,
                &route_config,
            )?)
        }
        None => None,
    };
    let report = StateReport {
        conversations,
        posts_per_conversation: posts.max(1),
        open,
        route_seconds,
        records: changelog.len(),
        bytes,
        bytes_per_conversation: bytes as f64 / conversations.max(1) as f64,
        restore_in_memory_seconds,
        restored_tickets: restored.tickets,
        folding_bytes,
        broker: brokers.map(str::to_string),
        restore_from_kafka_seconds,
    };
    print(&report, json)?;
    Ok(ExitCode::SUCCESS)
}

/// Sample posts that open a ticket on their own: the conversations' first posts.
fn openers(
    settings: &Settings,
    analyzer: &earshot_analyze::Analyzer,
    config: &earshot_route::RouteConfig,
    now: DateTime<Utc>,
) -> Result<Vec<ScoredPost>> {
    let path = settings.resolve(Path::new("posts.jsonl"));
    let source =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut scratch = earshot_analyze::Scratch::default();
    let mut openers = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let Ok(post) = Post::from_json(line.as_bytes()) else {
            continue;
        };
        let Some(mut scored) = earshot_pipeline::score(analyzer, &mut scratch, post) else {
            continue;
        };
        scored.post.conversation_id = Some(format!("probe-{i}"));
        let mut probe = Router::new(config.clone());
        if probe
            .route(&scored, now)
            .iter()
            .any(|o| matches!(o, RouteOutput::Ticket(_)))
        {
            openers.push(scored);
        }
    }
    if openers.is_empty() {
        bail!("no bundled post opens a ticket with this configuration");
    }
    Ok(openers)
}

/// Keeps the latest value per key, as compaction does.
fn compact(changelog: &mut HashMap<String, Vec<u8>>, records: &mut Vec<StateRecord>) {
    for record in records.drain(..) {
        match record.value {
            Some(value) => changelog.insert(record.key, value),
            None => changelog.remove(&record.key),
        };
    }
}

/// Produces the changelog to a topic of its own (one partition), then times a fresh route
/// processor restoring partition 0 from it.
fn restore_from_kafka(
    settings: &mut Settings,
    changelog: &HashMap<String, Vec<u8>>,
    config: &earshot_route::RouteConfig,
) -> Result<f64> {
    let topic = format!("bench{}.route.changelog", std::process::id());
    let kafka = &mut settings.kafka;
    kafka.partitions = 1;
    kafka.topics.changelog = topic.clone();
    kafka.groups.route = format!("bench{}-route", std::process::id());
    crate::topics::create(kafka, std::slice::from_ref(&topic))?;
    let producer: ThreadedProducer<DefaultProducerContext> =
        client_config(kafka, &ClientRole::Producer)
            .set("linger.ms", "50")
            .set("compression.type", "lz4")
            .set("queue.buffering.max.kbytes", "1048576")
            .create()
            .context("creating a producer")?;
    for (key, value) in changelog {
        let mut record = BaseRecord::to(&topic).key(key).payload(value).partition(0);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, back))
                    if e.rdkafka_error_code()
                        == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
                {
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => bail!("producing the changelog: {e}"),
            }
        }
    }
    producer
        .flush(Duration::from_secs(600))
        .context("flushing the changelog")?;

    let reader = crate::daemon::changelog_reader(kafka, &kafka.groups.route)?;
    let mut processor = RouteProcessor::new(
        Router::new(config.clone()),
        kafka.topics.clone(),
        Metrics::unregistered(),
    )
    .with_changelog(topic, reader);
    let started = Instant::now();
    processor
        .assigned(&[0])
        .map_err(|e| anyhow::anyhow!("restoring: {e}"))?;
    Ok(started.elapsed().as_secs_f64())
}

fn print(report: &StateReport, json: bool) -> Result<()> {
    if json {
        crate::output::print(format_args!("{}", serde_json::to_string(report)?))?;
        return Ok(());
    }
    let mb = |b: usize| b as f64 / 1_048_576.0;
    let text = format!(
        "route state, {} conversations of {} posts ({} open)\n\
         routing with state tracking   {:>8.1} s\n\
         changelog (compacted)         {:>8} records, {:.1} MiB ({:.0} bytes per conversation)\n\
         restore in memory             {:>8.2} s ({} tickets; folding table {:.1} MiB)\n\
         restore from Kafka            {}\n",
        report.conversations,
        report.posts_per_conversation,
        report.open,
        report.route_seconds,
        report.records,
        mb(report.bytes),
        report.bytes_per_conversation,
        report.restore_in_memory_seconds,
        report.restored_tickets,
        mb(report.folding_bytes),
        match (report.restore_from_kafka_seconds, &report.broker) {
            (Some(s), Some(b)) => format!("{s:>8.2} s (read to the end and applied, on {b})"),
            _ => "not measured (give --brokers)".to_string(),
        }
    );
    crate::output::print(format_args!("{}", text.trim_end()))?;
    Ok(())
}
