//! The second pass over the route files: ids, references between sections and files, and
//! the warnings that need every rule at once (shadowed rules, missing SLA targets).

use std::collections::HashMap;

use chrono::Weekday;

use super::raw::Raw;
use super::{Queue, RouteConfig, SpikeSettings};
use crate::authors::{AuthorLists, MAX_AUTHOR_LISTS};
use crate::calendar::Calendar;
use crate::error::RouteError;
use crate::load::{At, Sink};
use crate::rules::{shadowed_by, Rule};

/// Second pass: ids, references, cross-rule warnings.
pub(super) fn resolve(
    sink: &mut Sink<'_>,
    raw: Raw<'_>,
    known: Option<&[&str]>,
) -> Option<RouteConfig> {
    let holiday_lists = unique(
        sink,
        "holiday list",
        raw.holiday_lists.iter().map(|(id, _)| id),
    );
    let mut calendars = Vec::new();
    let cal_ids = unique(sink, "calendar", raw.calendars.iter().map(|c| &c.id));
    for c in &raw.calendars {
        let mut cal = if c.always_open {
            Calendar::always_open(c.id.v, c.tz)
        } else {
            Calendar::new(c.id.v, c.tz)
        };
        for (day, hours) in c.hours.iter().enumerate() {
            let weekday = Weekday::try_from(u8::try_from(day).unwrap_or(0)).unwrap_or(Weekday::Mon);
            cal = cal.with_hours(weekday, hours);
        }
        for h in &c.holidays {
            if h.v == "jp" {
                cal = cal.with_japanese_holidays();
            } else if let Some(&i) = holiday_lists.get(h.v) {
                cal = cal.with_closed_dates(raw.holiday_lists[i].1.iter().copied());
            } else {
                sink.at(h, RouteError::UnknownHolidayList(h.v.into()));
            }
        }
        for &(m, d) in &c.closed_annually {
            cal = cal.with_closed_annually(m, d);
        }
        cal = cal
            .with_closed_dates(c.closed_dates.iter().copied())
            .with_open_dates(c.open_dates.iter().copied());
        if !cal.has_hours() {
            sink.at(&c.id, RouteError::NeverOpen(c.id.v.into()));
        }
        calendars.push(cal);
    }

    let queue_ids = unique(sink, "queue", raw.queues.iter().map(|q| &q.id));
    let mut queues = Vec::new();
    for q in &raw.queues {
        let calendar = match &q.calendar {
            Some(name) => cal_ids.get(name.v).copied().unwrap_or_else(|| {
                sink.at(name, RouteError::UnknownCalendar(name.v.into()));
                0
            }),
            None => {
                // No calendar: the target counts wall-clock time, 24/7.
                calendars.push(Calendar::always_open("24/7", chrono_tz::UTC));
                calendars.len() - 1
            }
        };
        queues.push(Queue {
            id: q.id.v.to_string(),
            calendar,
            team: q.team.clone(),
            sla: q.sla,
        });
    }

    let mut lists = AuthorLists::default();
    let _ = unique(sink, "author list", raw.lists.iter().map(|(name, _)| name));
    for (name, entries) in &raw.lists {
        if lists.index_of(name.v).is_none()
            && lists.add_list(name.v, entries.iter().copied()).is_none()
        {
            let why = format!("at most {MAX_AUTHOR_LISTS} author lists");
            sink.at(
                name,
                RouteError::BadValue {
                    key: "lists".into(),
                    why,
                },
            );
        }
    }
    let check_list = |sink: &mut Sink<'_>, l: &At<&str>| {
        if lists.index_of(l.v).is_none() {
            sink.at(l, RouteError::UnknownList(l.v.into()));
        }
    };
    let check_watchlist = |sink: &mut Sink<'_>, w: &At<&str>| {
        if known.is_some_and(|k| !k.contains(&w.v)) {
            sink.at(w, RouteError::UnknownWatchlist(w.v.into()));
        }
    };

    let _ = unique(sink, "rule", raw.rules.iter().map(|r| &r.id));
    for r in &raw.rules {
        r.lists.iter().for_each(|l| check_list(sink, l));
        r.watchlists.iter().for_each(|w| check_watchlist(sink, w));
        let Some(q) = &r.queue else { continue };
        match queue_ids.get(q.v) {
            None => sink.at(q, RouteError::UnknownQueue(q.v.into())),
            Some(&i) => {
                if let Some(p) = r
                    .rule
                    .then
                    .priority
                    .filter(|p| queues[i].sla[p.index()].is_none())
                {
                    let error = RouteError::MissingSla {
                        queue: q.v.into(),
                        priority: p.as_str(),
                        rule: r.id.v.into(),
                    };
                    sink.at(q, error);
                }
            }
        }
    }
    let rules: Vec<Rule> = raw.rules.iter().map(|r| r.rule.clone()).collect();
    for (j, by) in shadowed_by(&rules).into_iter().enumerate() {
        if let Some(i) = by {
            let error = RouteError::ShadowedRule {
                rule: rules[j].id.clone(),
                by: rules[i].id.clone(),
                by_line: rules[i].line,
            };
            sink.at(&raw.rules[j].id, error);
        }
    }
    if rules.is_empty() {
        sink.global(RouteError::NoRules);
    }

    let spike = match raw.spike {
        Some((mut settings, watchlists, ignore)) => {
            watchlists.iter().for_each(|w| check_watchlist(sink, w));
            ignore.iter().for_each(|l| check_list(sink, l));
            settings.watchlists = watchlists.iter().map(|w| w.v.to_string()).collect();
            settings.ignore_lists = ignore.iter().map(|l| l.v.to_string()).collect();
            settings
        }
        None => SpikeSettings::default(),
    };
    Some(RouteConfig {
        rules,
        queues,
        calendars,
        lists,
        folding: raw.folding.unwrap_or_default(),
        spike,
    })
}

/// Maps each id to its first index, reporting later duplicates.
fn unique<'a, 'b: 'a>(
    sink: &mut Sink<'_>,
    what: &'static str,
    ids: impl Iterator<Item = &'a At<&'b str>>,
) -> HashMap<&'b str, usize> {
    let mut seen: HashMap<&'b str, usize> = HashMap::new();
    let mut first: HashMap<&'b str, (usize, std::ops::Range<usize>)> = HashMap::new();
    for (i, id) in ids.enumerate() {
        if let Some((file, span)) = first.get(id.v) {
            let first_line = sink.line_of(*file, span);
            sink.at(
                id,
                RouteError::DuplicateId {
                    what,
                    id: id.v.into(),
                    first_line,
                },
            );
        } else {
            first.insert(id.v, (id.file, id.span.clone()));
            seen.insert(id.v, i);
        }
    }
    seen
}
