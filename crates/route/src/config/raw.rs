//! What the route files say, section by section, before ids are checked across files: the
//! output of the first pass ([`super::sections`], [`super::settings`]) and the input of the
//! second ([`super::resolve`]).

use chrono::{Duration, NaiveDate, NaiveTime};
use chrono_tz::Tz;

use super::{FoldingSettings, SpikeSettings};
use crate::error::RouteError;
use crate::load::{At, Sink, Table};
use crate::rules::Rule;

pub(super) type Hours = Vec<(NaiveTime, NaiveTime)>;

#[derive(Debug)]
pub(super) struct RawCalendar<'a> {
    pub(super) id: At<&'a str>,
    pub(super) tz: Tz,
    pub(super) always_open: bool,
    pub(super) hours: [Hours; 7],
    pub(super) holidays: Vec<At<&'a str>>,
    pub(super) closed_annually: Vec<(u32, u32)>,
    pub(super) closed_dates: Vec<NaiveDate>,
    pub(super) open_dates: Vec<NaiveDate>,
}

#[derive(Debug)]
pub(super) struct RawQueue<'a> {
    pub(super) id: At<&'a str>,
    pub(super) calendar: Option<At<&'a str>>,
    pub(super) team: Option<String>,
    pub(super) sla: [Option<Duration>; 4],
}

#[derive(Debug)]
pub(super) struct RawRule<'a> {
    pub(super) rule: Rule,
    pub(super) id: At<&'a str>,
    pub(super) queue: Option<At<&'a str>>,
    pub(super) watchlists: Vec<At<&'a str>>,
    pub(super) lists: Vec<At<&'a str>>,
}

/// Spike settings with the watchlist and list references still to check.
pub(super) type RawSpike<'a> = (SpikeSettings, Vec<At<&'a str>>, Vec<At<&'a str>>);

#[derive(Debug, Default)]
pub(super) struct Raw<'a> {
    pub(super) rules: Vec<RawRule<'a>>,
    pub(super) queues: Vec<RawQueue<'a>>,
    pub(super) calendars: Vec<RawCalendar<'a>>,
    pub(super) holiday_lists: Vec<(At<&'a str>, Vec<NaiveDate>)>,
    pub(super) lists: Vec<(At<&'a str>, Vec<&'a str>)>,
    pub(super) folding: Option<FoldingSettings>,
    pub(super) spike: Option<RawSpike<'a>>,
}

/// Reads `id`, names the table after it, or reports it missing.
pub(super) fn id<'a>(sink: &mut Sink<'_>, t: &mut Table<'a>, kind: &str) -> Option<At<&'a str>> {
    let id = t.str(sink, "id");
    match &id {
        Some(id) if !id.v.trim().is_empty() => t.what = format!("{kind} `{}`", id.v),
        _ => sink.report(
            t.file,
            t.span.clone(),
            RouteError::MissingKey {
                key: "id",
                section: t.what.clone(),
            },
        ),
    }
    id.filter(|id| !id.v.trim().is_empty())
}
