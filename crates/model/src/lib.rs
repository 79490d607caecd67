//! The data that flows between Earshot's stages.
//!
//! Every stage speaks JSON on the wire, and this crate is the one place that says what that
//! JSON looks like:
//!
//! * [`Post`] — one social-media post in a platform-neutral shape, as ingest publishes it.
//!   Only `id` and `text` are required when reading; every other field has a default, so a
//!   JSON-lines file with `{"id": "1", "text": "..."}` per line is already valid input.
//! * [`Analysis`] — what the analyze stage learned about a post: sentiment, intents,
//!   urgency, influence, the watchlists it matched and an explanation of every hit.
//! * [`ScoredPost`] — a post with its analysis, the record between analyze and route.
//!
//! The shapes are versioned ([`POST_SCHEMA_VERSION`]) and documented with JSON Schema files in
//! `docs/schema/`.
//!
//! ```
//! use earshot_model::Post;
//!
//! let post = Post::from_json(r#"{"id": "42", "text": "回線が繋がらない"}"#.as_bytes()).unwrap();
//! assert_eq!(post.id, "42");
//! assert_eq!(post.author.followers, 0);
//! ```

mod analysis;
mod error;
mod incident;
mod json;
mod post;
mod scored_read;
mod ticket;
pub mod time;

pub use analysis::{
    Analysis, Flag, FlagProbabilities, Hit, HitKind, Intent, IntentProbabilities, ModelFeature,
    ModelOutput, Reason, ScoredPost, Sentiment, SentimentLabel, SentimentProbabilities, WatchMatch,
    WatchTerm,
};
pub use error::ModelError;
pub use incident::{
    Incident, IncidentBaseline, IncidentChange, IncidentStatus, IncidentWindow, TermCount,
    INCIDENT_SCHEMA_VERSION,
};
pub use json::{write_scored_post, write_tagged_ticket, write_ticket};
pub use post::{Author, Engagement, Post, PostLimits, MAX_TEXT_BYTES};
pub use ticket::{
    Priority, ReasonKind, Ticket, TicketAnalysis, TicketReason, TicketSla, TICKET_SCHEMA_VERSION,
};

/// Version of the [`Post`] JSON shape. Raised on any change a reader must know about.
pub const POST_SCHEMA_VERSION: u32 = 1;
/// Version of the [`Analysis`] JSON shape. 3: `hits`, `urgency_reasons` and
/// `influence_reasons` are left out when empty, as they are when the explanation is off.
pub const ANALYSIS_SCHEMA_VERSION: u32 = 3;
