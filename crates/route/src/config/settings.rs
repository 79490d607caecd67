//! Reading the settings sections: calendars, holiday lists, `[folding]` and `[spike]`.

use chrono::{Duration, NaiveDate, Weekday};
use chrono_tz::Tz;
use earshot_model::Intent;

use super::raw::{id, Hours, RawCalendar, RawSpike};
use super::{FoldingSettings, SpikeSettings};
use crate::error::RouteError;
use crate::load::{parse_date, parse_hours, parse_month_day, At, Sink, Table};

pub(super) fn calendar<'a>(sink: &mut Sink<'_>, mut t: Table<'a>) -> Option<RawCalendar<'a>> {
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

pub(super) fn holiday_list<'a>(
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

pub(super) fn folding(sink: &mut Sink<'_>, mut t: Table<'_>) -> FoldingSettings {
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

pub(super) fn spike<'a>(sink: &mut Sink<'_>, mut t: Table<'a>) -> RawSpike<'a> {
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
