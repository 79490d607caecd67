//! Creating Earshot's topics on a real broker at start-up, when `[kafka] create_topics = true`:
//! the raw, scored, incidents, unrouted and dead-letter topics, and `<tickets_prefix><queue>`
//! for every queue of the route configuration, each with `[kafka] partitions` partitions and
//! `replication_factor` replicas; route's changelog is compacted (`cleanup.policy=compact`),
//! and has as many partitions as the scored topic since both use `partitions`. Topics that
//! already exist are left as they are (their partition counts are not changed).
//!
//! Production clusters usually create topics ahead of time (see `deploy/compose.yaml`);
//! this is for development brokers, tests and first runs.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use earshot_kafka::{client_config, ClientRole};
use earshot_pipeline::KafkaConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use tracing::{info, warn};

use crate::settings::Settings;

/// How long creating the topics (and seeing them in metadata) may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Creates the missing topics if the settings ask for it; does nothing otherwise.
pub fn ensure(settings: &Settings) -> Result<()> {
    if !settings.kafka.create_topics {
        return Ok(());
    }
    let queues = match route_queues(settings) {
        Ok(queues) => queues,
        Err(e) => {
            warn!(error = %format!("{e:#}"), "Cannot read the route queues; ticket topics are not created");
            Vec::new()
        }
    };
    create(&settings.kafka, &settings.kafka.topics.all(&queues))
}

/// The queue ids of the route configuration the settings name (none without one).
pub fn route_queues(settings: &Settings) -> Result<Vec<String>> {
    let config = crate::config_set::route_config(settings, None)?;
    Ok(config.map_or_else(Vec::new, |(config, _)| config.queue_ids()))
}

/// Creates `topics` (existing ones are fine) and waits until the broker's metadata lists
/// them all.
pub fn create(kafka: &KafkaConfig, topics: &[String]) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(kafka, &ClientRole::Admin)
        .create()
        .context("creating a Kafka admin client")?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|name| {
            let topic = NewTopic::new(
                name,
                kafka.partitions.max(1),
                TopicReplication::Fixed(kafka.replication_factor.max(1)),
            );
            match kafka.topics.is_compacted(name) {
                true => topic.set("cleanup.policy", "compact"),
                false => topic,
            }
        })
        .collect();
    let options = AdminOptions::new()
        .request_timeout(Some(TIMEOUT))
        .operation_timeout(Some(TIMEOUT));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = runtime
        .block_on(admin.create_topics(&new_topics, &options))
        .with_context(|| format!("creating topics on {}", kafka.brokers))?;
    let mut failed = Vec::new();
    for result in results {
        match result {
            Ok(topic) => info!(%topic, partitions = kafka.partitions, "Created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => failed.push(format!("{topic}: {code}")),
        }
    }
    if !failed.is_empty() {
        bail!("could not create topics: {}", failed.join(", "));
    }
    wait_for_metadata(&admin, topics)
}

/// Brokers may answer CreateTopics before every broker's metadata has the topics; wait so
/// that the consumers that subscribe next see their partitions at once.
fn wait_for_metadata(admin: &AdminClient<DefaultClientContext>, topics: &[String]) -> Result<()> {
    let started = Instant::now();
    loop {
        let mut missing = Vec::new();
        for topic in topics {
            let known = admin
                .inner()
                .fetch_metadata(Some(topic), Duration::from_secs(5))
                .ok()
                .is_some_and(|m| {
                    m.topics().iter().any(|t| {
                        t.name() == topic && t.error().is_none() && !t.partitions().is_empty()
                    })
                });
            if !known {
                missing.push(topic.as_str());
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        if started.elapsed() > TIMEOUT {
            bail!(
                "topics created but not in the broker's metadata after {} s: {}",
                TIMEOUT.as_secs(),
                missing.join(", ")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
