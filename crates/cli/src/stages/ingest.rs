//! Ingest from JSON lines: each valid post is normalised to the Post schema (with
//! `received_at` set) and published to the raw topic, keyed by its conversation; each invalid
//! or oversize line goes to the dead-letter topic with its reason. Platform webhooks and
//! streams publish through `earshot_ingest::KafkaSink`, with the same headers.
//!
//! Nothing is lost on the way: a line too long to keep is dead-lettered with its first
//! `max_record_bytes` bytes and the original's size and SHA-256; a post the broker refuses
//! for good (too large for the topic) goes to the dead-letter topic too, from the delivery
//! report, before [`Publisher::flush`] returns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use earshot_ingest::sink::{ingest_dead_letter, post_output};
use earshot_kafka::{client_config, is_permanent, ClientRole, Output, Truncated};
use earshot_model::{ModelError, Post, PostLimits};
use earshot_pipeline::{KafkaConfig, Topics};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use tracing::{error, warn};

/// The `earshot-source` of posts read from files and stdin.
const FILE_SOURCE: &str = "file";

/// Counts of what a publisher did.
#[derive(Debug, Default)]
pub struct PublishStats {
    pub published: AtomicU64,
    pub dead_letters: AtomicU64,
    pub failed: AtomicU64,
}

/// A post the broker refused for good: its payload and why, for the dead-letter topic.
type Refused = Mutex<Vec<(Vec<u8>, String)>>;

struct PublishContext {
    stats: Arc<PublishStats>,
    refused: Arc<Refused>,
    raw_topic: String,
}

impl ClientContext for PublishContext {}

impl ProducerContext for PublishContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let Err((e, message)) = result else {
            return;
        };
        if message.topic() == self.raw_topic && is_permanent(e) {
            warn!(error = %e, "The broker refused a post; it goes to the dead-letter topic");
            self.stats.published.fetch_sub(1, Ordering::Relaxed);
            lock(&self.refused).push((
                message.payload().unwrap_or_default().to_vec(),
                format!("the broker refused the post: {e}"),
            ));
        } else {
            error!(error = %e, topic = message.topic(), "Could not publish a record");
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Publishes posts to the raw topic.
pub struct Publisher {
    producer: ThreadedProducer<PublishContext>,
    topics: Topics,
    limits: PostLimits,
    /// The largest dead-letter payload: what fits in a message with the DLQ headers.
    max_dead_letter_bytes: usize,
    refused: Arc<Refused>,
    pub stats: Arc<PublishStats>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("topics", &self.topics)
            .field("limits", &self.limits)
            .field("stats", &self.stats)
            .finish()
    }
}

/// Why a line is refused: a stable code and a reason for people.
struct Refusal {
    code: &'static str,
    reason: String,
}

impl From<ModelError> for Refusal {
    fn from(e: ModelError) -> Refusal {
        Refusal {
            code: e.code(),
            reason: e.to_string(),
        }
    }
}

impl Publisher {
    pub fn new(settings: &KafkaConfig, limits: PostLimits) -> Result<Publisher> {
        let stats = Arc::new(PublishStats::default());
        let refused = Arc::new(Mutex::new(Vec::new()));
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
                refused: refused.clone(),
                raw_topic: settings.topics.raw.clone(),
            })
            .context("creating the ingest producer")?;
        Ok(Publisher {
            producer,
            topics: settings.topics.clone(),
            limits,
            // An oversize record is kept up to the record limit: enough to see what it was.
            max_dead_letter_bytes: limits
                .max_record_bytes
                .min(settings.max_message_bytes.saturating_sub(4 * 1024)),
            refused,
            stats,
        })
    }

    /// The limits posts are checked against.
    pub fn limits(&self) -> &PostLimits {
        &self.limits
    }

    /// Publishes one JSON line: to the raw topic if it is a valid post, else to the
    /// dead-letter topic. Returns whether it was valid.
    pub fn publish_line(&self, line: &[u8]) -> bool {
        self.dead_letter_refused();
        let now = Utc::now();
        let refusal = match Post::from_json_with(line, &self.limits)
            .and_then(|post| post.check_time(now, &self.limits).map(|()| post))
        {
            Ok(post) => match self.publish_post(post, now) {
                Ok(()) => return true,
                Err(refusal) => refusal,
            },
            Err(e) => e.into(),
        };
        self.dead_letter(line, None, &refusal, now);
        false
    }

    /// A line longer than `max_record_bytes`, of which `prefix` was kept: to the dead-letter
    /// topic with its size and hash.
    pub fn publish_oversize_line(&self, prefix: &[u8], original: &Truncated) {
        self.dead_letter_refused();
        let refusal = Refusal {
            code: "oversize",
            reason: format!(
                "the line is {} bytes, more than max_record_bytes = {}",
                original.original_bytes, self.limits.max_record_bytes
            ),
        };
        self.dead_letter(prefix, Some(original.clone()), &refusal, Utc::now());
    }

    fn publish_post(&self, mut post: Post, now: DateTime<Utc>) -> Result<(), Refusal> {
        post.received_at.get_or_insert(now);
        let output = post_output(&post, &self.topics.raw, FILE_SOURCE).map_err(|e| Refusal {
            code: "encode_failed",
            reason: e.to_string(),
        })?;
        // Normalising adds `received_at` and defaults; it must still fit.
        let size = output.payload.as_ref().map_or(0, Vec::len);
        if size > self.limits.max_record_bytes {
            return Err(ModelError::Oversize {
                what: "the normalised record",
                size,
                limit: self.limits.max_record_bytes,
            }
            .into());
        }
        let queued = self.send(&output, Some(&post.id), now.timestamp_millis());
        match queued {
            Ok(()) => {
                self.stats.published.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(Refusal {
                code: "publish_refused",
                reason: format!("the client refused the post: {e}"),
            }),
        }
    }

    /// Sends `payload` (cut to fit, with the original's size and hash when cut) to the
    /// dead-letter topic.
    fn dead_letter(
        &self,
        payload: &[u8],
        truncated: Option<Truncated>,
        refusal: &Refusal,
        now: DateTime<Utc>,
    ) {
        let output = ingest_dead_letter(
            &self.topics.dlq,
            refusal.code,
            &refusal.reason,
            FILE_SOURCE,
            payload,
            self.max_dead_letter_bytes,
            truncated,
        );
        if let Err(e) = self.send(&output, None, now.timestamp_millis()) {
            error!(error = %e, "Could not queue a dead letter");
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.stats.dead_letters.fetch_add(1, Ordering::Relaxed);
    }

    /// Posts the broker refused for good go to the dead-letter topic.
    fn dead_letter_refused(&self) {
        let refused = std::mem::take(&mut *lock(&self.refused));
        for (payload, reason) in refused {
            let refusal = Refusal {
                code: "publish_refused",
                reason,
            };
            self.dead_letter(&payload, None, &refusal, Utc::now());
        }
    }

    /// Queues a record, waiting while the producer's queue is full. An error means the
    /// client will not take it (too large for `message.max.bytes`, …).
    fn send(&self, output: &Output, trace: Option<&str>, now_ms: i64) -> Result<(), KafkaError> {
        let mut record = BaseRecord::<String, Vec<u8>>::to(&output.topic)
            .headers(output.kafka_headers(trace, Some(now_ms)));
        if let Some(payload) = &output.payload {
            record = record.payload(payload);
        }
        if let Some(key) = &output.key {
            record = record.key(key);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// Waits until everything published (and every post the broker refused, now a dead
    /// letter) is acknowledged.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            self.producer
                .flush(left)
                .context("flushing published posts")?;
            if lock(&self.refused).is_empty() {
                break;
            }
            self.dead_letter_refused();
        }
        let failed = self.stats.failed.load(Ordering::Relaxed);
        anyhow::ensure!(failed == 0, "{failed} record(s) could not be published");
        Ok(())
    }
}
