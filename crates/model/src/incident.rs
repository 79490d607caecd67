//! The incident the route stage opens when posts about one watchlist and intent spike.
//!
//! An incident is emitted when it opens, again (with a higher `revision`) at most once per
//! counting bucket while it grows, and a last time when it closes. `incident_id` is derived
//! from the watchlist, the intent and the start of the bucket in which it opened, so every
//! route replica that decides from the same merged counts names it the same way.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Intent;

/// Version of the [`Incident`] JSON shape.
pub const INCIDENT_SCHEMA_VERSION: u32 = 1;

/// One incident revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// [`INCIDENT_SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// `inc_` and 16 hex digits.
    pub incident_id: String,
    /// 1 when it opens, +1 for every later emission.
    pub revision: u32,
    pub status: IncidentStatus,
    /// What this revision reports.
    pub change: IncidentChange,
    pub watchlist: String,
    pub intent: Intent,
    #[serde(serialize_with = "crate::time::serialize")]
    pub opened_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub closed_at: Option<DateTime<Utc>>,
    /// The sliding window the current `count` covers.
    pub window: IncidentWindow,
    /// Posts in `window`.
    pub count: u64,
    /// The largest window count seen while open.
    pub peak_count: u64,
    /// Posts counted since the window in which it opened began.
    pub total_count: u64,
    /// The learned normal volume the spike was measured against (frozen while open).
    pub baseline: IncidentBaseline,
    /// A few of the posts that made the spike, oldest first.
    pub sample_post_ids: Vec<String>,
    /// The watch terms that occur most in those posts.
    pub top_terms: Vec<TermCount>,
    /// Tickets emitted with this `incident_id` (on this replica).
    pub ticket_count: u64,
    /// Posts a rule folded into the incident instead of emitting a ticket (on this replica).
    pub folded_count: u64,
}

/// Whether the incident is still going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    Open,
    Closed,
}

/// What happened in this revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentChange {
    Opened,
    Updated,
    Closed,
}

/// A time window `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentWindow {
    #[serde(serialize_with = "crate::time::serialize")]
    pub start: DateTime<Utc>,
    #[serde(serialize_with = "crate::time::serialize")]
    pub end: DateTime<Utc>,
}

/// The learned normal volume per window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IncidentBaseline {
    /// Exponentially weighted mean of the window count.
    pub mean: f64,
    /// Exponentially weighted mean absolute deviation of the window count.
    pub deviation: f64,
    /// The count at or above which a window is a spike.
    pub threshold: f64,
}

/// A term and how often it occurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermCount {
    pub term: String,
    pub count: u64,
}
