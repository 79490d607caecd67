//! The router: a state machine fed scored posts and the clock, emitting tickets, incidents
//! and unrouted records.
//!
//! Per post: move the clock (closing spike buckets, expiring folding state), count the post
//! for spike detection (which may open an incident), try the rules in order, and for each
//! queue rule that matches open a ticket or fold the post into its conversation's open one.
//! Nothing here reads a clock, a file or the network; the caller passes `now` (the post's
//! `created_at` in a replay, the wall clock in the live pipeline).

use chrono::{DateTime, Utc};
use earshot_model::{Incident, Priority, ReasonKind, ScoredPost, TicketReason};

use crate::config::RouteConfig;
use crate::counts::SpikeCounts;
use crate::folding::{Folding, FoldingStats, OpenTicket, TagSet};
use crate::ids;
use crate::intern::Interner;
use crate::load::ConfigFile;
use crate::matcher::{flag_mask, intent_mask, probabilities, CompiledRule, Facts, Kind, NONE};
use crate::output::{RouteOutput, Unrouted};
use crate::spike::Detector;
use crate::tables::{conversation_key, folding_key, PostData, Tables};
use crate::{Diagnostics, Loaded};

mod state;

/// Watchlists the router tracks at most; posts naming more are routed but not counted.
const MAX_WATCHLISTS: usize = 4096;

/// A part of the router's state that moves as one between replicas: one partition of the
/// route stage's input topic. Posts of one conversation always come through one shard (the
/// input is keyed by conversation), so each conversation's state lives in one. Offline
/// routing uses shard 0 for everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard(pub u32);

/// Counters since the router was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouterStats {
    pub posts: u64,
    pub tickets_opened: u64,
    pub tickets_updated: u64,
    pub unrouted: u64,
    pub suppressed: u64,
    /// Posts a `fold_into_incident` rule counted into an incident instead of a ticket.
    pub folded_into_incidents: u64,
    /// Redelivered posts already folded into their open ticket, ignored.
    pub duplicates: u64,
    pub incidents_opened: u64,
    pub incidents_closed: u64,
    pub folding: FoldingStats,
}

/// One queue rule that matched, with the modifiers before it.
#[derive(Debug, Clone, Copy)]
struct Step {
    rule: u16,
    queue: u16,
    fold_into_incident: bool,
    priority: Priority,
    team: u16,
    /// How many entries of `modifiers` apply.
    modifiers: usize,
}

/// The route stage's state machine. See the crate docs for an example.
#[derive(Debug)]
pub struct Router {
    t: Tables,
    watchlists: Interner,
    watch_words: usize,
    needs_authors: bool,
    folding: Folding,
    detector: Detector,
    watermark: Option<DateTime<Utc>>,
    stats: RouterStats,
    // Scratch buffers reused per post, so routing allocates only what it emits.
    post_watch: Vec<u64>,
    post_wls: Vec<u32>,
    steps: Vec<Step>,
    modifiers: Vec<u16>,
    tag_buf: Vec<u16>,
    incidents: Vec<Incident>,
    /// The shards this router owns, once it keeps state per shard (`None`: it routes
    /// everything as shard 0, offline).
    owned: Option<Vec<Shard>>,
}

impl Router {
    /// Builds a router from a loaded configuration.
    pub fn new(config: RouteConfig) -> Router {
        let mut watchlists = Interner::new(MAX_WATCHLISTS);
        let t = Tables::new(config, &mut watchlists);
        let c = &t.config;
        let ignore = c
            .spike
            .ignore_lists
            .iter()
            .filter_map(|l| c.lists.index_of(l))
            .fold(0, |m, i| m | 1 << i);
        Router {
            needs_authors: ignore != 0 || t.rules.iter().any(CompiledRule::needs_authors),
            watch_words: watchlists.len().div_ceil(64),
            watchlists,
            folding: Folding::new(&c.folding),
            detector: Detector::new(c.spike.clone(), "route-0", ignore),
            watermark: None,
            stats: RouterStats::default(),
            post_watch: Vec::new(),
            post_wls: Vec::new(),
            steps: Vec::new(),
            modifiers: Vec::new(),
            tag_buf: Vec::new(),
            incidents: Vec::new(),
            owned: None,
            t,
        }
    }

    /// Loads `files` and builds a router: the warnings with it, or every problem.
    pub fn from_files(
        files: &[ConfigFile<'_>],
        known_watchlists: Option<&[&str]>,
    ) -> Result<(Router, Diagnostics), Diagnostics> {
        let Loaded { config, warnings } = RouteConfig::load(files, known_watchlists)?;
        Ok((Router::new(config), warnings))
    }

    pub fn config(&self) -> &RouteConfig {
        &self.t.config
    }

    /// Names this replica in the spike counts it exports (default `route-0`). Each replica
    /// of a deployment needs its own, stable across restarts (e.g. the pod name).
    pub fn set_replica_id(&mut self, id: &str) {
        self.detector.set_replica(id);
    }

    pub fn stats(&self) -> RouterStats {
        RouterStats {
            incidents_opened: self.detector.opened,
            incidents_closed: self.detector.closed,
            folding: self.folding.stats(),
            ..self.stats
        }
    }

    /// Posts a `suppress` rule dropped since the router was built: cheap, unlike
    /// [`Router::stats`], for a caller counting per post.
    pub fn suppressed(&self) -> u64 {
        self.stats.suppressed
    }

    /// Routes one post at time `now`.
    pub fn route(&mut self, post: &ScoredPost, now: DateTime<Utc>) -> Vec<RouteOutput> {
        let mut out = Vec::new();
        self.route_into(post, now, &mut out);
        out
    }

    /// [`Router::route`] appending to a caller's buffer.
    pub fn route_into(
        &mut self,
        post: &ScoredPost,
        now: DateTime<Utc>,
        out: &mut Vec<RouteOutput>,
    ) {
        self.route_post(Shard::default(), PostData::Borrowed(post), now, out);
    }

    /// [`Router::route_into`] taking the post by value: it moves into the (last) ticket or
    /// unrouted record instead of being copied. What a pipeline that just decoded the post
    /// should call.
    pub fn route_owned_into(
        &mut self,
        post: ScoredPost,
        now: DateTime<Utc>,
        out: &mut Vec<RouteOutput>,
    ) {
        self.route_post(Shard::default(), PostData::Owned(Box::new(post)), now, out);
    }

    /// [`Router::route_owned_into`] for a post of input partition `shard`.
    pub fn route_owned_in(
        &mut self,
        shard: Shard,
        post: ScoredPost,
        now: DateTime<Utc>,
        out: &mut Vec<RouteOutput>,
    ) {
        self.route_post(shard, PostData::Owned(Box::new(post)), now, out);
    }

    /// Moves the clock without a post: closes incidents whose volume is back to normal and
    /// expires folding state. Call it every few seconds in a live pipeline.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<RouteOutput> {
        let mut out = Vec::new();
        self.advance(now, &mut out);
        out
    }

    /// This replica's spike counts for the current window, to publish to the others.
    pub fn spike_counts(&self) -> SpikeCounts {
        self.detector.export(&self.watchlists)
    }

    /// Merges spike counts published by other replicas; may open incidents. `None` when
    /// their bucket length differs from this router's (a configuration mismatch).
    pub fn merge_spike_counts(
        &mut self,
        counts: &SpikeCounts,
        now: DateTime<Utc>,
    ) -> Option<Vec<RouteOutput>> {
        let mut out = Vec::new();
        self.advance(now, &mut out);
        let secs = self.watermark.unwrap_or(now).timestamp();
        let merged = self
            .detector
            .merge(counts, &mut self.watchlists, secs, &mut self.incidents);
        out.extend(
            self.incidents
                .drain(..)
                .map(|i| RouteOutput::Incident(Box::new(i))),
        );
        merged.then_some(out)
    }

    fn advance(&mut self, now: DateTime<Utc>, out: &mut Vec<RouteOutput>) {
        let wm = self.watermark.map_or(now, |w| w.max(now));
        self.watermark = Some(wm);
        self.detector
            .advance(wm.timestamp(), &self.watchlists, &mut self.incidents);
        out.extend(
            self.incidents
                .drain(..)
                .map(|i| RouteOutput::Incident(Box::new(i))),
        );
        self.folding.expire(wm);
    }

    fn route_post(
        &mut self,
        shard: Shard,
        data: PostData<'_>,
        now: DateTime<Utc>,
        out: &mut Vec<RouteOutput>,
    ) {
        self.advance(now, out);
        self.stats.posts += 1;
        let post = match &data {
            PostData::Borrowed(p) => *p,
            PostData::Owned(p) => p,
        };
        let fold_key = folding_key(post);
        if self.already_folded(post, fold_key) {
            // A redelivery (platform retry, stream overlap, at-least-once replay): no ticket,
            // no revision, and not counted again towards a spike.
            self.stats.duplicates += 1;
            return;
        }
        // A post counted towards a spike already (delivered again) is not noted on an
        // incident again either.
        let (authors, repeat) = self.count(shard, post, now, out);
        let incident = if self.detector.has_open() {
            self.detector
                .open_incident(&self.post_wls, &post.analysis.intents)
                .map(|(k, id)| (k, id.to_string()))
        } else {
            None
        };
        let (suppressed, modifiers_only) = self.match_rules(post, authors, incident.is_some());

        if self.steps.is_empty() {
            if suppressed {
                self.stats.suppressed += 1;
            } else if let Some(ticket) = self.fold_follow_up(&data, fold_key, now) {
                out.push(ticket);
            } else {
                self.stats.unrouted += 1;
                let incident_id = incident.map(|(_, id)| id);
                out.push(unrouted(data, now, modifiers_only, incident_id));
            }
            return;
        }
        let conversation = conversation_key(post);
        let mut data = Some(data);
        for n in 0..self.steps.len() {
            let step = self.steps[n];
            if let (true, Some((key, _))) = (step.fold_into_incident, &incident) {
                if !repeat {
                    self.detector.note(*key, true);
                }
                self.stats.folded_into_incidents += 1;
                continue;
            }
            let Some(post) = data.as_ref().map(|d| match d {
                PostData::Borrowed(p) => *p,
                PostData::Owned(p) => p,
            }) else {
                break;
            };
            let incident_id = incident.as_ref().map(|(_, id)| id.as_str());
            let Some((key, reasons)) = self.fold(
                (shard, post),
                now,
                step,
                n == 0,
                (&conversation, fold_key),
                incident_id,
            ) else {
                continue;
            };
            // The last ticket takes the post itself; earlier ones (fan-out) copy it.
            let payload = if n + 1 == self.steps.len() {
                data.take()
            } else {
                data.as_ref().map(|d| match d {
                    PostData::Borrowed(p) => PostData::Borrowed(p),
                    PostData::Owned(p) => PostData::Borrowed(p),
                })
            };
            let (Some(payload), Some(open)) = (payload, self.folding.peek(key)) else {
                continue;
            };
            let ticket = self
                .t
                .build(payload, now, open, conversation.clone(), reasons);
            if let (false, Some((key, _))) = (repeat, &incident) {
                self.detector.note(*key, false);
            }
            out.push(RouteOutput::Ticket(Box::new(ticket)));
        }
    }

    /// Whether the post's conversation has an open ticket that already holds this post.
    fn already_folded(&self, post: &ScoredPost, key: u128) -> bool {
        self.folding
            .peek(key)
            .is_some_and(|open| open.has_post(&post.post.id))
    }

    /// A reply that no rule takes (「まだ繋がらない」 names no product) still belongs to its
    /// conversation: when the conversation has an open ticket, the post becomes its next
    /// revision instead of an unrouted record. Only posts with a conversation id qualify; the
    /// author fallback key is per watchlist, which such a post does not have.
    fn fold_follow_up(
        &mut self,
        data: &PostData<'_>,
        key: u128,
        now: DateTime<Utc>,
    ) -> Option<RouteOutput> {
        let post = match data {
            PostData::Borrowed(p) => *p,
            PostData::Owned(p) => p,
        };
        if post
            .post
            .conversation_id
            .as_deref()
            .is_none_or(str::is_empty)
        {
            return None;
        }
        let wm = self.watermark.unwrap_or(now);
        let open = self.folding.get_mut(key, wm)?;
        if open.has_post(&post.post.id) {
            self.stats.duplicates += 1;
            return None;
        }
        open.revision += 1;
        open.post_count += 1;
        open.push_post(&post.post.id, self.t.config.folding.max_post_ids);
        let opener = open.rule;
        let detail = format!(
            "follow-up post {} in the conversation folded into the ticket rule `{}` opened (revision {}); no rule matched it on its own",
            post.post.id,
            self.t.rule_id(opener),
            open.revision
        );
        let reasons = vec![
            TicketReason {
                kind: ReasonKind::Fold,
                rule_id: None,
                detail: detail.into(),
            },
            self.t.reason(
                ReasonKind::Priority,
                opener,
                &self.t.texts[opener as usize].priority,
            ),
        ];
        self.stats.tickets_updated += 1;
        self.folding.touch(key, wm);
        let open = self.folding.peek(key)?;
        let payload = match data {
            PostData::Borrowed(p) => PostData::Borrowed(p),
            PostData::Owned(p) => PostData::Borrowed(p),
        };
        let ticket = self
            .t
            .build(payload, now, open, conversation_key(post), reasons);
        Some(RouteOutput::Ticket(Box::new(ticket)))
    }

    /// Interns the post's watchlists and counts it for spike detection; returns the author
    /// lists bit mask and whether the shard had counted the post already.
    fn count(
        &mut self,
        shard: Shard,
        post: &ScoredPost,
        now: DateTime<Utc>,
        out: &mut Vec<RouteOutput>,
    ) -> (u64, bool) {
        self.post_watch.clear();
        self.post_watch.resize(self.watch_words, 0);
        self.post_wls.clear();
        for w in &post.analysis.watch {
            let id = self.watchlists.intern(&w.id).unwrap_or(u32::MAX);
            if let Some(word) = self.post_watch.get_mut(id as usize / 64) {
                *word |= 1 << (id % 64);
            }
            self.post_wls.push(id);
        }
        let p = &post.post;
        let authors = if self.needs_authors {
            self.t
                .config
                .lists
                .lists_of(&p.platform, &p.author.id, &p.author.handle)
        } else {
            0
        };
        let secs = now.timestamp();
        let repeat = self.detector.observe(
            shard,
            post,
            &self.post_wls,
            authors,
            secs,
            &self.watchlists,
            &mut self.incidents,
        );
        out.extend(
            self.incidents
                .drain(..)
                .map(|i| RouteOutput::Incident(Box::new(i))),
        );
        (authors, repeat)
    }

    /// Tries the rules in order, filling `steps` and `modifiers`. Returns whether a
    /// suppressing rule ended matching and whether only modifiers matched.
    fn match_rules(&mut self, post: &ScoredPost, authors: u64, in_incident: bool) -> (bool, bool) {
        let a = &post.analysis;
        let facts = Facts {
            watch: &self.post_watch,
            intents: intent_mask(&a.intents),
            sentiment: a.sentiment.score,
            urgency: a.urgency,
            influence: a.influence,
            platform: &post.post.platform,
            lang: &a.lang,
            authors,
            in_incident,
            flags: flag_mask(&a.flags),
            probabilities: probabilities(a),
        };
        self.steps.clear();
        self.modifiers.clear();
        let (mut floor, mut team, mut suppressed, mut modifiers_only) =
            (None::<Priority>, NONE, false, false);
        for (i, rule) in self.t.rules.iter().enumerate() {
            if !rule.matches(&facts) {
                continue;
            }
            let index = u16::try_from(i).unwrap_or(NONE);
            match rule.kind {
                Kind::Modifier { floor: f } => {
                    modifiers_only = true;
                    self.modifiers.push(index);
                    floor = match (floor, f) {
                        (Some(a), Some(b)) => Some(a.most_urgent(b)),
                        (a, b) => a.or(b),
                    };
                    if rule.team != NONE {
                        team = rule.team;
                    }
                    continue;
                }
                Kind::Suppress => {
                    suppressed = true;
                    break;
                }
                Kind::Route {
                    priority,
                    queue,
                    fold,
                } => {
                    let priority = floor.map_or(priority, |f| f.most_urgent(priority));
                    let teams = [rule.team, team, self.t.queue_teams[queue as usize]];
                    self.steps.push(Step {
                        rule: index,
                        queue,
                        fold_into_incident: fold,
                        priority,
                        team: teams.into_iter().find(|t| *t != NONE).unwrap_or(NONE),
                        modifiers: self.modifiers.len(),
                    });
                }
            }
            if !rule.cont {
                break;
            }
        }
        (suppressed, modifiers_only)
    }

    /// Opens a ticket for `step` or folds the post into the conversation's open one.
    /// Returns the folding key and the reasons so far; `None` for a redelivered post.
    fn fold(
        &mut self,
        (shard, post): (Shard, &ScoredPost),
        now: DateTime<Utc>,
        step: Step,
        primary: bool,
        (conversation, conversation_fold_key): (&str, u128),
        incident: Option<&str>,
    ) -> Option<(u128, Vec<TicketReason>)> {
        // The first queue rule folds into the conversation's ticket whatever its queue;
        // fan-out rules (after `continue`) fold per queue.
        let slot = if primary {
            0
        } else {
            u128::from(step.queue) + 1
        };
        let key = conversation_fold_key.wrapping_add(slot);
        let wm = self.watermark.unwrap_or(now);
        let t = &self.t;

        // Tags of the rule and of the modifiers before it, sorted and unique.
        self.tag_buf.clear();
        self.tag_buf
            .extend_from_slice(&t.rules[step.rule as usize].tags);
        for &m in &self.modifiers[..step.modifiers] {
            self.tag_buf.extend_from_slice(&t.rules[m as usize].tags);
        }
        self.tag_buf.sort_unstable();
        self.tag_buf.dedup();

        let mut reasons = Vec::with_capacity(6);
        reasons.push(t.reason(
            ReasonKind::Rule,
            step.rule,
            &t.texts[step.rule as usize].matched,
        ));
        for &m in &self.modifiers[..step.modifiers] {
            reasons.push(t.reason(ReasonKind::Modifier, m, &t.texts[m as usize].modifier));
        }

        let Some(open) = self.folding.get_mut(key, wm) else {
            reasons.push(t.reason(
                ReasonKind::Priority,
                step.rule,
                &t.texts[step.rule as usize].priority,
            ));
            let ticket_id = ids::hash(&[
                "ticket/v1",
                t.rule_id(step.rule),
                conversation,
                &post.post.id,
            ]);
            let mut tags = TagSet::default();
            self.tag_buf.iter().for_each(|&tag| tags.insert(tag));
            let open = OpenTicket::new(
                ticket_id,
                step.priority,
                step.queue,
                step.rule,
                step.team,
                now,
                t.due_at(step.queue, step.priority, now),
                incident.map(Into::into),
                tags,
                &post.post.id,
            );
            self.stats.tickets_opened += 1;
            self.folding.insert(key, shard, open, wm);
            return Some((key, reasons));
        };
        if open.has_post(&post.post.id) {
            self.stats.duplicates += 1;
            return None;
        }
        open.revision += 1;
        open.post_count += 1;
        open.push_post(&post.post.id, t.config.folding.max_post_ids);
        let opener = open.rule;
        let detail = format!(
            "post {} folded into the ticket rule `{}` opened (revision {})",
            post.post.id,
            t.rule_id(opener),
            open.revision
        );
        reasons.push(TicketReason {
            kind: ReasonKind::Fold,
            rule_id: None,
            detail: detail.into(),
        });
        if step.priority < open.priority {
            let detail = format!(
                "priority raised from {} to {} by post {}",
                open.priority, step.priority, post.post.id
            );
            reasons.push(TicketReason {
                kind: ReasonKind::Escalation,
                rule_id: Some(t.rule_id(step.rule).clone()),
                detail: detail.into(),
            });
            open.priority = step.priority;
            let due = t.due_at(open.queue, step.priority, now);
            if due.is_some_and(|d| open.due_at.is_none_or(|old| d < old)) {
                open.due_at = due;
                open.sla_started = now;
            }
        } else {
            reasons.push(t.reason(
                ReasonKind::Priority,
                opener,
                &t.texts[opener as usize].priority,
            ));
        }
        for &tag in &self.tag_buf {
            open.tags.insert(tag);
        }
        if open.incident.is_none() {
            open.incident = incident.map(Into::into);
        }
        self.stats.tickets_updated += 1;
        self.folding.touch(key, wm);
        Some((key, reasons))
    }
}

fn unrouted(
    data: PostData<'_>,
    now: DateTime<Utc>,
    modifiers_only: bool,
    incident_id: Option<String>,
) -> RouteOutput {
    let (code, reason) = if modifiers_only {
        (
            "modifiers_only",
            "only rules without a queue (continue = true) matched; no rule chose a queue",
        )
    } else {
        ("no_rule_matched", "no rule matched this post")
    };
    let scored = match data {
        PostData::Borrowed(p) => p.clone(),
        PostData::Owned(p) => *p,
    };
    RouteOutput::Unrouted(Box::new(Unrouted {
        routed_at: now,
        reason_code: code.into(),
        reason: reason.into(),
        incident_id,
        post: scored.post,
        analysis: scored.analysis,
    }))
}
