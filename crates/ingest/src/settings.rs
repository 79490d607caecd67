//! The `[ingest]` section: the webhook server, each source's secrets and each stream's
//! endpoint and cursor file.
//!
//! A webhook source is enabled by its table (`[ingest.line]`, …); a request to a source that is
//! not configured gets 404. Secrets are given in the file (or the environment:
//! `EARSHOT__INGEST__LINE__CHANNEL_SECRET`) or read from a file (`channel_secret_file`, for
//! container secrets). They are held as [`Secret`]s, whose `Debug` prints `***`, and no error
//! message quotes them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A credential: printed as `***` by `Debug`, never `Display`ed.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `[ingest]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSettings {
    /// Where `earshot ingest serve` listens for webhooks.
    pub listen: String,
    /// Larger request bodies are refused with 413 before they are read.
    pub max_body_bytes: usize,
    /// How long a webhook request waits for Kafka to acknowledge its posts before it answers
    /// 503 (the platform retries). Below LINE's 2 s deadline by default.
    pub ack_timeout_ms: u64,
    /// Post ids acknowledged lately, remembered per process so that a platform's retry of a
    /// delivery that did get through is answered at once and counted as a duplicate.
    pub recent_ids: usize,
    /// Streams: posts published together, and how long a batch may wait to fill, before the
    /// cursor after them is stored.
    pub batch_posts: usize,
    pub batch_ms: u64,
    pub line: Option<LineSettings>,
    pub meta: Option<MetaSettings>,
    pub x: Option<XWebhookSettings>,
    pub generic: Option<GenericSettings>,
    pub x_stream: Option<XStreamSettings>,
    pub bluesky: Option<BlueskySettings>,
    pub mastodon: Option<MastodonSettings>,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            listen: "0.0.0.0:8080".into(),
            max_body_bytes: 1024 * 1024,
            ack_timeout_ms: 1500,
            recent_ids: 100_000,
            batch_posts: 500,
            batch_ms: 200,
            line: None,
            meta: None,
            x: None,
            generic: None,
            x_stream: None,
            bluesky: None,
            mastodon: None,
        }
    }
}

/// `[ingest.line]`: one LINE channel.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LineSettings {
    pub channel_secret: Option<Secret>,
    pub channel_secret_file: Option<PathBuf>,
}

/// `[ingest.meta]`: one Meta app (its Pages and Instagram accounts).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetaSettings {
    pub app_secret: Option<Secret>,
    pub app_secret_file: Option<PathBuf>,
    /// The token typed into the app dashboard, echoed by Meta's verification request.
    pub verify_token: Option<Secret>,
    pub verify_token_file: Option<PathBuf>,
}

/// `[ingest.x]`: the Account Activity webhook of one X app.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XWebhookSettings {
    pub consumer_secret: Option<Secret>,
    pub consumer_secret_file: Option<PathBuf>,
}

/// `[ingest.generic]`: Earshot's own post JSON, HMAC-signed.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenericSettings {
    pub secret: Option<Secret>,
    pub secret_file: Option<PathBuf>,
    /// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
    pub header: String,
    /// The platform of posts that name none.
    pub platform: String,
}

impl Default for GenericSettings {
    fn default() -> Self {
        GenericSettings {
            secret: None,
            secret_file: None,
            header: "x-earshot-signature".into(),
            platform: "relay".into(),
        }
    }
}

/// `[ingest.x_stream]`: the X API v2 filtered stream.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XStreamSettings {
    pub bearer_token: Option<Secret>,
    pub bearer_token_file: Option<PathBuf>,
    /// The stream endpoint; the rules endpoint is this plus `/rules`.
    pub url: String,
    /// Rules to keep on the stream (tagged `earshot:…`; other rules are left alone).
    pub rules: Vec<XRule>,
    /// Also derive one rule per watchlist from its terms.
    pub rules_from_watchlists: bool,
    /// Ask for this many minutes of missed posts when reconnecting (`backfill_minutes`,
    /// Pro and Enterprise access only; 0 = off).
    pub backfill_minutes: u32,
    /// Reconnect when no byte (not even a keep-alive) arrived for this long.
    pub keepalive_seconds: u64,
}

impl Default for XStreamSettings {
    fn default() -> Self {
        XStreamSettings {
            bearer_token: None,
            bearer_token_file: None,
            url: "https://api.x.com/2/tweets/search/stream".into(),
            rules: Vec::new(),
            rules_from_watchlists: false,
            backfill_minutes: 0,
            keepalive_seconds: 20,
        }
    }
}

/// One filtered-stream rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XRule {
    pub value: String,
    pub tag: String,
}

/// `[ingest.bluesky]`: Bluesky Jetstream (public, no credentials).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlueskySettings {
    pub url: String,
    /// Where the last acknowledged `time_us` is kept across restarts.
    pub cursor_file: PathBuf,
    /// A restart resumes this many seconds before the stored cursor (Jetstream redelivers at
    /// least once; duplicates are harmless).
    pub overlap_seconds: u64,
    /// Only these accounts (DIDs); all when empty.
    pub wanted_dids: Vec<String>,
}

impl Default for BlueskySettings {
    fn default() -> Self {
        BlueskySettings {
            url: "wss://jetstream2.us-east.bsky.network/subscribe".into(),
            cursor_file: PathBuf::from("bluesky.cursor"),
            overlap_seconds: 5,
            wanted_dids: Vec::new(),
        }
    }
}

/// `[ingest.mastodon]`: one instance's streaming API.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MastodonSettings {
    /// `https://mastodon.example`.
    pub base_url: String,
    pub access_token: Option<Secret>,
    pub access_token_file: Option<PathBuf>,
    /// `public`, `local` or `hashtag` (with `tag`).
    pub timeline: String,
    pub tag: String,
    /// Where the newest acknowledged status id is kept, to fill the gap after a restart.
    pub cursor_file: PathBuf,
}

impl Default for MastodonSettings {
    fn default() -> Self {
        MastodonSettings {
            base_url: String::new(),
            access_token: None,
            access_token_file: None,
            timeline: "public".into(),
            tag: String::new(),
            cursor_file: PathBuf::from("mastodon.cursor"),
        }
    }
}

/// Reads a secret given inline or as a file (whitespace at the end of a file is dropped:
/// editors and `echo` add a newline). `name` is the key, for the error.
pub fn read_secret(
    name: &str,
    value: Option<&Secret>,
    file: Option<&Path>,
) -> Result<Option<Secret>, String> {
    match (value.filter(|v| !v.is_empty()), file) {
        (Some(_), Some(_)) => Err(format!("set `{name}` or `{name}_file`, not both")),
        (Some(v), None) => Ok(Some(v.clone())),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(text) if text.trim_end().is_empty() => {
                Err(format!("`{name}_file` {} is empty", path.display()))
            }
            Ok(text) => Ok(Some(Secret::new(text.trim_end()))),
            Err(e) => Err(format!("cannot read `{name}_file` {}: {e}", path.display())),
        },
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = LineSettings {
            channel_secret: Some(Secret::new("hunter2")),
            channel_secret_file: None,
        };
        let printed = format!("{s:?} {:?}", IngestSettings::default());
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("***"));
    }

    #[test]
    fn secrets_from_files() {
        let dir = std::env::temp_dir().join(format!("earshot-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("line");
        std::fs::write(&path, "s3cret\n").unwrap_or_default();
        let got = read_secret("channel_secret", None, Some(&path));
        assert_eq!(got, Ok(Some(Secret::new("s3cret"))));
        let both = read_secret("channel_secret", Some(&Secret::new("x")), Some(&path));
        assert!(both.is_err_and(|e| !e.contains('x') || e.contains("not both")));
        let missing = read_secret("channel_secret", None, Some(&dir.join("nope")));
        assert!(missing.is_err_and(|e| e.contains("nope")));
        assert_eq!(read_secret("channel_secret", None, None), Ok(None));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
