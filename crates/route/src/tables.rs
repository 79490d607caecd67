//! The router's read-only tables (configuration, compiled rules, precomputed sentences) and
//! how a ticket record is assembled from them.
//!
//! Kept apart from the mutable state so the router can build a ticket from an entry of the
//! folding table while that entry is borrowed, without copying it. Every sentence that does
//! not depend on the post is computed once, when the router is built.

use foldhash::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Utc};
use earshot_model::{
    Priority, ReasonKind, ScoredPost, Ticket, TicketAnalysis, TicketReason, TicketSla,
    TICKET_SCHEMA_VERSION,
};

use crate::calendar::Calendar;
use crate::config::RouteConfig;
use crate::folding::OpenTicket;
use crate::intern::Interner;
use crate::matcher::{index_of, CompiledRule, NONE};

/// Precomputed sentences for ticket reasons.
#[derive(Debug, Clone)]
pub(crate) struct RuleText {
    pub matched: Arc<str>,
    pub priority: Arc<str>,
    pub modifier: Arc<str>,
}

/// A post to put into a ticket: borrowed (cloned into the ticket) or owned (moved in).
#[derive(Debug)]
pub(crate) enum PostData<'a> {
    Borrowed(&'a ScoredPost),
    Owned(Box<ScoredPost>),
}

/// The configuration in the shape routing uses: rules compiled, names as small indices,
/// sentences written once.
///
/// Open tickets refer to rules, queues, teams and tags by index into these tables. The
/// tables of the configuration in force are the first entries; an open ticket whose rule or
/// queue is no longer configured (a reload removed it, or restored state names it) gets an
/// entry appended ("retired"), so that it goes on being revised until it expires.
#[derive(Debug)]
pub(crate) struct Tables {
    pub config: RouteConfig,
    /// Compiled rules of the configuration, in order (no retired ones: they never match).
    pub rules: Vec<CompiledRule>,
    /// Per rule index (retired ones after the configured): its id and sentences.
    pub rule_ids: Vec<Arc<str>>,
    pub texts: Vec<RuleText>,
    /// Per queue index (retired ones after the configured).
    pub queue_ids: Vec<Arc<str>>,
    /// Per queue: its calendar's id and time zone name.
    pub calendars: Vec<(Arc<str>, Arc<str>)>,
    pub sla_texts: Vec<[Option<Arc<str>>; 4]>,
    /// Per queue: the response target of each priority and the calendar it counts in.
    pub queue_sla: Vec<[Option<Duration>; 4]>,
    pub queue_calendars: Vec<Option<Calendar>>,
    pub queue_teams: Vec<u16>,
    pub tags: Vec<Arc<str>>,
    pub teams: Vec<Arc<str>>,
    /// Name → index, for restoring and translating open tickets.
    names: Names,
}

#[derive(Debug, Default)]
struct Names {
    rules: HashMap<Arc<str>, u16>,
    queues: HashMap<Arc<str>, u16>,
    tags: HashMap<Arc<str>, u16>,
    teams: HashMap<Arc<str>, u16>,
}

fn index(names: &[Arc<str>]) -> HashMap<Arc<str>, u16> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), u16::try_from(i).unwrap_or(NONE)))
        .collect()
}

impl Tables {
    pub fn new(config: RouteConfig, watchlists: &mut Interner) -> Tables {
        // Tag ids in alphabetical order, so sorting ids sorts the names tickets carry.
        let mut tags: Vec<String> = config
            .rules
            .iter()
            .flat_map(|r| r.then.tags.iter().cloned())
            .collect();
        tags.sort();
        tags.dedup();
        let mut teams = Vec::new();
        let queue_index = |id: &str| {
            config
                .queues
                .iter()
                .position(|q| q.id == id)
                .and_then(|i| u16::try_from(i).ok())
        };
        let rules = config
            .rules
            .iter()
            .map(|r| {
                let queue = r.then.queue.as_deref().and_then(queue_index);
                CompiledRule::new(r, queue, watchlists, &config.lists, &mut tags, &mut teams)
            })
            .collect();
        let texts = config.rules.iter().map(rule_text).collect();
        let queue_teams = config
            .queues
            .iter()
            .map(|q| q.team.as_deref().map_or(NONE, |t| index_of(&mut teams, t)))
            .collect();
        let sla_texts = config
            .queues
            .iter()
            .map(|q| {
                let cal = &config.calendars[q.calendar];
                let kind = if cal.is_always_open() { "around the clock" } else { "of business time" };
                Priority::ALL.map(|p| {
                    q.sla[p.index()].map(|d| {
                        let text = format!(
                            "{p} in queue `{}`: first response within {} {kind} (calendar `{}`, {})",
                            q.id,
                            human(d),
                            cal.id(),
                            cal.time_zone().name()
                        );
                        Arc::from(text)
                    })
                })
            })
            .collect();
        let calendars = config
            .queues
            .iter()
            .map(|q| {
                let cal = &config.calendars[q.calendar];
                (Arc::from(cal.id()), Arc::from(cal.time_zone().name()))
            })
            .collect();
        let arcs = |v: Vec<String>| -> Vec<Arc<str>> { v.into_iter().map(Arc::from).collect() };
        let rule_ids: Vec<Arc<str>> = config
            .rules
            .iter()
            .map(|r| Arc::from(r.id.as_str()))
            .collect();
        let queue_ids: Vec<Arc<str>> = config
            .queues
            .iter()
            .map(|q| Arc::from(q.id.as_str()))
            .collect();
        let (tags, teams) = (arcs(tags), arcs(teams));
        Tables {
            names: Names {
                rules: index(&rule_ids),
                queues: index(&queue_ids),
                tags: index(&tags),
                teams: index(&teams),
            },
            rules,
            rule_ids,
            texts,
            queue_sla: config.queues.iter().map(|q| q.sla).collect(),
            queue_calendars: config
                .queues
                .iter()
                .map(|q| config.calendars.get(q.calendar).cloned())
                .collect(),
            queue_ids,
            calendars,
            sla_texts,
            tags,
            teams,
            queue_teams,
            config,
        }
    }

    /// The index of rule `id`; a rule not configured is retired: an entry of its own, with
    /// its sentences from `old` when it was configured there.
    pub fn rule_index(&mut self, id: &str, old: Option<&Tables>) -> u16 {
        if let Some(&i) = self.names.rules.get(id) {
            return i;
        }
        let index = u16::try_from(self.rule_ids.len()).unwrap_or(NONE);
        let id: Arc<str> = Arc::from(id);
        let text = old
            .and_then(|old| {
                old.names
                    .rules
                    .get(&id)
                    .map(|&i| old.texts[i as usize].clone())
            })
            .unwrap_or_else(|| retired_rule_text(&id));
        self.rule_ids.push(id.clone());
        self.texts.push(text);
        self.names.rules.insert(id, index);
        index
    }

    /// The index of queue `id`; a queue not configured is retired, with its targets and
    /// calendar from `old` when it was configured there (else none: no due time).
    pub fn queue_index(&mut self, id: &str, old: Option<&Tables>) -> u16 {
        if let Some(&i) = self.names.queues.get(id) {
            return i;
        }
        let index = u16::try_from(self.queue_ids.len()).unwrap_or(NONE);
        let id: Arc<str> = Arc::from(id);
        let from = old.and_then(|old| old.names.queues.get(&id).map(|&i| (old, i as usize)));
        match from {
            Some((old, i)) => {
                self.calendars.push(old.calendars[i].clone());
                self.sla_texts.push(old.sla_texts[i].clone());
                self.queue_sla.push(old.queue_sla[i]);
                self.queue_calendars.push(old.queue_calendars[i].clone());
                let team = old.teams.get(old.queue_teams[i] as usize).cloned();
                let team = team.map_or(NONE, |t| self.team_index(&t));
                self.queue_teams.push(team);
            }
            None => {
                self.calendars
                    .push((Arc::from("retired"), Arc::from("UTC")));
                self.sla_texts.push([None, None, None, None]);
                self.queue_sla.push([None; 4]);
                self.queue_calendars.push(None);
                self.queue_teams.push(NONE);
            }
        }
        self.queue_ids.push(id.clone());
        self.names.queues.insert(id, index);
        index
    }

    /// The index of team `name`, added when new.
    pub fn team_index(&mut self, name: &str) -> u16 {
        if let Some(&i) = self.names.teams.get(name) {
            return i;
        }
        let index = u16::try_from(self.teams.len()).unwrap_or(NONE);
        let name: Arc<str> = Arc::from(name);
        self.teams.push(name.clone());
        self.names.teams.insert(name, index);
        index
    }

    /// The index of tag `name`, added when new.
    pub fn tag_index(&mut self, name: &str) -> u16 {
        if let Some(&i) = self.names.tags.get(name) {
            return i;
        }
        let index = u16::try_from(self.tags.len()).unwrap_or(NONE);
        let name: Arc<str> = Arc::from(name);
        self.tags.push(name.clone());
        self.names.tags.insert(name, index);
        index
    }

    pub fn rule_id(&self, rule: u16) -> &Arc<str> {
        &self.rule_ids[rule as usize]
    }

    /// Due time of a `priority` ticket in `queue` whose clock starts at `now`.
    pub fn due_at(
        &self,
        queue: u16,
        priority: Priority,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let target = self.queue_sla.get(queue as usize)?[priority.index()]?;
        self.queue_calendars
            .get(queue as usize)?
            .as_ref()?
            .add_business_time(now, target)
            // RFC 3339 has four-digit years: a clock at the end of time gets no due time
            // rather than `+10000-01-01T…`.
            .filter(|due| due.year() <= 9999)
    }

    /// A reason naming a rule, with a precomputed sentence.
    pub fn reason(&self, kind: ReasonKind, rule: u16, detail: &Arc<str>) -> TicketReason {
        TicketReason {
            kind,
            rule_id: Some(self.rule_id(rule).clone()),
            detail: detail.clone(),
        }
    }

    /// The ticket record of an open ticket's current revision.
    pub fn build(
        &self,
        post: PostData<'_>,
        now: DateTime<Utc>,
        open: &OpenTicket,
        conversation_key: String,
        mut reasons: Vec<TicketReason>,
    ) -> Ticket {
        let (calendar, time_zone) = &self.calendars[open.queue as usize];
        let sla = self.queue_sla[open.queue as usize][open.priority.index()].map(|d| TicketSla {
            target_seconds: u64::try_from(d.num_seconds()).unwrap_or(0),
            calendar: calendar.clone(),
            time_zone: time_zone.clone(),
            started_at: open.sla_started,
        });
        if let Some(text) = &self.sla_texts[open.queue as usize][open.priority.index()] {
            reasons.push(TicketReason {
                kind: ReasonKind::Sla,
                rule_id: None,
                detail: text.clone(),
            });
        }
        if let Some(id) = &open.incident {
            let detail = format!("part of open incident {id}");
            reasons.push(TicketReason {
                kind: ReasonKind::Incident,
                rule_id: None,
                detail: detail.into(),
            });
        }
        let (post, analysis) = match post {
            PostData::Borrowed(p) => (p.post.clone(), TicketAnalysis::from_analysis(&p.analysis)),
            PostData::Owned(p) => {
                let p = *p;
                let a = p.analysis;
                let analysis = TicketAnalysis {
                    lang: a.lang,
                    sentiment: a.sentiment,
                    intents: a.intents,
                    urgency: a.urgency,
                    influence: a.influence,
                    watch: a.watch,
                    flags: a.flags,
                };
                (p.post, analysis)
            }
        };
        Ticket {
            schema_version: TICKET_SCHEMA_VERSION,
            ticket_id: hex_id("tkt_", open.ticket_id),
            revision: open.revision,
            created_at: open.created_at,
            updated_at: now,
            queue: self.queue_ids[open.queue as usize].clone(),
            priority: open.priority,
            tags: open
                .tags
                .iter()
                .map(|t| self.tags[t as usize].clone())
                .collect(),
            team: self.teams.get(open.team as usize).cloned(),
            due_at: open.due_at,
            sla,
            rule_id: self.rule_id(open.rule).clone(),
            conversation_id: post.conversation_id.clone().filter(|c| !c.is_empty()),
            conversation_key,
            incident_id: open.incident.as_deref().map(str::to_string),
            post,
            post_ids: open.post_ids().map(str::to_string).collect(),
            post_count: open.post_count,
            analysis,
            reasons,
        }
    }
}

/// `prefix` and 16 lower-case hex digits, without the formatting machinery.
pub(crate) fn hex_id(prefix: &str, h: u64) -> String {
    let mut s = String::with_capacity(prefix.len() + 16);
    s.push_str(prefix);
    push_hex(&mut s, h);
    s
}

/// Appends `h` as 16 lower-case hex digits.
pub(crate) fn push_hex(s: &mut String, h: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..16).rev() {
        s.push(char::from(HEX[((h >> (i * 4)) & 0xf) as usize]));
    }
}

/// `platform:c:<conversation id>`, else `platform:a:<author id>:<first watchlist>`, else
/// `platform:p:<post id>`.
pub(crate) fn conversation_key(post: &ScoredPost) -> String {
    let (platform, kind, a, b) = key_parts(post);
    let mut key =
        String::with_capacity(platform.len() + 4 + a.len() + b.map_or(0, |b| b.len() + 1));
    key.push_str(platform);
    key.push_str(kind);
    key.push_str(a);
    if let Some(b) = b {
        key.push(':');
        key.push_str(b);
    }
    key
}

/// `ids::hash128(&["fold/v1", &conversation_key(post)])` without building the key: the
/// folding state's key, computed once per post (every post looks itself up, to recognise a
/// redelivery).
pub(crate) fn folding_key(post: &ScoredPost) -> u128 {
    match key_parts(post) {
        (platform, kind, a, Some(b)) => {
            crate::ids::hash128_joined("fold/v1", &[platform, kind, a, ":", b])
        }
        (platform, kind, a, None) => crate::ids::hash128_joined("fold/v1", &[platform, kind, a]),
    }
}

/// The conversation key's parts: platform, kind (`:c:`, `:a:`, `:p:`), id, and the first
/// watchlist for author keys.
fn key_parts(post: &ScoredPost) -> (&str, &'static str, &str, Option<&str>) {
    let p = &post.post;
    let (kind, a, b) = match (&p.conversation_id, p.author.id.as_str()) {
        (Some(c), _) if !c.is_empty() => (":c:", c.as_str(), None),
        (_, a) if !a.is_empty() => (
            ":a:",
            a,
            Some(post.analysis.watch.first().map_or("", |w| w.id.as_str())),
        ),
        _ => (":p:", p.id.as_str(), None),
    };
    (&p.platform, kind, a, b)
}

fn rule_text(rule: &crate::Rule) -> RuleText {
    let at = format!("{}:{}", rule.file, rule.line);
    let matched = format!(
        "rule `{}` ({at}) matched: {}",
        rule.id,
        rule.when.describe()
    );
    let priority = match rule.then.priority {
        Some(p) => format!("{p} set by rule `{}`", rule.id),
        None => String::new(),
    };
    let mut parts = Vec::new();
    if !rule.then.tags.is_empty() {
        parts.push(format!("tags {}", rule.then.tags.join(", ")));
    }
    if let Some(team) = &rule.then.team {
        parts.push(format!("team {team}"));
    }
    if let Some(p) = rule.then.priority {
        parts.push(format!("priority at least {p}"));
    }
    let modifier = format!(
        "rule `{}` ({at}) matched: {}; adds {}",
        rule.id,
        rule.when.describe(),
        parts.join("; ")
    );
    RuleText {
        matched: matched.into(),
        priority: priority.into(),
        modifier: modifier.into(),
    }
}

/// The sentences of a rule no longer configured.
fn retired_rule_text(id: &str) -> RuleText {
    RuleText {
        matched: Arc::from(format!("rule `{id}` (no longer configured) matched")),
        priority: Arc::from(format!(
            "priority set by rule `{id}` (no longer configured)"
        )),
        modifier: Arc::from(format!("rule `{id}` (no longer configured) matched")),
    }
}

/// `1h30m`-style text for a duration.
fn human(d: chrono::Duration) -> String {
    let s = d.num_seconds();
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folding_key_is_the_hash_of_the_conversation_key() {
        use earshot_model::{Analysis, Post, WatchMatch};
        let mut post = ScoredPost {
            post: Post {
                id: "p1".into(),
                platform: "line".into(),
                text: "t".into(),
                ..Post::default()
            },
            analysis: Analysis {
                watch: vec![WatchMatch {
                    id: "hoshizora".into(),
                    terms: vec![],
                }],
                ..Analysis::default()
            },
        };
        let check = |post: &ScoredPost| {
            let key = conversation_key(post);
            assert_eq!(
                folding_key(post),
                crate::ids::hash128(&["fold/v1", &key]),
                "{key}"
            );
        };
        check(&post);
        post.post.author.id = "U1".into();
        check(&post);
        post.post.conversation_id = Some("line:user:U1".into());
        check(&post);
    }

    #[test]
    fn hex_ids_match_the_formatter() {
        for h in [0, 1, 0xdead_beef, u64::MAX] {
            assert_eq!(hex_id("tkt_", h), format!("tkt_{h:016x}"));
        }
    }
}
