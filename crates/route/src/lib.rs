//! The route stage: scored posts in; tickets, incidents and unrouted records out.
//!
//! Pure logic — no I/O, no async, no global state, the clock passed in — so the same code
//! runs in the Kafka pipeline, in `earshot triage` over a year of history, and in tests.
//!
//! * [`RouteConfig::load`] reads the route TOML files (rules, queues with SLA targets,
//!   business calendars, author lists, folding and spike settings) and returns either a
//!   valid configuration with warnings or every problem with file, line and column.
//! * [`Router`] routes a [`ScoredPost`](earshot_model::ScoredPost) at a given time
//!   ([`Router::route`]) into [`RouteOutput`]s: a [`Ticket`](earshot_model::Ticket) (new, or a
//!   new revision of the conversation's open ticket), an [`Incident`](earshot_model::Incident)
//!   (opened, updated, closed) or an [`Unrouted`] record. [`Router::tick`] moves the clock
//!   when no post arrives.
//! * [`Calendar`] counts business time (any IANA zone, weekly hours, Japanese holidays from
//!   [`japanese_holidays`], closed and open dates) for SLA due times.
//! * [`SpikeCounts`] are the per-bucket counts replicas exchange so spike detection sees
//!   every partition.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use earshot_model::{Analysis, Intent, Post, ScoredPost, Sentiment, WatchMatch};
//! use earshot_route::{ConfigFile, RouteOutput, Router};
//!
//! let text = r#"
//! [[calendar]]
//! id = "tokyo"
//! time_zone = "Asia/Tokyo"
//! hours = { weekdays = "09:00-18:00" }
//! holidays = ["jp"]
//!
//! [[queue]]
//! id = "billing"
//! calendar = "tokyo"
//! sla = { P2 = "1h" }
//!
//! [[rule]]
//! id = "billing-complaints"
//! watchlist = "sorapay"
//! intent = "complaint"
//! queue = "billing"
//! priority = "P2"
//! "#;
//! let (mut router, _warnings) =
//!     Router::from_files(&[ConfigFile { name: "route.toml", text }], Some(&["sorapay"])).unwrap();
//!
//! let post = ScoredPost {
//!     post: Post { id: "1".into(), platform: "x".into(), text: "二重請求された".into(), ..Post::default() },
//!     analysis: Analysis {
//!         intents: vec![Intent::Complaint],
//!         sentiment: Sentiment::from_score(-0.6),
//!         watch: vec![WatchMatch { id: "sorapay".into(), terms: vec![] }],
//!         ..Analysis::default()
//!     },
//! };
//! // Friday 2026-05-01 17:50 in Tokyo; Golden Week closes the office until Thursday.
//! let now = Utc.with_ymd_and_hms(2026, 5, 1, 8, 50, 0).unwrap();
//! let outputs = router.route(&post, now);
//! let RouteOutput::Ticket(ticket) = &outputs[0] else { panic!() };
//! assert_eq!(&*ticket.queue, "billing");
//! // 10 minutes on Friday, 50 on Thursday 7 May (09:50 JST).
//! assert_eq!(ticket.due_at, Some(Utc.with_ymd_and_hms(2026, 5, 7, 0, 50, 0).unwrap()));
//! assert_eq!(serde_json::to_value(&outputs[0]).unwrap()["kind"], "ticket");
//! ```

mod authors;
mod calendar;
mod config;
mod counts;
mod error;
mod folding;
mod holidays_jp;
mod ids;
mod intern;
mod load;
mod matcher;
mod output;
mod router;
mod rules;
mod seen;
mod spike;
mod state;
mod tables;

pub use authors::{AuthorLists, MAX_AUTHOR_LISTS};
pub use calendar::Calendar;
pub use config::{FoldingSettings, Loaded, Queue, RouteConfig, SpikeSettings};
pub use counts::{CountKey, SpikeCounts};
pub use error::{Diagnostic, Diagnostics, RouteError, Severity};
pub use folding::FoldingStats;
pub use holidays_jp::{
    autumnal_equinox_day, japanese_holidays, vernal_equinox_day, Holiday, JP_HOLIDAY_YEARS,
};
pub use ids::{incident_id, ticket_id};
pub use load::{parse_duration, ConfigFile};
pub use output::{RouteOutput, Unrouted};
pub use router::{Router, RouterStats, Shard};
pub use rules::{Actions, Conditions, Rule};
pub use state::{Position, Restored, StateRecord};
