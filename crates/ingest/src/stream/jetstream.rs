//! Bluesky Jetstream over WebSocket: `GET <url>?wantedCollections=app.bsky.feed.post&cursor=<time_us>`.
//!
//! Every event carries `time_us`; after a batch is acknowledged by Kafka its newest `time_us`
//! is written to the cursor file. A start resumes from the stored cursor, a reconnect from
//! the newest event read; both minus `overlap_seconds`, since Jetstream delivers at least
//! once and events of the same microsecond may straddle the cursor. The overlap's duplicates
//! are dropped by the sink's recent ids, or by route.

use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::{info, warn};

use super::{read_deadline, Backoff, Batch, CursorFile, Failure, StreamContext, StreamError};
use crate::normalize::bluesky::{from_micros, parse_event};
use crate::Source;

const SOURCE: Source = Source::Bluesky;
/// No message (Jetstream is busy: seconds of silence are unusual) for this long: reconnect.
const SILENCE: Duration = Duration::from_secs(60);

/// What the client needs to know.
#[derive(Debug, Clone)]
pub struct JetstreamConfig {
    /// `wss://jetstream2.us-east.bsky.network/subscribe`.
    pub url: String,
    pub cursor_file: CursorFile,
    pub overlap: Duration,
    pub wanted_dids: Vec<String>,
}

/// Runs until shutdown; errors only when the stored cursor cannot be read.
pub async fn run(config: JetstreamConfig, ctx: StreamContext) -> Result<(), StreamError> {
    let stored = load_cursor(&config.cursor_file)?;
    match stored {
        Some(c) => {
            info!(cursor = c, at = ?from_micros(c), "Resuming Jetstream from the stored cursor")
        }
        None => info!("No stored cursor: Jetstream starts with live events"),
    }
    let mut resume = stored;
    let mut backoff = Backoff::new();
    loop {
        ctx.beat();
        if ctx.shutdown.is_triggered() {
            return Ok(());
        }
        let url = subscribe_url(&config, resume)?;
        let failure = match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((ws, _)) => {
                ctx.connected(true);
                let (failure, got_data) = session(ws, &config, &ctx, &mut resume).await;
                if got_data {
                    backoff.reset();
                }
                failure
            }
            Err(tungstenite::Error::Http(response)) if response.status().as_u16() == 429 => {
                Some(Failure::RateLimited)
            }
            Err(tungstenite::Error::Http(response)) => {
                warn!(
                    status = response.status().as_u16(),
                    "Jetstream refused the connection"
                );
                Some(Failure::Http)
            }
            Err(e) => {
                warn!(error = %e, "Could not connect to Jetstream");
                Some(Failure::Network)
            }
        };
        let Some(failure) = failure else {
            return Ok(());
        };
        let wait = backoff.next(failure);
        ctx.reconnect(SOURCE, failure.as_str(), wait);
        if !ctx.pause(wait).await {
            return Ok(());
        }
    }
}

fn load_cursor(file: &CursorFile) -> Result<Option<u64>, StreamError> {
    let invalid = |reason: String| StreamError::Cursor {
        path: file.path().display().to_string(),
        reason,
    };
    match file.load() {
        Ok(None) => Ok(None),
        Ok(Some(text)) => text
            .parse::<u64>()
            .map(Some)
            .map_err(|_| invalid(format!("`{text}` is not a time_us cursor"))),
        Err(e) => Err(invalid(e.to_string())),
    }
}

fn subscribe_url(
    config: &JetstreamConfig,
    resume: Option<u64>,
) -> Result<reqwest::Url, StreamError> {
    let mut url = reqwest::Url::parse(&config.url)
        .map_err(|e| StreamError::Config(format!("bluesky url `{}`: {e}", config.url)))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("wantedCollections", "app.bsky.feed.post");
        for did in &config.wanted_dids {
            q.append_pair("wantedDids", did);
        }
        if let Some(c) = resume {
            let overlap = u64::try_from(config.overlap.as_micros()).unwrap_or(u64::MAX);
            q.append_pair("cursor", &c.saturating_sub(overlap).to_string());
        }
    }
    Ok(url)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads one connection until it ends (`Some(failure)`) or shutdown (`None`); also says
/// whether any event arrived. `resume` follows the newest acknowledged event.
async fn session(
    mut ws: Socket,
    config: &JetstreamConfig,
    ctx: &StreamContext,
    resume: &mut Option<u64>,
) -> (Option<Failure>, bool) {
    let mut batch: Batch<u64> = Batch::new();
    let mut got_data = false;
    let mut last_message = Instant::now();
    let mut first = true;
    let outcome = loop {
        ctx.beat();
        if ctx.shutdown.is_triggered() {
            break None;
        }
        let deadline = tokio::time::Instant::from_std(read_deadline(&batch, ctx));
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(message))) => {
                last_message = Instant::now();
                let bytes = match &message {
                    Message::Text(t) => t.as_bytes(),
                    Message::Binary(b) => b.as_ref(),
                    Message::Close(_) => break Some(Failure::Network),
                    _ => continue,
                };
                got_data = true;
                let (cursor, item) = parse_event(bytes, Utc::now());
                if first {
                    first = false;
                    warn_on_gap(*resume, cursor, config.overlap);
                }
                batch.push(item, cursor);
            }
            Ok(Some(Err(e))) => {
                warn!(error = %e, "Jetstream connection failed");
                break Some(Failure::Network);
            }
            Ok(None) => break Some(Failure::Network),
            Err(_) if last_message.elapsed() > SILENCE => {
                warn!(seconds = SILENCE.as_secs(), "Jetstream went silent");
                break Some(Failure::Network);
            }
            Err(_) => {}
        }
        if batch.is_due(ctx) && !flush(&mut batch, config, ctx, resume).await {
            return (None, got_data);
        }
    };
    // Whatever was read is published before reconnecting or stopping, so the next
    // connection's cursor never skips it.
    if !batch.is_empty() && !flush(&mut batch, config, ctx, resume).await {
        return (None, got_data);
    }
    let _ = ws.close(None).await;
    (outcome, got_data)
}

/// Publishes the batch, then stores its cursor. `false` when shutdown interrupted.
async fn flush(
    batch: &mut Batch<u64>,
    config: &JetstreamConfig,
    ctx: &StreamContext,
    resume: &mut Option<u64>,
) -> bool {
    let (items, cursor) = batch.take();
    if !ctx.publish(SOURCE, items).await {
        return false;
    }
    if let Some(c) = cursor {
        *resume = Some(c);
        match config.cursor_file.store(&c.to_string()) {
            Ok(()) => {
                ctx.metrics
                    .cursor
                    .with_label_values(&[SOURCE.as_str()])
                    .set(c as f64 / 1e6);
            }
            // Not fatal: a restart replays from an older cursor (duplicates, never gaps).
            Err(e) => {
                warn!(error = %e, path = %config.cursor_file.path().display(), "Could not store the Jetstream cursor")
            }
        }
    }
    true
}

/// Jetstream moves a cursor older than its retention forward silently: say so when the first
/// event is well past the requested point.
fn warn_on_gap(requested: Option<u64>, first: Option<u64>, overlap: Duration) {
    if let (Some(requested), Some(first)) = (requested, first) {
        let slack =
            u64::try_from((overlap + Duration::from_secs(300)).as_micros()).unwrap_or(u64::MAX);
        if first > requested.saturating_add(slack) {
            warn!(
                requested,
                first,
                gap_seconds = (first - requested) / 1_000_000,
                "Jetstream resumed later than the cursor asked: posts in between may be missing (cursor past its retention?)"
            );
        }
    }
}
