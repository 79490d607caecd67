//! `earshot tail TOPIC`: prints records of a topic as they arrive, readably (tickets,
//! incidents, unrouted posts, dead letters) or as raw JSON, for a person watching.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use earshot_kafka::{client_config, ClientRole, Shutdown};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};

use crate::daemon::init_logging;
use crate::settings::Settings;

pub fn run(
    config: Option<&Path>,
    topic: &str,
    raw: bool,
    from_beginning: bool,
) -> Result<ExitCode> {
    let settings = Settings::load(config)?;
    init_logging(&settings.log);
    let shutdown = Shutdown::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.spawn(crate::daemon::watch_signals(shutdown.clone()));
    crate::output::stop_when_stderr_closes(&shutdown);
    let consumer = tail_consumer(&settings.kafka, &[topic], from_beginning)?;
    while !shutdown.is_triggered() {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.context("reading the topic")?;
        let payload = message.payload().unwrap_or_default();
        if raw {
            crate::output::print(format_args!("{}", String::from_utf8_lossy(payload)))?;
        } else {
            let headers: Vec<(String, String)> = message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            (
                                h.key.to_string(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            crate::output::print(format_args!(
                "{}",
                render(message.topic(), payload, &headers)
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A consumer that reads without committing (a watcher must not move a stage's offsets).
/// A topic starting with `^` is a regex (`^earshot\.tickets\..*`).
pub fn tail_consumer(
    kafka: &earshot_kafka::KafkaSettings,
    topics: &[&str],
    from_beginning: bool,
) -> Result<BaseConsumer> {
    let mut config = client_config(kafka, &ClientRole::Consumer);
    config
        .set(
            "group.id",
            format!("earshot-tail-{}-{}", std::process::id(), next_watcher()),
        )
        .set("enable.auto.commit", "false")
        .set(
            "auto.offset.reset",
            if from_beginning { "earliest" } else { "latest" },
        )
        .set("isolation.level", "read_committed")
        .set("topic.metadata.refresh.interval.ms", "1000");
    let consumer: BaseConsumer = config.create().context("creating the tail consumer")?;
    consumer.subscribe(topics).context("subscribing")?;
    Ok(consumer)
}

/// Each watcher reads everything: a group of its own.
fn next_watcher() -> u64 {
    static WATCHERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    WATCHERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// One readable line for a record of an Earshot topic.
pub fn render(topic: &str, payload: &[u8], headers: &[(String, String)]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) else {
        let code = headers
            .iter()
            .find(|(k, _)| k == earshot_kafka::DLQ_ERROR_CODE_HEADER)
            .map_or("?", |(_, v)| v.as_str());
        return format!(
            "{topic}  dead letter ({code}): {}",
            String::from_utf8_lossy(payload)
                .chars()
                .take(80)
                .collect::<String>()
        );
    };
    let text = |v: &serde_json::Value| -> String {
        let t = v["text"].as_str().unwrap_or("").replace('\n', " ");
        let short: String = t.chars().take(60).collect();
        if short.len() < t.len() {
            format!("{short}…")
        } else {
            short
        }
    };
    match value["kind"].as_str() {
        Some("ticket") => format!(
            "ticket   {} {:<12} {} rev {:<2} due {}  @{}: {}",
            value["priority"].as_str().unwrap_or("?"),
            value["queue"].as_str().unwrap_or("?"),
            value["ticket_id"].as_str().unwrap_or("?"),
            value["revision"],
            value["due_at"].as_str().unwrap_or("-"),
            value["post"]["author"]["handle"].as_str().unwrap_or(""),
            text(&value["post"])
        ),
        Some("incident") => format!(
            "incident {} {}/{} {} count {} (baseline {:.1}), {} ticket(s)",
            value["incident_id"].as_str().unwrap_or("?"),
            value["watchlist"].as_str().unwrap_or("?"),
            value["intent"].as_str().unwrap_or("?"),
            value["status"].as_str().unwrap_or("?"),
            value["count"],
            value["baseline"]["mean"].as_f64().unwrap_or(0.0),
            value["ticket_count"]
        ),
        Some("unrouted") => format!(
            "unrouted {}: {}",
            value["reason_code"].as_str().unwrap_or("?"),
            text(&value["post"])
        ),
        _ => format!("{topic}  {}", text(&value)),
    }
}
