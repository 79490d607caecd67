//! The router's state as changelog records, Kafka Streams' state stores done by hand: every
//! change of an open conversation, of a shard's spike counts and of what spike detection
//! learned becomes a record keyed by what it describes, so that a compacted topic keeps the
//! latest of each and a replica taking a shard over reads it back.
//!
//! Records are JSON (readable with `earshot tail`) and name rules, queues, teams and tags by
//! id, never by index, so state written under one configuration restores under another.
//!
//! | key | value |
//! |---|---|
//! | `t/<32 hex digits>`: an open ticket, by its folding key | [`TicketRecord`] |
//! | `["c", watchlist, intent, bucket start]`: a shard's count | `{"v":1,"count":n}` |
//! | `["s", watchlist, intent]`: what spike detection learned | [`SpikeRecord`] |
//! | `p/<bucket start>/<chunk>`: posts a shard counted in a bucket | `{"v":1,"ids":[hash, …]}` |
//! | `o`: how far the shard's input is applied to the records before it | [`Position`] |
//!
//! A tombstone (no value) forgets a key: an expired conversation, a bucket out of the window.
//!
//! The position makes a restart behind the state harmless. Under at-least-once a changelog
//! may hold the effects of input records whose offsets were not committed yet; a replica
//! restoring it reads those records again. Routed again against state that already holds
//! them (and what came after), a post could fold into a ticket its conversation opened only
//! later. The stage writes the position after the state writes of each input record (they
//! go out only once every earlier output is acknowledged), and skips the records the
//! restored position covers.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use earshot_model::{IncidentBaseline, Intent, Priority};
use serde::{Deserialize, Serialize};

use crate::router::Shard;

/// One changelog record of a shard: the latest value of `key`, or a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRecord {
    pub shard: Shard,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// What a restore put back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    pub tickets: usize,
    pub counts: usize,
    pub keys: usize,
    /// Chunks of the post ids counted towards spikes.
    pub seen: usize,
    /// Records that could not be read (logged by the caller and left out).
    pub skipped: usize,
    /// How far the shard's input was applied, when a position was written.
    pub position: Option<Position>,
}

/// How far a shard's input is applied to its state: every input record up to `offset`
/// (inclusive) has had its outputs delivered and its state written, and the event clock
/// stood at `clock` (none on the wall clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub offset: i64,
    pub clock: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct PositionRecord {
    v: u32,
    offset: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "earshot_model::time::serialize_option")]
    clock: Option<DateTime<Utc>>,
}

impl Position {
    /// The changelog record of this position for `shard`.
    pub fn record(&self, shard: Shard) -> StateRecord {
        let record = PositionRecord {
            v: 1,
            offset: self.offset,
            clock: self.clock,
        };
        StateRecord {
            shard,
            key: StateKey::Position.encode(),
            value: serde_json::to_vec(&record).ok(),
        }
    }

    pub(crate) fn decode(value: &[u8]) -> Option<Position> {
        let record: PositionRecord = serde_json::from_slice(value).ok()?;
        Some(Position {
            offset: record.offset,
            clock: record.clock,
        })
    }
}

/// What a changelog key stands for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StateKey {
    Ticket(u128),
    Count {
        watchlist: String,
        intent: Intent,
        start: i64,
    },
    Spike {
        watchlist: String,
        intent: Intent,
    },
    /// A chunk of the post ids a shard counted in the bucket at `start`.
    Seen {
        start: i64,
        chunk: u32,
    },
    /// How far the shard's input is applied.
    Position,
}

impl StateKey {
    pub fn encode(&self) -> String {
        match self {
            // Not `format!("t/{key:032x}")`: a ticket key is written for every ticket
            // revision, and core::fmt's hex is slower than these two halves.
            StateKey::Ticket(key) => {
                let mut text = String::with_capacity(34);
                text.push_str("t/");
                crate::tables::push_hex(&mut text, (key >> 64) as u64);
                crate::tables::push_hex(&mut text, *key as u64);
                text
            }
            StateKey::Count {
                watchlist,
                intent,
                start,
            } => serde_json::to_string(&("c", watchlist, intent, start)).unwrap_or_default(),
            StateKey::Spike { watchlist, intent } => {
                serde_json::to_string(&("s", watchlist, intent)).unwrap_or_default()
            }
            StateKey::Seen { start, chunk } => format!("p/{start}/{chunk}"),
            StateKey::Position => "o".to_string(),
        }
    }

    pub fn decode(key: &str) -> Option<StateKey> {
        if key == "o" {
            return Some(StateKey::Position);
        }
        if let Some(hex) = key.strip_prefix("t/") {
            return u128::from_str_radix(hex, 16).ok().map(StateKey::Ticket);
        }
        if let Some(rest) = key.strip_prefix("p/") {
            let (start, chunk) = rest.split_once('/')?;
            return Some(StateKey::Seen {
                start: start.parse().ok()?,
                chunk: chunk.parse().ok()?,
            });
        }
        let value: serde_json::Value = serde_json::from_str(key).ok()?;
        let parts = value.as_array()?;
        let watchlist = parts.get(1)?.as_str()?.to_string();
        let intent: Intent = serde_json::from_value(parts.get(2)?.clone()).ok()?;
        match parts.first()?.as_str()? {
            "c" => Some(StateKey::Count {
                watchlist,
                intent,
                start: parts.get(3)?.as_i64()?,
            }),
            "s" => Some(StateKey::Spike { watchlist, intent }),
            _ => None,
        }
    }
}

/// An open ticket of a conversation. Written for every ticket revision, so the text borrows
/// from the open ticket and its tables when written; read back, it owns its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TicketRecord<'a> {
    pub v: u32,
    /// The ticket id's 16 hex digits (`tkt_` left out).
    pub ticket_id: String,
    pub revision: u32,
    pub post_count: u32,
    pub priority: Priority,
    pub queue: Cow<'a, str>,
    pub rule: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Cow<'a, str>>,
    #[serde(serialize_with = "earshot_model::time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "earshot_model::time::serialize_option")]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "earshot_model::time::serialize")]
    pub sla_started: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<Cow<'a, str>>,
    /// The post ids listed on the ticket, the first first.
    pub post_ids: Vec<Cow<'a, str>>,
    /// Hashes of the ids folded past the list's cap.
    #[serde(default, skip_serializing_if = "<[u64]>::is_empty")]
    pub overflow: Cow<'a, [u64]>,
    /// Unix seconds of the last post folded in (the folding window counts from it).
    pub last_active: i64,
}

/// A shard's count of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CountRecord {
    pub v: u32,
    pub count: u64,
}

/// A chunk of the post ids (hashes) a shard counted in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SeenRecord {
    pub v: u32,
    pub ids: Vec<u64>,
}

/// What spike detection learned about one watchlist and intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeRecord {
    pub v: u32,
    /// Start (Unix seconds) of the bucket being counted when this was written.
    pub current: i64,
    /// Bucket boundaries the detector had passed: baseline samples.
    pub samples: u64,
    pub mean: f64,
    pub deviation: f64,
    pub cooldown_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<OpenRecord>,
}

/// An open incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenRecord {
    pub id: String,
    pub revision: u32,
    pub opened_at: i64,
    pub peak: u64,
    pub total: u64,
    pub baseline: IncidentBaseline,
    pub samples: Vec<String>,
    pub terms: Vec<(String, u64)>,
    pub tickets: u64,
    pub folded: u64,
    pub last_emitted: (u64, u64, u64, u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for key in [
            StateKey::Ticket(u128::MAX - 7),
            StateKey::Count {
                watchlist: "星空".into(),
                intent: Intent::Outage,
                start: 1_790_000_000,
            },
            StateKey::Spike {
                watchlist: "a\"b/c".into(),
                intent: Intent::Complaint,
            },
            StateKey::Seen {
                start: -60,
                chunk: 3,
            },
            StateKey::Position,
        ] {
            assert_eq!(
                StateKey::decode(&key.encode()),
                Some(key.clone()),
                "{key:?}"
            );
        }
        assert_eq!(StateKey::decode("garbage"), None);
        assert_eq!(StateKey::decode("t/xyz"), None);
        assert_eq!(StateKey::decode("p/12"), None);
    }

    /// A changelog written before keeps its keys: compaction folds a ticket's records by key.
    #[test]
    fn ticket_keys_are_32_hex_digits_as_before() {
        for key in [0, 1, 0xdead_beef, 1 << 64, u128::MAX - 7, u128::MAX] {
            assert_eq!(StateKey::Ticket(key).encode(), format!("t/{key:032x}"));
        }
    }

    #[test]
    fn a_position_round_trips_with_and_without_a_clock() {
        for clock in [None, Some("2026-11-30T12:00:01Z".parse().unwrap())] {
            let position = Position { offset: 41, clock };
            let record = position.record(Shard(3));
            assert_eq!((record.shard, record.key.as_str()), (Shard(3), "o"));
            let value = record.value.expect("a value");
            assert_eq!(Position::decode(&value), Some(position));
        }
        assert_eq!(Position::decode(b"{\"v\":1}"), None, "no offset");
    }
}
