//! Publishing normalised items to Kafka and waiting for the acknowledgements: the one place
//! ingest does Kafka I/O.
//!
//! Posts go to the raw topic keyed by conversation (so one conversation stays in one
//! partition), dead letters to the DLQ topic with their reason, both through one idempotent
//! producer (`enable.idempotence=true`, hence `acks=all`). [`KafkaSink::publish`] returns only
//! when every record of the call is acknowledged, or fails: a webhook answers 2xx, and a stream
//! stores its cursor, only after it returned `Ok`. Records still queued when it gives up may
//! be delivered later; the platform's retry then brings duplicates, which are harmless.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use earshot_kafka::{
    client_config, dead_letter_room, ClientRole, DeadLetter, Health, Output, Truncated,
};
use earshot_model::{Post, POST_SCHEMA_VERSION};
use earshot_pipeline::{KafkaConfig, Topics};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::statistics::Statistics;
use rdkafka::ClientContext;
use tracing::{debug, warn};

use crate::metrics::IngestMetrics;
use crate::normalize::{Item, Rejected};
use crate::recent::RecentIds;
use crate::Source;

/// Header naming the ingest source of a record (`line`, `bluesky`, …).
pub const SOURCE_HEADER: &str = "earshot-source";
/// Dead-letter payloads are cut to this size (the original's size and SHA-256 go in
/// headers), so that a huge garbage event still fits a Kafka record and its reason is kept.
pub const MAX_DLQ_PAYLOAD: usize = 256 * 1024;

/// Why a call could not be acknowledged in full.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("Kafka did not acknowledge every record within {0:?}")]
    Timeout(Duration),
    #[error("Kafka refused a record: {0}")]
    Delivery(#[source] KafkaError),
    #[error("a post could not be encoded: {0}")]
    Encode(#[source] serde_json::Error),
}

impl SinkError {
    /// A short stable name for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            SinkError::Timeout(_) => "ack_timeout",
            SinkError::Delivery(_) => "delivery_failed",
            SinkError::Encode(_) => "encode_failed",
        }
    }
}

/// What one call published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    pub posts: usize,
    pub dead_letters: usize,
    pub skipped: usize,
    /// Posts acknowledged earlier (by this process) or twice in this call, not sent again.
    pub duplicates: usize,
}

/// Tells the health whether a broker is reachable, from librdkafka's statistics.
struct SinkContext {
    health: Arc<Health>,
}

impl ClientContext for SinkContext {
    fn stats(&self, statistics: Statistics) {
        let up = statistics
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP");
        self.health.connected.store(up, Ordering::SeqCst);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.health.connected.store(false, Ordering::SeqCst);
        }
        warn!(error = %error, reason, "Kafka client error");
    }
}

/// The ingest producer.
pub struct KafkaSink {
    producer: FutureProducer<SinkContext>,
    topics: Topics,
    /// The largest dead-letter payload kept.
    max_dead_letter: usize,
    metrics: IngestMetrics,
    recent: Mutex<RecentIds>,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// An idempotent producer for `kafka`; `recent` post ids are remembered to skip retries.
    pub fn new(
        kafka: &KafkaConfig,
        recent: usize,
        metrics: IngestMetrics,
        health: Arc<Health>,
    ) -> Result<KafkaSink, KafkaError> {
        let mut config = client_config(kafka, &ClientRole::Producer);
        // A webhook waits for its acknowledgements: a short linger keeps LINE's 2 s deadline
        // easy while still batching concurrent requests.
        for (key, value) in [
            ("enable.idempotence", "true"),
            ("compression.type", "lz4"),
            ("linger.ms", "5"),
            ("statistics.interval.ms", "1000"),
        ] {
            if config.get(key).is_none() {
                config.set(key, value);
            }
        }
        let producer = config.create_with_context(SinkContext { health })?;
        Ok(KafkaSink {
            producer,
            topics: kafka.topics.clone(),
            max_dead_letter: MAX_DLQ_PAYLOAD.min(dead_letter_room(kafka.max_message_bytes)),
            metrics,
            recent: Mutex::new(RecentIds::new(recent)),
        })
    }

    /// Publishes `items` and waits until Kafka acknowledged every record, at most `deadline`.
    pub async fn publish(
        &self,
        source: Source,
        items: Vec<Item>,
        deadline: Duration,
    ) -> Result<Published, SinkError> {
        let started = Instant::now();
        let label = source.as_str();
        let mut counts = Published::default();
        let mut pending: Vec<DeliveryFuture> = Vec::with_capacity(items.len());
        let mut posts: Vec<Post> = Vec::new();
        let mut dead: Vec<&'static str> = Vec::new();
        let mut in_call: HashSet<String> = HashSet::new();
        let now_ms = Utc::now().timestamp_millis();
        let result = tokio::time::timeout(deadline, async {
            for item in items {
                match item {
                    Item::Skip(reason) => {
                        counts.skipped += 1;
                        self.metrics
                            .skipped
                            .with_label_values(&[label, reason.as_str()])
                            .inc();
                    }
                    Item::Post(post) => {
                        if self.seen(&post.id) || !in_call.insert(post.id.clone()) {
                            counts.duplicates += 1;
                            continue;
                        }
                        let future = self.send_post(&post, label, now_ms, &mut pending).await?;
                        pending.push(future);
                        posts.push(*post);
                    }
                    Item::Reject(rejected) => {
                        let future = self
                            .send_dead_letter(&rejected, label, now_ms, &mut pending)
                            .await?;
                        pending.push(future);
                        dead.push(rejected.code);
                    }
                }
            }
            for future in pending.drain(..) {
                wait(future).await?;
            }
            Ok::<(), SinkError>(())
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(SinkError::Timeout(deadline)),
        }
        self.acknowledged(source, &posts, &dead, &counts);
        self.metrics
            .ack_latency
            .with_label_values(&[label])
            .observe(started.elapsed().as_secs_f64());
        Ok(Published {
            posts: posts.len(),
            dead_letters: dead.len(),
            ..counts
        })
    }

    fn seen(&self, id: &str) -> bool {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    fn acknowledged(
        &self,
        source: Source,
        posts: &[Post],
        dead: &[&'static str],
        counts: &Published,
    ) {
        let label = source.as_str();
        let now = Utc::now();
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            for post in posts {
                recent.insert(&post.id);
            }
        }
        self.metrics
            .posts_published
            .with_label_values(&[label])
            .inc_by(posts.len() as u64);
        self.metrics
            .duplicates
            .with_label_values(&[label])
            .inc_by(counts.duplicates as u64);
        for code in dead {
            self.metrics
                .dead_letters
                .with_label_values(&[label, code])
                .inc();
        }
        let lag = self.metrics.lag.with_label_values(&[label]);
        for created in posts.iter().filter_map(|p| p.created_at) {
            lag.observe((now - created).num_milliseconds().max(0) as f64 / 1000.0);
        }
        debug!(
            source = label,
            posts = posts.len(),
            dead_letters = dead.len(),
            skipped = counts.skipped,
            duplicates = counts.duplicates,
            "Acknowledged"
        );
    }

    async fn send_post(
        &self,
        post: &Post,
        source: &str,
        now_ms: i64,
        pending: &mut Vec<DeliveryFuture>,
    ) -> Result<DeliveryFuture, SinkError> {
        let output = post_output(post, &self.topics.raw, source).map_err(SinkError::Encode)?;
        self.send(&output, Some(&post.id), now_ms, pending).await
    }

    async fn send_dead_letter(
        &self,
        rejected: &Rejected,
        source: &str,
        now_ms: i64,
        pending: &mut Vec<DeliveryFuture>,
    ) -> Result<DeliveryFuture, SinkError> {
        let output = ingest_dead_letter(
            &self.topics.dlq,
            rejected.code,
            &rejected.reason,
            source,
            &rejected.payload,
            self.max_dead_letter,
            None,
        );
        self.send(&output, None, now_ms, pending).await
    }

    /// Queues a record; when librdkafka's queue is full, waits for the oldest record of this
    /// call (backpressure) or briefly, then tries again.
    async fn send(
        &self,
        output: &Output,
        trace: Option<&str>,
        now_ms: i64,
        pending: &mut Vec<DeliveryFuture>,
    ) -> Result<DeliveryFuture, SinkError> {
        let mut record = FutureRecord::<String, Vec<u8>>::to(&output.topic)
            .headers(output.kafka_headers(trace, Some(now_ms)));
        if let Some(payload) = &output.payload {
            record = record.payload(payload);
        }
        if let Some(key) = &output.key {
            record = record.key(key);
        }
        loop {
            match self.producer.send_result(record) {
                Ok(future) => return Ok(future),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    if pending.is_empty() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    } else {
                        wait(pending.remove(0)).await?;
                    }
                }
                Err((e, _)) => return Err(SinkError::Delivery(e)),
            }
        }
    }

    /// Waits for everything queued (at shutdown).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer.flush(timeout)
    }
}

/// A post for the raw topic, keyed by its conversation (so one conversation stays in one
/// partition), with the source it came from. Its trace id is the post id.
pub fn post_output(post: &Post, raw_topic: &str, source: &str) -> serde_json::Result<Output> {
    let mut output = Output::new(
        raw_topic,
        Some(post.conversation_key().to_string()),
        serde_json::to_vec(post)?,
        POST_SCHEMA_VERSION,
    );
    output.headers.push((SOURCE_HEADER, source.to_string()));
    Ok(output)
}

/// A dead letter of ingest (no input record to point at), with the source it came from.
pub fn ingest_dead_letter(
    dlq_topic: &str,
    code: &str,
    reason: &str,
    source: &str,
    payload: &[u8],
    max_payload: usize,
    truncated: Option<Truncated>,
) -> Output {
    DeadLetter {
        stage: "ingest",
        code,
        reason,
        origin: None,
        extra: vec![(SOURCE_HEADER, source.to_string())],
    }
    .to_output(dlq_topic, None, payload, max_payload, truncated)
}

async fn wait(future: DeliveryFuture) -> Result<(), SinkError> {
    match future.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) => Err(SinkError::Delivery(e)),
        // The producer went away with the record: it was not acknowledged.
        Err(_) => Err(SinkError::Delivery(KafkaError::Canceled)),
    }
}
