//! Ingest from JSON lines: each valid post is normalised to the Post schema (with
//! `received_at` set) and published to the raw topic, keyed by its conversation; each invalid
//! line goes to the dead-letter topic with its reason. Platform webhooks and streams publish
//! through `earshot_ingest::KafkaSink`, with the same headers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use earshot_ingest::sink::{dead_letter_headers, post_headers};
use earshot_kafka::{client_config, ClientRole, KafkaSettings, Topics};
use earshot_model::Post;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use tracing::error;

/// The `earshot-source` of posts read from files and stdin.
const FILE_SOURCE: &str = "file";

/// Counts of what a publisher did.
#[derive(Debug, Default)]
pub struct PublishStats {
    pub published: AtomicU64,
    pub dead_letters: AtomicU64,
    pub failed: AtomicU64,
}

struct PublishContext {
    stats: Arc<PublishStats>,
}

impl ClientContext for PublishContext {}

impl ProducerContext for PublishContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            error!(error = %e, "Could not publish a post");
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Publishes posts to the raw topic.
pub struct Publisher {
    producer: ThreadedProducer<PublishContext>,
    topics: Topics,
    pub stats: Arc<PublishStats>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("topics", &self.topics)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Publisher {
    pub fn new(settings: &KafkaSettings) -> Result<Publisher> {
        let stats = Arc::new(PublishStats::default());
        let mut config = client_config(settings, &ClientRole::Producer);
        if config.get("enable.idempotence").is_none() {
            config.set("enable.idempotence", "true");
        }
        if config.get("linger.ms").is_none() {
            config.set("linger.ms", "20");
        }
        let producer = config
            .create_with_context(PublishContext {
                stats: stats.clone(),
            })
            .context("creating the ingest producer")?;
        Ok(Publisher {
            producer,
            topics: settings.topics.clone(),
            stats,
        })
    }

    /// Publishes one JSON line: to the raw topic if it is a valid post, else to the
    /// dead-letter topic. Returns whether it was valid.
    pub fn publish_line(&self, line: &[u8]) -> bool {
        let now = Utc::now();
        let now_ms = now.timestamp_millis().to_string();
        match Post::from_json(line) {
            Ok(mut post) => {
                post.received_at.get_or_insert(now);
                let payload = match serde_json::to_vec(&post) {
                    Ok(p) => p,
                    Err(_) => return false,
                };
                let headers = post_headers(&post.id, &now_ms, FILE_SOURCE);
                let key = post.conversation_key().to_string();
                self.send(
                    BaseRecord::to(&self.topics.raw)
                        .key(&key)
                        .payload(&payload)
                        .headers(headers),
                );
                self.stats.published.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                let reason = e.to_string();
                let headers = dead_letter_headers(e.code(), &reason, &now_ms, FILE_SOURCE);
                self.send(
                    BaseRecord::<str, [u8]>::to(&self.topics.dlq)
                        .payload(line)
                        .headers(headers),
                );
                self.stats.dead_letters.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    fn send<K: rdkafka::message::ToBytes + ?Sized, P: rdkafka::message::ToBytes + ?Sized>(
        &self,
        mut record: BaseRecord<'_, K, P>,
    ) {
        loop {
            match self.producer.send(record) {
                Ok(()) => return,
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    back,
                )) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => {
                    error!(error = %e, "Could not queue a post");
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    }

    /// Waits until everything published is acknowledged.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.producer
            .flush(timeout)
            .context("flushing published posts")?;
        let failed = self.stats.failed.load(Ordering::Relaxed);
        anyhow::ensure!(failed == 0, "{failed} post(s) could not be published");
        Ok(())
    }
}
