//! `earshot ingest stream SOURCE`: follow the X filtered stream, Bluesky Jetstream or a
//! Mastodon timeline and publish its posts, with `/metrics`, `/livez`, `/readyz` on the admin
//! port. One process per source (X allows one connection per app); the cursor file makes a
//! restart resume where the last acknowledged batch ended.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Result};
use earshot_ingest::settings::{read_secret, XRule};
use earshot_ingest::stream::jetstream::JetstreamConfig;
use earshot_ingest::stream::mastodon::{MastodonConfig, Timeline};
use earshot_ingest::stream::x::{rules_for_terms, XStreamConfig, MAX_RULE_LENGTH};
use earshot_ingest::stream::{self, CursorFile, StreamContext};

use crate::commands::serve::{problems_error, IngestProcess};
use crate::daemon::init_logging;
use crate::settings::Settings;

/// The platforms `earshot ingest stream` follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StreamSource {
    /// The X API v2 filtered stream (`[ingest.x_stream]`).
    X,
    /// Bluesky Jetstream (`[ingest.bluesky]`).
    Bluesky,
    /// A Mastodon instance's streaming API (`[ingest.mastodon]`).
    Mastodon,
}

/// A stream client ready to run, built from the settings.
enum Client {
    X(XStreamConfig),
    Bluesky(JetstreamConfig),
    Mastodon(MastodonConfig),
}

pub fn run(config: Option<&Path>, source: StreamSource) -> Result<ExitCode> {
    let settings = Settings::load(config)?;
    init_logging(&settings.log);
    let client = client(&settings, source)?;
    let process = IngestProcess::start(&settings, earshot_kafka::InputKind::Stream)?;
    let ctx = StreamContext {
        sink: process.sink.clone(),
        metrics: process.metrics.clone(),
        health: process.health.clone(),
        shutdown: process.shutdown.clone(),
        batch_events: settings.ingest.batch_posts,
        batch_wait: Duration::from_millis(settings.ingest.batch_ms),
    };
    process.runtime.block_on(async {
        process.serve_admin_and_watch_signals(&settings).await?;
        let result = match client {
            Client::X(c) => stream::x::run(c, ctx).await,
            Client::Bluesky(c) => stream::jetstream::run(c, ctx).await,
            Client::Mastodon(c) => stream::mastodon::run(c, ctx).await,
        };
        result.map_err(|e| anyhow!("{e}"))
    })?;
    process.finish(&settings)
}

fn client(settings: &Settings, source: StreamSource) -> Result<Client> {
    let ingest = &settings.ingest;
    let missing =
        |section: &str| anyhow!("[ingest.{section}] is not configured (see docs/sources.md)");
    match source {
        StreamSource::X => {
            let s = ingest
                .x_stream
                .as_ref()
                .ok_or_else(|| missing("x_stream"))?;
            let file = s.bearer_token_file.as_ref().map(|f| settings.resolve(f));
            let token = read_secret("bearer_token", s.bearer_token.as_ref(), file.as_deref())
                .map_err(|e| problems_error(&[format!("[ingest.x_stream] {e}")]))?
                .ok_or_else(|| {
                    problems_error(&[
                        "[ingest.x_stream] needs `bearer_token` or `bearer_token_file`".into(),
                    ])
                })?;
            let mut rules = s.rules.clone();
            if s.rules_from_watchlists {
                rules.extend(watchlist_rules(settings)?);
            }
            Ok(Client::X(XStreamConfig {
                url: s.url.clone(),
                bearer_token: token,
                rules,
                backfill_minutes: s.backfill_minutes,
                keepalive: Duration::from_secs(s.keepalive_seconds.max(1)),
            }))
        }
        StreamSource::Bluesky => {
            let s = ingest.bluesky.as_ref().ok_or_else(|| missing("bluesky"))?;
            Ok(Client::Bluesky(JetstreamConfig {
                url: s.url.clone(),
                cursor_file: CursorFile::new(settings.resolve(&s.cursor_file)),
                overlap: Duration::from_secs(s.overlap_seconds),
                wanted_dids: s.wanted_dids.clone(),
            }))
        }
        StreamSource::Mastodon => {
            let s = ingest
                .mastodon
                .as_ref()
                .ok_or_else(|| missing("mastodon"))?;
            let file = s.access_token_file.as_ref().map(|f| settings.resolve(f));
            let token = read_secret("access_token", s.access_token.as_ref(), file.as_deref())
                .map_err(|e| problems_error(&[format!("[ingest.mastodon] {e}")]))?;
            let timeline = Timeline::parse(&s.timeline, &s.tag).map_err(|e| anyhow!("{e}"))?;
            if s.base_url.is_empty() {
                return Err(problems_error(&[
                    "[ingest.mastodon] needs `base_url`".into()
                ]));
            }
            Ok(Client::Mastodon(MastodonConfig {
                base_url: s.base_url.clone(),
                access_token: token,
                timeline,
                cursor_file: CursorFile::new(settings.resolve(&s.cursor_file)),
            }))
        }
    }
}

/// One rule per watchlist (split when long), from the terms that make it match.
fn watchlist_rules(settings: &Settings) -> Result<Vec<XRule>> {
    let analyzer = settings.analyzer()?;
    Ok(analyzer
        .watchlists()
        .positive_terms()
        .into_iter()
        .flat_map(|(id, terms)| rules_for_terms(id, &terms, MAX_RULE_LENGTH))
        .collect())
}
