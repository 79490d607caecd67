//! Reading each section of the route files: the first of two passes.
//!
//! Every file is read into raw sections ([`Raw`]: values parsed, spans kept); `resolve` then
//! checks ids across files (a rule in `rules.toml` names a queue in `route.toml`). Both
//! passes report into the same sink, so one run lists every problem. Rules and queues are
//! read here, the settings sections in `settings`.

use chrono::Duration;
use earshot_model::{Flag, Intent, Priority};
use toml::Spanned;

use super::raw::{id, Raw, RawQueue, RawRule};
use crate::error::RouteError;
use crate::load::{wrong, At, Sink, Table};
use crate::rules::{Actions, Conditions, Rule, Signal};
use earshot_toml::{self as tree, Node};

const SECTIONS: &str =
    "the top level (sections: rule, queue, calendar, holiday_list, lists, folding, spike)";

/// Parses every file into a tree; a file that is not TOML is reported and left out.
pub(super) fn parse(sink: &mut Sink<'_>) -> Vec<(usize, tree::Document)> {
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
    trees
}

/// Reads every section of every tree, in file order.
pub(super) fn read<'a>(sink: &mut Sink<'_>, trees: &'a [(usize, tree::Document)]) -> Raw<'a> {
    let mut raw = Raw::default();
    for (file, entries) in trees {
        for (key, node) in entries {
            read_section(sink, &mut raw, *file, key, node);
        }
    }
    raw
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
                    "calendar" => raw.calendars.extend(super::settings::calendar(sink, t)),
                    _ => raw
                        .holiday_lists
                        .extend(super::settings::holiday_list(sink, t)),
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
                raw.folding = Some(super::settings::folding(sink, t));
            }
        }
        "spike" => {
            if let Some(t) = single(sink, "spike", raw.spike.is_some()) {
                raw.spike = Some(super::settings::spike(sink, t));
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
    let flags = condition_list(sink, &mut t, "flag")
        .into_iter()
        .filter_map(|f| {
            let parsed = Flag::parse(&f.v.to_ascii_lowercase());
            if parsed.is_none() {
                sink.at(
                    &f,
                    RouteError::BadValue {
                        key: "flag".into(),
                        why: format!("unknown flag `{}` (one of scam, spam)", f.v),
                    },
                );
            }
            parsed
        })
        .collect();
    let min_probability = t
        .table(sink, "min_probability")
        .map(|table| min_probability(sink, table))
        .unwrap_or_default();

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
            flags,
            min_probability,
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

/// `min_probability = { complaint = 0.8, scam = 0.5 }`: signals (intents other than
/// `other`, flags) with a probability in [0, 1].
fn min_probability(sink: &mut Sink<'_>, mut t: Table<'_>) -> Vec<(Signal, f64)> {
    let file = t.file;
    let mut out = Vec::new();
    for (key, node) in t.entries() {
        let Some(signal) = Signal::parse(&key.to_ascii_lowercase()) else {
            sink.report(
                file,
                node.span(),
                RouteError::BadValue {
                    key: "min_probability".into(),
                    why: format!(
                        "unknown signal `{key}` (one of complaint, question, request, outage, praise, scam, spam)"
                    ),
                },
            );
            continue;
        };
        let Some(p) = crate::load::number(sink, file, key, node) else {
            continue;
        };
        if !(0.0..=1.0).contains(&p) {
            sink.report(
                file,
                node.span(),
                RouteError::BadRange(format!(
                    "`min_probability.{key}` is {p} but must be within [0, 1]"
                )),
            );
            continue;
        }
        out.push((signal, p));
    }
    out
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

/// The longest response target: a year of business time.
const MAX_SLA_HOURS: i64 = 8760;

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
                Ok(d) if d > Duration::hours(MAX_SLA_HOURS) => sink.report(
                    t.file,
                    value.span(),
                    RouteError::BadDuration {
                        text: text.clone(),
                        why: "a response target is at most 8760h (a year of business time); due times must stay within the calendar years tickets can carry",
                    },
                ),
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
