//! The ticket the route stage emits: everything a CRM needs to open or update a case.
//!
//! A ticket is identified by `ticket_id`, derived from the rule, the conversation and the
//! first post, so a replay or an at-least-once redelivery produces the same id. Each later
//! post folded into the same conversation emits the ticket again with a higher `revision`;
//! a consumer keeps the highest revision per `ticket_id` and may drop any
//! `(ticket_id, revision)` pair it has already seen. See `docs/ticket.md`.
//!
//! Strings that come from the route configuration (queue, team, tags, rule ids, reason
//! sentences, calendar) are `Arc<str>`: every ticket of a queue shares them instead of
//! copying them, which halves the allocations per ticket. They serialise as plain strings.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Analysis, Flag, Intent, Post, Sentiment, WatchMatch};

/// Version of the [`Ticket`] JSON shape. Raised on any change a reader must know about.
pub const TICKET_SCHEMA_VERSION: u32 = 1;

/// How soon a ticket must be answered. `P1` is the most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::P1, Priority::P2, Priority::P3, Priority::P4];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
        }
    }

    /// Parses `P1`…`P4` (also lower case).
    pub fn parse(name: &str) -> Option<Priority> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name))
    }

    /// 0 for P1 … 3 for P4, for tables indexed by priority.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The more urgent of the two.
    pub fn most_urgent(self, other: Priority) -> Priority {
        self.min(other)
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One ticket revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// [`TICKET_SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// `tkt_` and 16 hex digits, stable across replays; use it as the CRM's external id.
    pub ticket_id: String,
    /// 1 when the ticket opens, +1 for every post folded into it.
    pub revision: u32,
    /// When revision 1 was emitted (the route clock, i.e. the first post's time in a replay).
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
    /// When this revision was emitted.
    #[serde(serialize_with = "crate::time::serialize")]
    pub updated_at: DateTime<Utc>,
    pub queue: Arc<str>,
    pub priority: Priority,
    /// Sorted, without duplicates.
    pub tags: Vec<Arc<str>>,
    /// The team that should answer, when the rule or the queue names one.
    pub team: Option<Arc<str>>,
    /// First response due, counted in the queue calendar's business time; `null` when the
    /// queue has no target for this priority.
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub due_at: Option<DateTime<Utc>>,
    /// The target behind `due_at`.
    pub sla: Option<TicketSla>,
    /// The rule that opened the ticket.
    pub rule_id: Arc<str>,
    /// The platform's thread id of the posts, when the platform has one.
    pub conversation_id: Option<String>,
    /// The key posts were folded by: `platform:c:<conversation id>`, or
    /// `platform:a:<author id>:<watchlist>` when the post has no conversation id.
    pub conversation_key: String,
    /// The open incident the post belongs to, if any.
    pub incident_id: Option<String>,
    /// The post that caused this revision (the first post for revision 1).
    pub post: Post,
    /// Every post folded into the ticket, oldest first (capped; see `post_count`).
    pub post_ids: Vec<String>,
    /// How many posts the ticket holds, including any beyond the `post_ids` cap.
    pub post_count: u32,
    /// The analysis of `post`.
    pub analysis: TicketAnalysis,
    /// Why this queue, this priority, these tags, this due time.
    pub reasons: Vec<TicketReason>,
}

/// The response target behind a ticket's `due_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSla {
    /// The target in business seconds.
    pub target_seconds: u64,
    /// The calendar id and its time zone.
    pub calendar: Arc<str>,
    pub time_zone: Arc<str>,
    /// When the clock started (the post that set the current due time).
    #[serde(serialize_with = "crate::time::serialize")]
    pub started_at: DateTime<Utc>,
}

/// The part of an [`Analysis`] a CRM agent needs; the full explanation stays on the
/// `earshot.posts.scored` topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketAnalysis {
    pub lang: String,
    pub sentiment: Sentiment,
    pub intents: Vec<Intent>,
    pub urgency: f64,
    pub influence: f64,
    /// Matched watchlists, each with its terms and their byte spans in `post.text`.
    pub watch: Vec<WatchMatch>,
    /// Risk flags (`scam`, `spam`); empty when none.
    #[serde(default)]
    pub flags: Vec<Flag>,
}

impl TicketAnalysis {
    pub fn from_analysis(analysis: &Analysis) -> TicketAnalysis {
        TicketAnalysis {
            lang: analysis.lang.clone(),
            sentiment: analysis.sentiment,
            intents: analysis.intents.clone(),
            urgency: analysis.urgency,
            influence: analysis.influence,
            watch: analysis.watch.clone(),
            flags: analysis.flags.clone(),
        }
    }
}

/// One line of "why": a rule that matched, how the priority was set or escalated, the SLA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketReason {
    pub kind: ReasonKind,
    /// The rule behind it, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<Arc<str>>,
    /// A human sentence, e.g. `rule `outage-p1` (rules.toml:12) matched: intent outage`.
    pub detail: Arc<str>,
}

/// What a [`TicketReason`] explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// The rule that chose the queue, and the conditions it matched.
    Rule,
    /// Where the priority came from.
    Priority,
    /// A folded post raised the priority.
    Escalation,
    /// A rule with `continue = true` added tags, a team or a priority floor.
    Modifier,
    /// How `due_at` was computed.
    Sla,
    /// The post belongs to an open incident.
    Incident,
    /// A post was folded into the ticket.
    Fold,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_order_by_urgency() {
        assert!(Priority::P1 < Priority::P4);
        assert_eq!(Priority::P3.most_urgent(Priority::P2), Priority::P2);
        assert_eq!(Priority::parse("p2"), Some(Priority::P2));
        assert_eq!(Priority::parse("P5"), None);
        assert_eq!(serde_json::to_string(&Priority::P1).unwrap(), r#""P1""#);
    }
}
