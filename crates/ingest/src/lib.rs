//! Earshot's ingest sources: platform payloads in, normalised [`Post`](earshot_model::Post)s
//! on the raw topic out, nothing lost and nothing published that was not signed.
//!
//! * [`signature`] — HMAC-SHA256 webhook signatures in each platform's encoding, verified in
//!   constant time over the raw body; X's CRC answer.
//! * [`normalize`] — pure functions from a platform's payload (LINE, Meta, X webhooks, X
//!   filtered stream, Bluesky Jetstream, Mastodon, Earshot's own JSON) to [`normalize::Item`]s:
//!   posts, events that are not posts, and events that cannot be read (dead letters).
//! * [`sink::KafkaSink`] — publishes items with the idempotent producer and returns only once
//!   Kafka acknowledged every one of them.
//! * [`webhook`] — the axum routes: verify, persist, then answer (2xx only after the
//!   acknowledgements, 5xx otherwise, 401 for a bad signature, 413 for a body over the limit).
//! * [`stream`] — the stream clients, each storing its resume cursor only after Kafka
//!   acknowledged the posts before it.
//!
//! ```
//! use earshot_ingest::normalize::{line, Item};
//! use earshot_ingest::signature::{sign, verify, Scheme};
//!
//! let body = br#"{"destination":"U1","events":[{"type":"message","timestamp":1790000000000,
//!   "webhookEventId":"01J0EXAMPLE","source":{"type":"user","userId":"U42"},
//!   "message":{"id":"1","type":"text","text":"hello"}}]}"#;
//! let header = sign(b"channel secret", body, Scheme::LINE);
//! assert!(verify(b"channel secret", body, Some(header.as_bytes()), Scheme::LINE).is_ok());
//!
//! let items = line::parse(body, chrono::Utc::now());
//! let Item::Post(post) = &items[0] else { panic!() };
//! assert_eq!(post.id, "line:01J0EXAMPLE");
//! assert_eq!(post.conversation_key(), "line:user:U42");
//! ```

pub mod metrics;
pub mod normalize;
pub mod recent;
pub mod settings;
pub mod signature;
pub mod sink;
pub mod stream;
pub mod webhook;

pub use metrics::IngestMetrics;
pub use settings::{IngestSettings, Secret};
pub use sink::KafkaSink;

/// Where items came from: a bounded metrics label and the `earshot-source` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Line,
    Meta,
    X,
    Generic,
    XStream,
    Bluesky,
    Mastodon,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Line => "line",
            Source::Meta => "meta",
            Source::X => "x",
            Source::Generic => "generic",
            Source::XStream => "x_stream",
            Source::Bluesky => "bluesky",
            Source::Mastodon => "mastodon",
        }
    }
}

/// Marks a loop alive for `/livez` (the stage runner does the same for consumers).
pub(crate) fn beat(health: &earshot_kafka::Health) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    health
        .last_progress_ms
        .store(now, std::sync::atomic::Ordering::Relaxed);
}
