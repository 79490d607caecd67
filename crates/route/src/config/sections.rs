//! Reading each section of the route files and resolving the references between them.
//!
//! Two passes: first every file is read into raw sections (values parsed, spans kept), then
//! ids are resolved across files (a rule in `rules.toml` names a queue in `queues.toml`).
//! Both passes report into the same sink, so one run lists every problem.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use earshot_model::{Intent, Priority};
use toml::Spanned;

use super::{global, FoldingSettings, Queue, RouteConfig, SpikeSettings};
use crate::authors::{AuthorLists, MAX_AUTHOR_LISTS};
use crate::calendar::Calendar;
use crate::error::RouteError;
use crate::load::{parse_date, parse_hours, parse_month_day, wrong, At, Sink, Table};
use crate::rules::{shadowed_by, Actions, Conditions, Rule};
use crate::tree::{self, Node};

const SECTIONS: &str =
    "the top level (sections: rule, queue, calendar, holiday_list, lists, folding, spike)";

type Hours = Vec<(NaiveTime, NaiveTime)>;

#[derive(Debug)]
struct RawCalendar<'a> {
    id: At<&'a str>,
    tz: Tz,
    always_open: bool,
    hours: [Hours; 7],
    holidays: Vec<At<&'a str>>,
    closed_annually: Vec<(u32, u32)>,
    closed_dates: Vec<NaiveDate>,
    open_dates: Vec<NaiveDate>,
}

#[derive(Debug)]
struct RawQueue<'a> {
    id: At<&'a str>,
    calendar: Option<At<&'a str>>,
    team: Option<String>,
    sla: [Option<Duration>; 4],
}

#[derive(Debug)]
struct RawRule<'a> {
    rule: Rule,
    id: At<&'a str>,
    queue: Option<At<&'a str>>,
    watchlists: Vec<At<&'a str>>,
    lists: Vec<At<&'a str>>,
}

#[derive(Debug, Default)]
struct Raw<'a> {
    rules: Vec<RawRule<'a>>,
    queues: Vec<RawQueue<'a>>,
    calendars: Vec<RawCalendar<'a>>,
    holiday_lists: Vec<(At<&'a str>, Vec<NaiveDate>)>,
    lists: Vec<(At<&'a str>, Vec<&'a str>)>,
    folding: Option<FoldingSettings>,
    spike: Option<(SpikeSettings, Vec<At<&'a str>>, Vec<At<&'a str>>)>,
}

pub(super) fn load(sink: &mut Sink<'_>, known_watchlists: Option<&[&str]>) -> Option<RouteConfig> {
    let mut trees = Vec::new();
    for (i, file) in sink.files.iter().enumerate() {
        match tree::parse(file.text) {
            Ok(t) => trees.push((i, t)),
            Err((message, span)) => {
                let span = span.unwrap_or(0..0);
                sink.report(i, span, RouteError::Syntax(message));
            }
        }
    }
    let mut raw = Raw::default();
    for (file, entries) in &trees {
        for (key, node) in entries {
            read_section(sink, &mut raw, *file, key, node);
        }
    }
    resolve(sink, raw, known_watchlists)
}

fn read_section<'a>(
    sink: &mut Sink<'_>,
    raw: &mut Raw<'a>,
    file: usize,
    key: &str,
    node: &'a Spanned<Node>,
) {
    let single = |sink: &mut Sink<'_>, name: &'static str, seen: bool| {
        if seen {
            sink.report(file, node.span(), RouteError::DuplicateSection(name));
        }
        Table::from_node(sink, file, key, node, format!("[{name}]"))
    };
    match key {
        "rule" | "queue" | "calendar" | "holiday_list" => {
            let Node::Array(items) = node.get_ref() else {
                sink.report(
                    file,
                    node.span(),
                    wrong(key, "an array of tables ([[…]])", node.get_ref()),
                );
                return;
            };
            for item in items {
                let Some(t) = Table::from_node(sink, file, key, item, format!("a [[{key}]]"))
                else {
                    continue;
                };
                match key {
                    "rule" => raw.rules.extend(rule(sink, t)),
                    "queue" => raw.queues.extend(queue(sink, t)),
                    "calendar" => raw.calendars.extend(calendar(sink, t)),
                    _ => raw.holiday_lists.extend(holiday_list(sink, t)),
                }
            }
        }
        "lists" => {
            if let Some(mut t) = Table::from_node(sink, file, key, node, "[lists]".into()) {
                for (name, value) in t.entries() {
                    let entries = t
                        .str_items(sink, name, value)
                        .into_iter()
                        .map(|e| e.v)
                        .collect();
                    raw.lists.push((
                        At {
                            v: name.as_str(),
                            span: value.span(),
                            file,
                        },
                        entries,
                    ));
                }
            }
        }
        "folding" => {
            if let Some(t) = single(sink, "folding", raw.folding.is_some()) {
                raw.folding = Some(folding(sink, t));
            }
        }
        "spike" => {
            if let Some(t) = single(sink, "spike", raw.spike.is_some()) {
                raw.spike = Some(spike(sink, t));
            }
        }
        _ => sink.report(
            file,
            node.span(),
            RouteError::UnknownKey {
                key: key.into(),
                section: SECTIONS.into(),
            },
        ),
    }
}

/// Reads `id`, names the table after it, or reports it missing.
fn id<'a>(sink: &mut Sink<'_>, t: &mut Table<'a>, kind: &str) -> Option<At<&'a str>> {
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

fn rule<'a>(sink: &mut Sink<'_>, mut t: Table<'a>) -> Option<RawRule<'a>> {
    let id = id(sink, &mut t, "rule");
    let watchlists = condition_list(sink, &mut t, "watchlist");
    let intents = condition_list(sink, &mut t, "intent")
        .into_iter()
        .filter_map(|i| {
            let parsed = Intent::parse(&i.v.to_ascii_lowercase());
            if parsed.is_none() {
                sink.at(&i, RouteError::UnknownIntent(i.v.to_string()));
            }
            parsed
        })
        .collect();
    let sentiment = t
        .get("sentiment")
        .and_then(|node| sentiment(sink, t.file, node));
    let mut unit = |t: &mut Table<'a>, key: &str| {
        let v = t.float(sink, key)?;
        if !(0.0..=1.0).contains(&v.v) {
            sink.at(
                &v,
                RouteError::BadRange(format!("`{key}` is {} but must be within [0, 1]", v.v)),
            );
        }
        Some(v.v)
    };
    let min_urgency = unit(&mut t, "min_urgency");
    let min_influence = unit(&mut t, "min_influence");
    let lower = |v: Vec<At<&str>>| v.into_iter().map(|p| p.v.to_ascii_lowercase()).collect();
    let platforms = lower(condition_list(sink, &mut t, "platform"));
    let langs = lower(condition_list(sink, &mut t, "lang"));
    let author_in = condition_list(sink, &mut t, "author_in");
    let author_not_in = condition_list(sink, &mut t, "author_not_in");
    let in_incident = t.bool(sink, "in_incident").map(|b| b.v);

    let queue = t.str(sink, "queue");
    let priority = t.str(sink, "priority").and_then(|p| {
        let parsed = Priority::parse(p.v);
        if parsed.is_none() {
            sink.at(&p, RouteError::BadPriority(p.v.to_string()));
        }
        parsed
    });
    let mut tags: Vec<String> = t
        .strs(sink, "tags")
        .into_iter()
        .map(|s| s.v.to_string())
        .collect();
    tags.sort();
    tags.dedup();
    let team = t.str(sink, "team").map(|s| s.v.to_string());
    let flag = |t: &mut Table<'a>, sink: &mut Sink<'_>, key: &str| t.bool(sink, key);
    let suppress = flag(&mut t, sink, "suppress");
    let cont = flag(&mut t, sink, "continue");
    let fold = flag(&mut t, sink, "fold_into_incident");
    let _ = t.str(sink, "description");
    let conflict = |sink: &mut Sink<'_>, at: &Option<At<bool>>, why: &str| {
        if let Some(at) = at.as_ref().filter(|a| a.v) {
            sink.at(
                at,
                RouteError::BadValue {
                    key: "rule".into(),
                    why: why.into(),
                },
            );
        }
    };
    let (is_suppress, is_continue, is_fold) = (flag_on(&suppress), flag_on(&cont), flag_on(&fold));
    if is_suppress && queue.is_some() {
        conflict(
            sink,
            &suppress,
            "a rule either suppresses posts or routes them to a queue, not both",
        );
    } else if is_suppress && is_continue {
        conflict(
            sink,
            &cont,
            "a suppressing rule ends matching: drop `continue`",
        );
    } else if is_fold && queue.is_none() {
        conflict(
            sink,
            &fold,
            "`fold_into_incident` needs a `queue` for posts outside an incident",
        );
    }
    let id = id?;
    if queue.is_none() && !is_suppress && !is_continue {
        sink.at(&id, RouteError::RuleWithoutAction(id.v.to_string()));
    }
    if queue.is_some() && priority.is_none() && t.get("priority").is_none() {
        sink.report(
            t.file,
            t.span.clone(),
            RouteError::MissingKey {
                key: "priority",
                section: t.what.clone(),
            },
        );
    }
    let lists: Vec<At<&str>> = author_in.iter().chain(&author_not_in).cloned().collect();
    let names = |v: &[At<&str>]| v.iter().map(|a| a.v.to_string()).collect();
    let rule = Rule {
        id: id.v.to_string(),
        file: sink.files[t.file].name.to_string(),
        line: sink.line_of(t.file, &id.span),
        when: Conditions {
            watchlists: names(&watchlists),
            intents,
            sentiment,
            min_urgency,
            min_influence,
            platforms,
            langs,
            author_in: names(&author_in),
            author_not_in: names(&author_not_in),
            in_incident,
        },
        then: Actions {
            queue: queue.as_ref().map(|q| q.v.to_string()),
            priority,
            tags,
            team,
            suppress: is_suppress,
            continue_matching: is_continue,
            fold_into_incident: is_fold,
        },
    };
    t.finish(sink);
    Some(RawRule {
        rule,
        id,
        queue,
        watchlists,
        lists,
    })
}

fn flag_on(b: &Option<At<bool>>) -> bool {
    b.as_ref().is_some_and(|b| b.v)
}

/// A list condition; an explicit empty list would match nothing, which is never meant.
fn condition_list<'a>(sink: &mut Sink<'_>, t: &mut Table<'a>, key: &str) -> Vec<At<&'a str>> {
    if let Some(node) = t.get(key) {
        if matches!(node.get_ref(), Node::Array(items) if items.is_empty()) {
            let why = "an empty list matches nothing; leave the key out to match everything".into();
            sink.report(
                t.file,
                node.span(),
                RouteError::BadValue {
                    key: key.into(),
                    why,
                },
            );
        }
    }
    t.strs(sink, key)
}

/// `sentiment = { min = -1.0, max = -0.3 }` or `sentiment = [-1.0, -0.3]`.
fn sentiment(sink: &mut Sink<'_>, file: usize, node: &Spanned<Node>) -> Option<(f64, f64)> {
    let (min, max) = match node.get_ref() {
        Node::Array(items) if items.len() == 2 => (
            crate::load::number(sink, file, "sentiment", &items[0])?,
            crate::load::number(sink, file, "sentiment", &items[1])?,
        ),
        Node::Table(entries) => {
            let mut t = Table::new(file, node.span(), "`sentiment`".into(), entries);
            let min = t.float(sink, "min").map_or(-1.0, |v| v.v);
            let max = t.float(sink, "max").map_or(1.0, |v| v.v);
            t.finish(sink);
            (min, max)
        }
        other => {
            sink.report(
                file,
                node.span(),
                wrong("sentiment", "{ min = …, max = … } or [min, max]", other),
            );
            return None;
        }
    };
    let why = if !(-1.0..=1.0).contains(&min) || !(-1.0..=1.0).contains(&max) {
        Some(format!("sentiment [{min}, {max}] must lie within [-1, 1]"))
    } else if min > max {
        Some(format!("sentiment min {min} is above max {max}"))
    } else {
        None
    };
    match why {
        Some(why) => {
            sink.report(file, node.span(), RouteError::BadRange(why));
            None
        }
        None => Some((min, max)),
    }
}

fn queue<'a>(sink: &mut Sink<'_>, mut t: Table<'a>) -> Option<RawQueue<'a>> {
    let id = id(sink, &mut t, "queue");
    let calendar = t.str(sink, "calendar");
    let team = t.str(sink, "team").map(|s| s.v.to_string());
    let _ = t.str(sink, "description");
    let mut sla = [None; 4];
    if let Some(mut targets) = t.table(sink, "sla") {
        for (key, value) in targets.entries() {
            let Some(p) = Priority::parse(key) else {
                sink.report(t.file, value.span(), RouteError::BadPriority(key.clone()));
                continue;
            };
            let Node::Str(text) = value.get_ref() else {
                sink.report(
                    t.file,
                    value.span(),
                    wrong(key, "a duration such as \"1h\"", value.get_ref()),
                );
                continue;
            };
            match crate::load::parse_duration(text, false) {
                Ok(d) => sla[p.index()] = Some(d),
                Err(why) => sink.report(
                    t.file,
                    value.span(),
                    RouteError::BadDuration {
                        text: text.clone(),
                        why,
                    },
                ),
            }
        }
    }
    t.finish(sink);
    Some(RawQueue {
        id: id?,
        calendar,
        team,
        sla,
    })
}

fn calendar<'a>(sink: &mut Sink<'_>, mut t: Table<'a>) -> Option<RawCalendar<'a>> {
    let id = id(sink, &mut t, "calendar");
    let tz = match t.str(sink, "time_zone") {
        Some(name) => name
            .v
            .parse::<Tz>()
            .map_err(|_| sink.at(&name, RouteError::BadTimeZone(name.v.into())))
            .ok(),
        None => {
            sink.report(
                t.file,
                t.span.clone(),
                RouteError::MissingKey {
                    key: "time_zone",
                    section: t.what.clone(),
                },
            );
            None
        }
    };
    let always_open = t.bool(sink, "always_open").is_some_and(|b| b.v);
    let mut hours: [Hours; 7] = Default::default();
    if let Some(mut table) = t.table(sink, "hours") {
        // Broad keys first, so `sat` overrides `weekend` wherever each is written.
        for (key, days) in HOUR_KEYS {
            let Some(node) = table.get(key) else { continue };
            let spans = table.str_items(sink, key, node);
            let mut parsed = Vec::new();
            for span in spans.iter().filter(|s| s.v != "closed") {
                match parse_hours(span.v) {
                    Ok(h) => parsed.push(h),
                    Err(why) => sink.at(
                        span,
                        RouteError::BadHours {
                            text: span.v.to_string(),
                            why,
                        },
                    ),
                }
            }
            for day in *days {
                hours[day.num_days_from_monday() as usize] = parsed.clone();
            }
        }
        table.finish(sink);
    }
    let holidays = t.strs(sink, "holidays");
    let dates = |t: &mut Table<'a>, sink: &mut Sink<'_>, key: &str| -> Vec<NaiveDate> {
        let Some(node) = t.get(key) else {
            return Vec::new();
        };
        t.str_items(sink, key, node)
            .into_iter()
            .filter_map(|d| {
                parse_date(d.v)
                    .map_err(|why| {
                        sink.at(
                            &d,
                            RouteError::BadDate {
                                text: d.v.into(),
                                why,
                            },
                        )
                    })
                    .ok()
            })
            .collect()
    };
    let closed_dates = dates(&mut t, sink, "closed_dates");
    let open_dates = dates(&mut t, sink, "open_dates");
    let closed_annually = t
        .strs(sink, "closed_annually")
        .into_iter()
        .filter_map(|d| {
            parse_month_day(d.v)
                .map_err(|why| {
                    sink.at(
                        &d,
                        RouteError::BadDate {
                            text: d.v.into(),
                            why,
                        },
                    )
                })
                .ok()
        })
        .collect();
    t.finish(sink);
    Some(RawCalendar {
        id: id?,
        tz: tz?,
        always_open,
        hours,
        holidays,
        closed_annually,
        closed_dates,
        open_dates,
    })
}

const WEEKDAYS: &[Weekday] = &[
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];
const HOUR_KEYS: &[(&str, &[Weekday])] = &[
    (
        "daily",
        &[
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ],
    ),
    ("weekdays", WEEKDAYS),
    ("weekend", &[Weekday::Sat, Weekday::Sun]),
    ("mon", &[Weekday::Mon]),
    ("tue", &[Weekday::Tue]),
    ("wed", &[Weekday::Wed]),
    ("thu", &[Weekday::Thu]),
    ("fri", &[Weekday::Fri]),
    ("sat", &[Weekday::Sat]),
    ("sun", &[Weekday::Sun]),
];

fn holiday_list<'a>(
    sink: &mut Sink<'_>,
    mut t: Table<'a>,
) -> Option<(At<&'a str>, Vec<NaiveDate>)> {
    let id = id(sink, &mut t, "holiday list");
    let dates = t
        .strs(sink, "dates")
        .into_iter()
        .filter_map(|d| {
            parse_date(d.v)
                .map_err(|why| {
                    sink.at(
                        &d,
                        RouteError::BadDate {
                            text: d.v.into(),
                            why,
                        },
                    )
                })
                .ok()
        })
        .collect();
    t.finish(sink);
    Some((id?, dates))
}

fn folding(sink: &mut Sink<'_>, mut t: Table<'_>) -> FoldingSettings {
    let d = FoldingSettings::default();
    let positive = |sink: &mut Sink<'_>, v: At<u64>, key: &str| {
        if v.v == 0 {
            sink.at(
                &v,
                RouteError::BadValue {
                    key: key.into(),
                    why: "must be at least 1".into(),
                },
            );
        }
        usize::try_from(v.v).unwrap_or(usize::MAX)
    };
    let settings = FoldingSettings {
        window: t.duration(sink, "window", true).map_or(d.window, |v| v.v),
        max_age: t.duration(sink, "max_age", true).map_or(d.max_age, |v| v.v),
        max_open: t
            .uint(sink, "max_open")
            .map_or(d.max_open, |v| positive(sink, v, "max_open")),
        max_post_ids: t
            .uint(sink, "max_post_ids")
            .map_or(d.max_post_ids, |v| positive(sink, v, "max_post_ids")),
    };
    t.finish(sink);
    settings
}

fn spike<'a>(
    sink: &mut Sink<'_>,
    mut t: Table<'a>,
) -> (SpikeSettings, Vec<At<&'a str>>, Vec<At<&'a str>>) {
    let d = SpikeSettings::default();
    let enabled = t.bool(sink, "enabled").map_or(d.enabled, |b| b.v);
    let bucket = t.duration(sink, "bucket", true);
    let window = t.duration(sink, "window", true);
    let bucket_len = bucket.as_ref().map_or(d.bucket, |b| b.v);
    if bucket_len < Duration::seconds(1) {
        if let Some(b) = &bucket {
            sink.at(
                b,
                RouteError::BadValue {
                    key: "bucket".into(),
                    why: "must be at least 1s".into(),
                },
            );
        }
    }
    let window_buckets = match &window {
        Some(w) if bucket_len > Duration::zero() => {
            let n = w.v.num_seconds() / bucket_len.num_seconds().max(1);
            if w.v.num_seconds() % bucket_len.num_seconds().max(1) != 0 || !(1..=1000).contains(&n)
            {
                let why = "must be 1 to 1000 whole buckets".into();
                sink.at(
                    w,
                    RouteError::BadValue {
                        key: "window".into(),
                        why,
                    },
                );
            }
            u32::try_from(n.clamp(1, 1000)).unwrap_or(1)
        }
        _ => d.window_buckets,
    };
    let sensitivity = t.float(sink, "sensitivity");
    if let Some(s) = sensitivity.as_ref().filter(|s| s.v <= 0.0) {
        sink.at(
            s,
            RouteError::BadRange(format!("sensitivity {} must be above 0", s.v)),
        );
    }
    let intents = t
        .strs(sink, "intents")
        .into_iter()
        .filter_map(|i| {
            let parsed = Intent::parse(i.v);
            if parsed.is_none() {
                sink.at(&i, RouteError::UnknownIntent(i.v.into()));
            }
            parsed
        })
        .collect::<Vec<_>>();
    let has_intents = t.get("intents").is_some();
    let count = |v: Option<At<u64>>, default: usize| {
        v.map_or(default, |v| usize::try_from(v.v).unwrap_or(usize::MAX))
    };
    let settings = SpikeSettings {
        enabled,
        bucket: bucket_len.max(Duration::seconds(1)),
        window_buckets,
        half_life: t
            .duration(sink, "half_life", true)
            .map_or(d.half_life, |v| v.v),
        sensitivity: sensitivity.map_or(d.sensitivity, |s| s.v),
        min_count: t.uint(sink, "min_count").map_or(d.min_count, |v| v.v),
        cooldown: t
            .duration(sink, "cooldown", true)
            .map_or(d.cooldown, |v| v.v),
        intents: if has_intents { intents } else { d.intents },
        watchlists: Vec::new(),
        ignore_lists: Vec::new(),
        samples: count(t.uint(sink, "samples"), d.samples),
        top_terms: count(t.uint(sink, "top_terms"), d.top_terms),
    };
    let watchlists = t.strs(sink, "watchlists");
    let ignore = t.strs(sink, "ignore_lists");
    t.finish(sink);
    (settings, watchlists, ignore)
}

/// Second pass: ids, references, cross-rule warnings.
fn resolve(sink: &mut Sink<'_>, raw: Raw<'_>, known: Option<&[&str]>) -> Option<RouteConfig> {
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
        global(sink, RouteError::NoRules);
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
