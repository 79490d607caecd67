//! Stream clients: X filtered stream, Bluesky Jetstream, Mastodon streaming. Each runs one
//! connection at a time, reconnects with [`Backoff`], and publishes what it reads in batches
//! through the [`KafkaSink`]; a batch's resume cursor is stored only after Kafka acknowledged
//! every post of it and of every batch before it, so a process killed at any moment resumes
//! from a point at or before the first post Kafka does not have.
//!
//! What they share lives here: the batch, publishing a batch until Kafka takes it, liveness.

pub mod backoff;
pub mod cursor;
pub mod framing;
pub mod jetstream;
pub mod mastodon;
pub mod x;

use std::sync::Arc;
use std::time::{Duration, Instant};

use earshot_kafka::{Health, InputKind, Shutdown};
use tracing::{info, warn};

pub use backoff::{Backoff, Failure};
pub use cursor::CursorFile;

use crate::metrics::IngestMetrics;
use crate::normalize::Item;
use crate::sink::KafkaSink;
use crate::Source;

/// Why a stream client stopped for good (it retries everything else).
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("cannot read the cursor file {path}: {reason}")]
    Cursor { path: String, reason: String },
    #[error("invalid stream configuration: {0}")]
    Config(String),
    #[error("could not set the filtered stream's rules: {0}")]
    Rules(String),
}

impl StreamError {
    /// A short stable name for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            StreamError::Cursor { .. } => "invalid_cursor",
            StreamError::Config(_) => "invalid_config",
            StreamError::Rules(_) => "rules_failed",
        }
    }
}

/// What every stream client needs: where to publish, metrics, health, shutdown, batching.
#[derive(Debug, Clone)]
pub struct StreamContext {
    pub sink: Arc<KafkaSink>,
    pub metrics: IngestMetrics,
    pub health: Arc<Health>,
    pub shutdown: Shutdown,
    /// A batch is published when it holds this many events…
    pub batch_events: usize,
    /// …or its first event waited this long.
    pub batch_wait: Duration,
}

/// How long one publish attempt of a batch may wait for acknowledgements before it is tried
/// again (records of the first attempt may still arrive: duplicates, never gaps).
const BATCH_ACK_DEADLINE: Duration = Duration::from_secs(30);

impl StreamContext {
    /// Publishes `items` until Kafka acknowledged them all; `false` when shutdown came first
    /// (then nothing after the previous cursor may be stored).
    pub(crate) async fn publish(&self, source: Source, items: Vec<Item>) -> bool {
        let mut wait = Duration::from_millis(250);
        loop {
            match self
                .sink
                .publish(source, items.clone(), BATCH_ACK_DEADLINE)
                .await
            {
                Ok(_) => return true,
                Err(e) => {
                    warn!(source = source.as_str(), code = e.code(), error = %e, "Batch not acknowledged; trying again, the cursor stays where it was");
                    if self.shutdown.is_triggered() {
                        return false;
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Marks the loop alive (for `/livez`).
    pub(crate) fn beat(&self) {
        crate::beat(&self.health);
    }

    /// Whether the platform connection is up, for `/readyz` (the stream's one input).
    pub(crate) fn connected(&self, up: bool) {
        self.health.input_up(InputKind::Stream, up);
    }

    pub(crate) fn reconnect(&self, source: Source, reason: &'static str, wait: Duration) {
        self.connected(false);
        self.metrics
            .reconnects
            .with_label_values(&[source.as_str(), reason])
            .inc();
        info!(
            source = source.as_str(),
            reason,
            wait_ms = wait.as_millis() as u64,
            "Reconnecting"
        );
    }

    /// Sleeps `wait`, waking early for shutdown; `false` when shutting down.
    pub(crate) async fn pause(&self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if self.shutdown.is_triggered() {
                return false;
            }
            self.beat();
            let left = until.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(Duration::from_millis(100))).await;
        }
        !self.shutdown.is_triggered()
    }
}

/// Events read since the last publish, with the cursor after the newest of them.
#[derive(Debug)]
pub(crate) struct Batch<C> {
    pub items: Vec<Item>,
    /// The cursor to store once `items` are acknowledged.
    pub cursor: Option<C>,
    started: Option<Instant>,
}

impl<C: Ord> Batch<C> {
    pub fn new() -> Batch<C> {
        Batch {
            items: Vec::new(),
            cursor: None,
            started: None,
        }
    }

    /// Adds an event; the batch's cursor becomes the largest seen.
    pub fn push(&mut self, item: Item, cursor: Option<C>) {
        self.started.get_or_insert_with(Instant::now);
        self.items.push(item);
        if let Some(c) = cursor {
            if self.cursor.as_ref().is_none_or(|old| c > *old) {
                self.cursor = Some(c);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn is_due(&self, ctx: &StreamContext) -> bool {
        self.items.len() >= ctx.batch_events.max(1)
            || self.started.is_some_and(|s| s.elapsed() >= ctx.batch_wait)
    }

    /// When the batch must be published at the latest.
    pub fn due_at(&self, ctx: &StreamContext) -> Option<Instant> {
        self.started.map(|s| s + ctx.batch_wait)
    }

    /// Takes the events and cursor, leaving the batch empty.
    pub fn take(&mut self) -> (Vec<Item>, Option<C>) {
        self.started = None;
        (std::mem::take(&mut self.items), self.cursor.take())
    }
}

/// How long a read may wait: until the batch is due, and at least every second (to beat
/// and see shutdown).
pub(crate) fn read_deadline<C: Ord>(batch: &Batch<C>, ctx: &StreamContext) -> Instant {
    let tick = Instant::now() + Duration::from_secs(1);
    batch.due_at(ctx).map_or(tick, |d| d.min(tick))
}
