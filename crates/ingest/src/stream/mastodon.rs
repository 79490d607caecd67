//! Mastodon's streaming API (Server-Sent Events) with gap filling through the REST
//! timeline.
//!
//! The stream has no resume cursor, so every connection starts live. To lose nothing in
//! between, each connection, once established and before its events are read (they wait in
//! the socket), pages through `GET /api/v1/timelines/…?min_id=<newest acknowledged id>`
//! oldest first, publishing and storing the cursor page by page, until a page comes back
//! empty. Then the live events are read. The newest acknowledged status id is kept in the
//! cursor file, so a restart fills the gap since the last run the same way. Statuses that
//! arrive both ways are dropped as duplicates.

use std::time::{Duration, Instant};

use chrono::Utc;
use tracing::{info, warn};

use super::framing::Sse;
use super::{read_deadline, Backoff, Batch, CursorFile, Failure, StreamContext, StreamError};
use crate::normalize::mastodon::{parse_status, parse_timeline, StatusId};
use crate::normalize::{Item, Skip};
use crate::settings::Secret;
use crate::Source;

const SOURCE: Source = Source::Mastodon;
/// Mastodon sends a `:thump` comment about every 15 s; four missed ones mean a dead
/// connection.
const SILENCE: Duration = Duration::from_secs(60);
const PAGE: usize = 40;
const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// Which timeline to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timeline {
    Public,
    Local,
    Hashtag(String),
}

impl Timeline {
    /// From the configuration's `timeline` and `tag`.
    pub fn parse(timeline: &str, tag: &str) -> Result<Timeline, StreamError> {
        match (timeline, tag.trim_start_matches('#')) {
            ("public", _) => Ok(Timeline::Public),
            ("local", _) => Ok(Timeline::Local),
            ("hashtag", "") => Err(StreamError::Config(
                "[ingest.mastodon] timeline = \"hashtag\" needs `tag`".into(),
            )),
            ("hashtag", t) => Ok(Timeline::Hashtag(t.to_string())),
            (other, _) => Err(StreamError::Config(format!(
                "[ingest.mastodon] timeline `{other}` is not public, local or hashtag"
            ))),
        }
    }

    fn stream_path(&self) -> (String, Vec<(&'static str, String)>) {
        match self {
            Timeline::Public => ("/api/v1/streaming/public".into(), vec![]),
            Timeline::Local => ("/api/v1/streaming/public/local".into(), vec![]),
            Timeline::Hashtag(t) => ("/api/v1/streaming/hashtag".into(), vec![("tag", t.clone())]),
        }
    }

    fn timeline_path(&self) -> (String, Vec<(&'static str, String)>) {
        match self {
            Timeline::Public => ("/api/v1/timelines/public".into(), vec![]),
            Timeline::Local => (
                "/api/v1/timelines/public".into(),
                vec![("local", "true".into())],
            ),
            Timeline::Hashtag(t) => (format!("/api/v1/timelines/tag/{t}"), vec![]),
        }
    }
}

/// What the client needs to know.
#[derive(Debug, Clone)]
pub struct MastodonConfig {
    /// `https://mastodon.example`.
    pub base_url: String,
    pub access_token: Option<Secret>,
    pub timeline: Timeline,
    pub cursor_file: CursorFile,
}

struct Client {
    http: reqwest::Client,
    config: MastodonConfig,
}

/// Runs until shutdown; errors only on an unreadable cursor or a bad URL.
pub async fn run(config: MastodonConfig, ctx: StreamContext) -> Result<(), StreamError> {
    let mut cursor = match config.cursor_file.load() {
        Ok(c) => c.map(StatusId),
        Err(e) => {
            return Err(StreamError::Cursor {
                path: config.cursor_file.path().display().to_string(),
                reason: e.to_string(),
            })
        }
    };
    reqwest::Url::parse(&config.base_url).map_err(|e| {
        StreamError::Config(format!("mastodon base_url `{}`: {e}", config.base_url))
    })?;
    match &cursor {
        Some(c) => info!(cursor = %c.0, "Mastodon resumes after the stored status id"),
        None => info!("No stored cursor: Mastodon starts with live statuses"),
    }
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| StreamError::Config(e.to_string()))?;
    let client = Client { http, config };
    let mut backoff = Backoff::new();
    loop {
        ctx.beat();
        if ctx.shutdown.is_triggered() {
            return Ok(());
        }
        let failure = match client.open_stream().await {
            Ok(response) => {
                ctx.connected(true);
                match client.fill_gap(&ctx, &mut cursor).await {
                    Err(failure) => Some(failure),
                    Ok(false) => return Ok(()),
                    Ok(true) => {
                        let (failure, got_data) = client.session(response, &ctx, &mut cursor).await;
                        if got_data {
                            backoff.reset();
                        }
                        failure
                    }
                }
            }
            Err(failure) => Some(failure),
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

impl Client {
    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<reqwest::Url, Failure> {
        let base = self.config.base_url.trim_end_matches('/');
        let mut url = reqwest::Url::parse(&format!("{base}{path}")).map_err(|_| Failure::Http)?;
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    fn get(&self, url: reqwest::Url) -> reqwest::RequestBuilder {
        let request = self.http.get(url);
        match &self.config.access_token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    async fn open_stream(&self) -> Result<reqwest::Response, Failure> {
        let (path, query) = self.config.timeline.stream_path();
        let url = self.url(&path, &query)?;
        let response = self
            .get(url)
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| {
                warn!(error = %e, "Could not connect to the Mastodon stream");
                Failure::Network
            })?;
        status_failure(&response)?;
        Ok(response)
    }

    /// Publishes every status newer than `cursor`, a page at a time, oldest first. `Ok(false)`
    /// on shutdown.
    async fn fill_gap(
        &self,
        ctx: &StreamContext,
        cursor: &mut Option<StatusId>,
    ) -> Result<bool, Failure> {
        let Some(mut after) = cursor.clone() else {
            return Ok(true);
        };
        let (path, mut query) = self.config.timeline.timeline_path();
        query.push(("limit", PAGE.to_string()));
        let mut filled = 0usize;
        loop {
            ctx.beat();
            let mut page_query = query.clone();
            page_query.push(("min_id", after.0.clone()));
            let response = self
                .get(self.url(&path, &page_query)?)
                .send()
                .await
                .map_err(|_| Failure::Network)?;
            status_failure(&response)?;
            let body = response.bytes().await.map_err(|_| Failure::Network)?;
            let page = match parse_timeline(&body, Utc::now()) {
                Ok(page) => page,
                Err(rejected) => {
                    warn!(reason = %rejected.reason, "The Mastodon timeline answered something that is not a page of statuses");
                    return Err(Failure::Http);
                }
            };
            if page.is_empty() {
                if filled > 0 {
                    info!(
                        statuses = filled,
                        "Filled the gap from the Mastodon timeline"
                    );
                }
                return Ok(true);
            }
            let mut batch: Batch<StatusId> = Batch::new();
            for (id, item) in page {
                batch.push(item, id);
            }
            filled += batch.items.len();
            let newest = batch.cursor.clone();
            if !self.flush(&mut batch, ctx, cursor).await {
                return Ok(false);
            }
            match newest {
                Some(n) if n > after => after = n,
                // A page that does not move forward would loop forever.
                _ => return Ok(true),
            }
        }
    }

    async fn session(
        &self,
        mut response: reqwest::Response,
        ctx: &StreamContext,
        cursor: &mut Option<StatusId>,
    ) -> (Option<Failure>, bool) {
        let mut sse = Sse::new(MAX_EVENT_BYTES);
        let mut batch: Batch<StatusId> = Batch::new();
        let mut got_data = false;
        let mut last_bytes = Instant::now();
        let outcome = loop {
            ctx.beat();
            if ctx.shutdown.is_triggered() {
                break None;
            }
            let deadline = tokio::time::Instant::from_std(read_deadline(&batch, ctx));
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    last_bytes = Instant::now();
                    match sse.push(&chunk) {
                        Ok(events) => {
                            for event in events {
                                got_data = true;
                                let (id, item) = match event.event.as_str() {
                                    "update" => parse_status(event.data.as_bytes(), Utc::now()),
                                    "status.update" => (None, Item::Skip(Skip::Edited)),
                                    "delete" => (None, Item::Skip(Skip::Deleted)),
                                    _ => continue,
                                };
                                batch.push(item, id);
                            }
                        }
                        Err(len) => {
                            warn!(
                                bytes = len,
                                "A Mastodon event is larger than allowed; reconnecting"
                            );
                            break Some(Failure::Network);
                        }
                    }
                }
                Ok(Ok(None)) => break Some(Failure::Network),
                Ok(Err(e)) => {
                    warn!(error = %e, "The Mastodon stream failed");
                    break Some(Failure::Network);
                }
                Err(_) if last_bytes.elapsed() > SILENCE => {
                    warn!(
                        seconds = SILENCE.as_secs(),
                        "The Mastodon stream went silent"
                    );
                    break Some(Failure::Network);
                }
                Err(_) => {}
            }
            if batch.is_due(ctx) && !self.flush(&mut batch, ctx, cursor).await {
                return (None, got_data);
            }
        };
        if !batch.is_empty() && !self.flush(&mut batch, ctx, cursor).await {
            return (None, got_data);
        }
        (outcome, got_data)
    }

    /// Publishes the batch, then stores the newest status id. `false` when shutdown
    /// interrupted.
    async fn flush(
        &self,
        batch: &mut Batch<StatusId>,
        ctx: &StreamContext,
        cursor: &mut Option<StatusId>,
    ) -> bool {
        let (items, newest) = batch.take();
        if !ctx.publish(SOURCE, items).await {
            return false;
        }
        if let Some(n) = newest {
            if cursor.as_ref().is_none_or(|c| n > *c) {
                if let Err(e) = self.config.cursor_file.store(&n.0) {
                    warn!(error = %e, path = %self.config.cursor_file.path().display(), "Could not store the Mastodon cursor");
                }
                *cursor = Some(n);
            }
        }
        true
    }
}

fn status_failure(response: &reqwest::Response) -> Result<(), Failure> {
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else if status.as_u16() == 429 {
        Err(Failure::RateLimited)
    } else {
        warn!(status = status.as_u16(), url = %response.url().path(), "Mastodon refused the request");
        Err(Failure::Http)
    }
}
