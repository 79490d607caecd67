//! The route configuration: what it holds once valid, and how it is loaded from TOML.
//!
//! A configuration is one or more TOML files read as one: any file may hold any section,
//! rules keep their order (file order, then order within each file), and every id is
//! global. Sections: `[[rule]]`, `[[queue]]`, `[[calendar]]`, `[[holiday_list]]`,
//! `[lists]`, `[folding]`, `[spike]` (see `docs/rules.md`).
//!
//! [`RouteConfig::load`] returns the compiled configuration with its warnings, or every
//! problem found (errors and warnings) with file, line, column and text.

mod raw;
mod resolve;
mod sections;
mod settings;

use chrono::Duration;
use earshot_model::Intent;

use crate::authors::AuthorLists;
use crate::calendar::Calendar;
use crate::error::Diagnostics;
use crate::load::{ConfigFile, Sink};
use crate::rules::Rule;

/// A queue: where tickets land, who answers, and how fast.
#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    pub id: String,
    /// Index into [`RouteConfig::calendars`].
    pub calendar: usize,
    /// The team that answers when the rule names none.
    pub team: Option<String>,
    /// Response target per priority (P1 first), in the calendar's business time.
    pub sla: [Option<Duration>; 4],
}

/// How later posts of a conversation fold into its open ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldingSettings {
    /// A ticket stays open for folding this long after its last post.
    pub window: Duration,
    /// …and at most this long after it opened.
    pub max_age: Duration,
    /// Open conversations kept at most; the least recently active is evicted beyond it.
    pub max_open: usize,
    /// Post ids listed on a ticket at most (`post_count` keeps counting).
    pub max_post_ids: usize,
}

impl Default for FoldingSettings {
    fn default() -> FoldingSettings {
        FoldingSettings {
            window: Duration::hours(24),
            max_age: Duration::days(7),
            max_open: 1_000_000,
            max_post_ids: 50,
        }
    }
}

/// How volume spikes are detected.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeSettings {
    pub enabled: bool,
    /// Counting granularity; counts are kept and exchanged per bucket.
    pub bucket: Duration,
    /// The sliding window, in buckets.
    pub window_buckets: u32,
    /// How fast the baseline forgets: a count this old weighs half.
    pub half_life: Duration,
    /// How many deviations above the mean make a spike.
    pub sensitivity: f64,
    /// Never a spike below this many posts in the window.
    pub min_count: u64,
    /// After an incident closes, no new one for the same key this long.
    pub cooldown: Duration,
    /// Intents counted (empty: all).
    pub intents: Vec<Intent>,
    /// Watchlists counted (empty: all).
    pub watchlists: Vec<String>,
    /// Authors on these lists are not counted (spam waves must not open incidents).
    pub ignore_lists: Vec<String>,
    /// Sample post ids and top terms an incident carries.
    pub samples: usize,
    pub top_terms: usize,
}

impl Default for SpikeSettings {
    fn default() -> SpikeSettings {
        SpikeSettings {
            enabled: true,
            bucket: Duration::minutes(5),
            window_buckets: 3,
            half_life: Duration::hours(6),
            sensitivity: 4.0,
            min_count: 20,
            cooldown: Duration::hours(1),
            intents: vec![Intent::Outage, Intent::Complaint],
            watchlists: Vec::new(),
            ignore_lists: Vec::new(),
            samples: 10,
            top_terms: 10,
        }
    }
}

/// A valid route configuration.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    pub rules: Vec<Rule>,
    pub queues: Vec<Queue>,
    pub calendars: Vec<Calendar>,
    pub lists: AuthorLists,
    pub folding: FoldingSettings,
    pub spike: SpikeSettings,
}

/// A configuration that loaded, with what is worth a look.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: RouteConfig,
    pub warnings: Diagnostics,
}

impl RouteConfig {
    /// The ids of the queues, in the order they are configured (one ticket topic each).
    pub fn queue_ids(&self) -> Vec<String> {
        self.queues.iter().map(|q| q.id.clone()).collect()
    }

    /// Loads and checks `files` as one configuration. With `known_watchlists`, every
    /// watchlist a rule or `[spike]` names must be one of them.
    ///
    /// ```
    /// use earshot_route::{ConfigFile, RouteConfig};
    ///
    /// let text = r#"
    /// [[queue]]
    /// id = "support"
    /// sla = { P3 = "4h" }
    ///
    /// [[rule]]
    /// id = "all"
    /// queue = "support"
    /// priority = "P3"
    /// "#;
    /// let loaded = RouteConfig::load(&[ConfigFile { name: "route.toml", text }], None).unwrap();
    /// assert_eq!(loaded.config.rules.len(), 1);
    ///
    /// let bad = r#"
    /// [[rule]]
    /// id = "x"
    /// queue = "biling"
    /// priority = "P9"
    /// "#;
    /// let problems = RouteConfig::load(&[ConfigFile { name: "rules.toml", text: bad }], None).unwrap_err();
    /// let codes: Vec<_> = problems.errors().map(|d| d.code()).collect();
    /// assert_eq!(codes, ["unknown_queue", "bad_priority"]);
    /// assert_eq!(problems.0[0].line, 4);
    /// ```
    pub fn load(
        files: &[ConfigFile<'_>],
        known_watchlists: Option<&[&str]>,
    ) -> Result<Loaded, Diagnostics> {
        let mut sink = Sink {
            files,
            diags: Vec::new(),
        };
        let trees = sections::parse(&mut sink);
        let raw = sections::read(&mut sink, &trees);
        let config = resolve::resolve(&mut sink, raw, known_watchlists);
        let mut diags = Diagnostics(sink.diags);
        diags.sort();
        match config {
            Some(config) if !diags.has_errors() => Ok(Loaded {
                config,
                warnings: diags,
            }),
            _ => Err(diags),
        }
    }

    /// Every problem in `files`, errors and warnings, for `earshot check`.
    pub fn check(files: &[ConfigFile<'_>], known_watchlists: Option<&[&str]>) -> Diagnostics {
        match RouteConfig::load(files, known_watchlists) {
            Ok(loaded) => loaded.warnings,
            Err(diags) => diags,
        }
    }

    /// The queue with this id.
    pub fn queue(&self, id: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.id == id)
    }
}
