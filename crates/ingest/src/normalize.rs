//! Platform payloads → [`Post`]s: pure functions, no I/O, no clock (the time of receipt is
//! passed in), one module per platform.
//!
//! Each function turns one request body or stream message into [`Item`]s: a post, an event
//! that is deliberately not a post (a follow, a delete, the brand's own message: counted and
//! dropped), or an event that should have been a post but cannot be read (sent to the
//! dead-letter topic with its reason and the event's JSON, so that one bad event never makes
//! a platform retry the whole request forever).
//!
//! Post ids are the platform's own, prefixed by the platform (`line:<webhookEventId>`,
//! `x:<id>`, `bsky:<at-uri>`), so a redelivered event is recognisably the same post and the
//! route stage ignores it. Conversation and reply ids use the same prefixes.

pub mod bluesky;
pub mod generic;
pub mod html;
pub mod line;
pub mod mastodon;
pub mod meta;
pub mod x;

use chrono::{DateTime, TimeZone, Utc};
use earshot_model::Post;
use serde_json::Value;

/// What one event of a payload became.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Post(Box<Post>),
    /// Not a post, on purpose; the reason is a metrics label.
    Skip(Skip),
    /// Should have been a post but is not readable: a dead letter.
    Reject(Rejected),
}

/// Why an event is not a post. Each is a bounded metrics label ([`Skip::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Follows, likes, joins, identity changes…: events that carry no text from a customer.
    NotAPost,
    /// A message without text (sticker, image, location).
    NotText,
    /// Written by the account Earshot listens for (the brand's own replies and echoes).
    OwnPost,
    /// A post or message was deleted or unsent.
    Deleted,
    /// A post was edited: the original is already in the pipeline under the same id.
    Edited,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::NotAPost => "not_a_post",
            Skip::NotText => "not_text",
            Skip::OwnPost => "own_post",
            Skip::Deleted => "deleted",
            Skip::Edited => "edited",
        }
    }
}

/// An event that verified but could not be normalised, for the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// A short stable code: `invalid_json`, `missing_field`, `invalid_post`, `oversize`…
    pub code: &'static str,
    /// What is wrong, for a person reading the dead letter.
    pub reason: String,
    /// The event as received (or the whole body when it is not JSON).
    pub payload: Vec<u8>,
}

impl Rejected {
    pub fn new(code: &'static str, reason: impl Into<String>, payload: Vec<u8>) -> Rejected {
        Rejected {
            code,
            reason: reason.into(),
            payload,
        }
    }

    /// A whole body that is not JSON of the expected shape.
    pub fn body(error: &serde_json::Error, body: &[u8]) -> Rejected {
        let code = if error.is_data() {
            "invalid_payload"
        } else {
            "invalid_json"
        };
        Rejected::new(
            code,
            format!("the body is not valid: {error}"),
            body.to_vec(),
        )
    }

    /// One event of a body, with the field that is missing or wrong.
    pub fn event(code: &'static str, reason: impl Into<String>, event: &Value) -> Rejected {
        Rejected::new(code, reason, serde_json::to_vec(event).unwrap_or_default())
    }
}

/// A post checked against the model's invariants: an [`Item::Post`], or a dead letter with
/// the event when it breaks one (empty id, oversize text).
pub(crate) fn checked(post: Post, event: &Value) -> Item {
    match post.validate() {
        Ok(()) => Item::Post(Box::new(post)),
        Err(e) => Item::Reject(Rejected::event(e.code(), e.to_string(), event)),
    }
}

/// Decodes one event into its platform type, or a dead letter naming what is wrong.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(event: &Value) -> Result<T, Item> {
    T::deserialize(event).map_err(|e| {
        Item::Reject(Rejected::event(
            "invalid_event",
            format!("the event does not have the documented shape: {e}"),
            event,
        ))
    })
}

/// A required text field that is missing or empty.
pub(crate) fn missing(field: &str, event: &Value) -> Item {
    Item::Reject(Rejected::event(
        "missing_field",
        format!("field `{field}` is missing or empty"),
        event,
    ))
}

pub(crate) fn from_millis(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

pub(crate) fn from_secs(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}

pub(crate) fn from_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A JSON number or numeric string (platforms spell ids and times both ways).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum NumOrText {
    Num(i64),
    Text(String),
    #[default]
    #[serde(skip)]
    Absent,
}

impl NumOrText {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            NumOrText::Num(n) => Some(*n),
            NumOrText::Text(t) => t.trim().parse().ok(),
            NumOrText::Absent => None,
        }
    }

    /// As text, for ids.
    pub fn text(&self) -> Option<String> {
        match self {
            NumOrText::Num(n) => Some(n.to_string()),
            NumOrText::Text(t) if !t.is_empty() => Some(t.clone()),
            _ => None,
        }
    }
}

/// Prefixes a platform id: `prefixed("x", "123")` is `x:123`.
pub(crate) fn prefixed(prefix: &str, id: &str) -> String {
    format!("{prefix}:{id}")
}

/// What each item is, in one word: `post`, a reject's code, or a skip's reason (tests).
#[cfg(test)]
pub(crate) fn kinds(items: &[Item]) -> Vec<&str> {
    items
        .iter()
        .map(|i| match i {
            Item::Post(_) => "post",
            Item::Reject(r) => r.code,
            Item::Skip(s) => s.as_str(),
        })
        .collect()
}
