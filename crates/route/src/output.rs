//! What the router emits: tickets, incidents and unrouted posts, each tagged with `kind`
//! so a JSON-lines stream can carry all three.

use chrono::{DateTime, Utc};
use earshot_model::{write_tagged_ticket, Analysis, Incident, Post, Ticket};
use serde::{Deserialize, Serialize};

/// One output of [`crate::Router::route`] or [`crate::Router::tick`].
///
/// Serialised with a `kind` field: `{"kind":"ticket", "ticket_id": …}`. Tickets go to
/// `earshot.tickets.<queue>` keyed by `ticket_id`, incidents to `earshot.incidents` keyed by
/// `incident_id`, unrouted posts to `earshot.posts.unrouted` keyed by conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RouteOutput {
    /// A new ticket (revision 1) or a new revision of an open one.
    Ticket(Box<Ticket>),
    /// An incident opened, updated or closed (see its `change`).
    Incident(Box<Incident>),
    /// A post no rule took.
    Unrouted(Box<Unrouted>),
}

impl RouteOutput {
    /// Appends the output as JSON to `out` (no newline): the bytes of
    /// `serde_json::to_vec(self)`. Tickets, one per routed post, go through
    /// [`earshot_model::write_tagged_ticket`]; incidents and unrouted posts are rarer and
    /// stay on serde_json.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        match self {
            RouteOutput::Ticket(ticket) => {
                write_tagged_ticket(ticket, "kind", self.kind(), out);
                Ok(())
            }
            RouteOutput::Incident(_) | RouteOutput::Unrouted(_) => serde_json::to_writer(out, self),
        }
    }

    /// The output as JSON: `serde_json::to_vec(self)`, tickets faster.
    pub fn to_json_vec(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(1024);
        self.write_json(&mut out)?;
        Ok(out)
    }

    /// `ticket`, `incident` or `unrouted`.
    pub fn kind(&self) -> &'static str {
        match self {
            RouteOutput::Ticket(_) => "ticket",
            RouteOutput::Incident(_) => "incident",
            RouteOutput::Unrouted(_) => "unrouted",
        }
    }

    pub fn as_ticket(&self) -> Option<&Ticket> {
        match self {
            RouteOutput::Ticket(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_incident(&self) -> Option<&Incident> {
        match self {
            RouteOutput::Incident(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_unrouted(&self) -> Option<&Unrouted> {
        match self {
            RouteOutput::Unrouted(u) => Some(u),
            _ => None,
        }
    }
}

/// A post that no rule routed or suppressed, kept whole so it can be replayed once a rule
/// exists for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unrouted {
    #[serde(serialize_with = "earshot_model::time::serialize")]
    pub routed_at: DateTime<Utc>,
    /// `no_rule_matched`, or `modifiers_only` when only `continue` rules without a queue
    /// matched.
    pub reason_code: String,
    /// A sentence for people.
    pub reason: String,
    /// The open incident the post belongs to, if any.
    pub incident_id: Option<String>,
    pub post: Post,
    pub analysis: Analysis,
}
