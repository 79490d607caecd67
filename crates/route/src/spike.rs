//! Spike detection: per watchlist and intent, posts are counted in time buckets; the sum of
//! the last `window` buckets is compared with a learned baseline, and a spike opens one
//! incident that closes when the volume is back to normal.
//!
//! The baseline is an exponentially weighted mean and mean absolute deviation of the window
//! count, sampled at every bucket boundary (bias-corrected at start: the first samples are
//! plain averages). A window is a spike when its count reaches
//! `max(min_count, mean + sensitivity × max(deviation, √mean, 1))`: the √mean floor is the
//! Poisson noise of a quiet key, so one unlucky minute on a quiet day is not an outage.
//! Steady growth raises the mean and the deviation with it and never crosses the line; a
//! burst does. While an incident is open the baseline is frozen (the spike must not become
//! the new normal); it closes at the first boundary where the window count is back under
//! `mean + max(deviation, √mean, 1)`, or after `max_open` (a lasting change of level is
//! not an incident), and a cooldown stops the same key from reopening at once. Nothing opens
//! during the first window after start, when no baseline exists yet.
//!
//! Counts are kept per shard (a partition of the route stage's input) and merged from other
//! replicas (see [`crate::SpikeCounts`]), so detection runs on the totals of all
//! partitions. A shard's counts move with it: written to the changelog as they change,
//! dropped when the shard is revoked, restored when it is assigned, and published under the
//! shard's label, so the grow-only merge never counts a moved shard twice. What the
//! detector learned (baselines, open incidents, cooldowns) is written to the changelog of
//! every shard the replica owns, and a replica restoring a shard adopts it for a key it knows
//! less about.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};
use earshot_model::{
    Incident, IncidentBaseline, IncidentChange, IncidentStatus, IncidentWindow, Intent, ScoredPost,
    TermCount, INCIDENT_SCHEMA_VERSION,
};

use crate::config::SpikeSettings;
use crate::counts::{CountKey, SpikeCounts};
use crate::intern::Interner;
use crate::router::Shard;
use crate::seen::{post_key, Seen};
use crate::state::{OpenRecord, SpikeRecord};

const INTENTS: usize = Intent::ALL.len();
/// Distinct terms counted per bucket and key; enough for a top-10, bounded for memory.
const MAX_TERMS_PER_BUCKET: usize = 64;
/// Bucket boundaries walked one by one after a gap; beyond, the baseline has decayed to 0.
const MAX_STEPS: i64 = 10_000;
/// An incident open this long closes: the level changed for good.
const MAX_OPEN_SECONDS: i64 = 24 * 3600;

pub(crate) fn intent_index(intent: Intent) -> usize {
    Intent::ALL
        .iter()
        .position(|i| *i == intent)
        .unwrap_or(INTENTS - 1)
}

#[derive(Debug, Clone)]
struct Bucket {
    start: i64,
    /// This replica's counts, per shard it owns (usually one).
    local: Vec<(Shard, u64)>,
    remote: u64,
    terms: Vec<(u32, u32)>,
}

impl Bucket {
    fn new(start: i64) -> Bucket {
        Bucket {
            start,
            local: Vec::new(),
            remote: 0,
            terms: Vec::new(),
        }
    }

    fn local(&self) -> u64 {
        self.local.iter().map(|(_, n)| n).sum()
    }

    fn of(&self, shard: Shard) -> u64 {
        self.local
            .iter()
            .find(|(s, _)| *s == shard)
            .map_or(0, |(_, n)| *n)
    }

    fn set(&mut self, shard: Shard, count: u64) {
        match self.local.iter_mut().find(|(s, _)| *s == shard) {
            Some((_, n)) => *n = count,
            None => self.local.push((shard, count)),
        }
    }
}

/// Keeps a ring of consecutive buckets ending at `current`, and returns the one starting at
/// `start` when it lies in the window (adding the older buckets it needs).
fn bucket_at(
    ring: &mut VecDeque<Bucket>,
    start: i64,
    (current, bucket, k): (i64, i64, usize),
) -> Option<&mut Bucket> {
    let oldest = current - bucket * (k as i64 - 1);
    if start < oldest || start > current || start.rem_euclid(bucket) != 0 {
        return None;
    }
    while ring.front().is_none_or(|b| b.start > start) {
        let before = ring.front().map_or(current, |b| b.start - bucket);
        ring.push_front(Bucket::new(before));
    }
    ring.iter_mut().find(|b| b.start == start)
}

/// What changed since the router last wrote state: shard counts and keys' learned state.
#[derive(Debug, Clone, Default)]
struct Changes {
    counts: Vec<(Shard, usize, i64)>,
    keys: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Open {
    id: String,
    revision: u32,
    opened_at: i64,
    peak: u64,
    total: u64,
    baseline: IncidentBaseline,
    samples: Vec<String>,
    terms: Vec<(u32, u64)>,
    tickets: u64,
    folded: u64,
    last_emitted: (u64, u64, u64, u64),
}

#[derive(Debug, Clone)]
struct KeyState {
    watchlist: u32,
    intent: Intent,
    ring: VecDeque<Bucket>,
    mean: f64,
    dev: f64,
    open: Option<Open>,
    cooldown_until: i64,
    /// The last post ids seen, reused buffers, oldest at `recent_pos`.
    recent: Vec<String>,
    recent_pos: usize,
}

impl KeyState {
    fn window_count(&self) -> u64 {
        self.ring.iter().map(|b| b.local() + b.remote).sum()
    }
}

/// The spike detector of one route replica.
#[derive(Debug, Clone)]
pub(crate) struct Detector {
    s: SpikeSettings,
    alpha: f64,
    bucket: i64,
    k: usize,
    replica: String,
    /// Start of the current bucket (Unix seconds).
    current: Option<i64>,
    /// Bucket boundaries passed since start: the number of baseline samples.
    closes: u64,
    keys: Vec<Option<Box<KeyState>>>,
    /// Per watchlist id: 0 not yet looked at, 1 counted, 2 not counted.
    tracked: Vec<u8>,
    intent_mask: u8,
    ignore_mask: u64,
    terms: Interner,
    remote: SpikeCounts,
    /// Reused per post, so counting allocates nothing in the steady state.
    scratch: Vec<u32>,
    /// Labels of the shards this replica owns, for the counts it publishes; empty when the
    /// router is not sharded (everything is shard 0, published as the replica).
    labels: Vec<(Shard, String)>,
    /// Noted when tracking changes.
    changes: Option<Changes>,
    /// The posts each shard counted in the window: a post delivered again is not recounted.
    seen: Seen,
    pub opened: u64,
    pub closed: u64,
}

impl Detector {
    pub fn new(s: SpikeSettings, replica: &str, ignore_mask: u64) -> Detector {
        let bucket = s.bucket.num_seconds().max(1);
        let half_life = s.half_life.num_seconds().max(1) as f64;
        let alpha = 1.0 - 0.5f64.powf(bucket as f64 / half_life);
        let intent_mask = if s.intents.is_empty() {
            u8::MAX
        } else {
            s.intents.iter().fold(0, |m, i| m | 1 << intent_index(*i))
        };
        Detector {
            alpha,
            bucket,
            k: s.window_buckets.max(1) as usize,
            replica: replica.to_string(),
            current: None,
            closes: 0,
            keys: Vec::new(),
            tracked: Vec::new(),
            intent_mask,
            ignore_mask,
            terms: Interner::new(100_000),
            remote: SpikeCounts::new(Duration::seconds(bucket)),
            scratch: Vec::new(),
            labels: Vec::new(),
            changes: None,
            seen: Seen::default(),
            opened: 0,
            closed: 0,
            s,
        }
    }

    pub fn set_replica(&mut self, replica: &str) {
        self.replica = replica.to_string();
    }

    /// New settings (a reload). A new bucket length or window starts the counts afresh;
    /// baselines and open incidents stay.
    pub fn reconfigure(&mut self, s: SpikeSettings, ignore_mask: u64) {
        let bucket = s.bucket.num_seconds().max(1);
        let half_life = s.half_life.num_seconds().max(1) as f64;
        if bucket != self.bucket || s.window_buckets.max(1) as usize != self.k {
            for state in self.keys.iter_mut().flatten() {
                state.ring.clear();
                if let Some(current) = self.current {
                    state
                        .ring
                        .push_back(Bucket::new(current.div_euclid(bucket) * bucket));
                }
            }
            self.current = self.current.map(|c| c.div_euclid(bucket) * bucket);
            self.remote = SpikeCounts::new(Duration::seconds(bucket));
        }
        self.bucket = bucket;
        self.k = s.window_buckets.max(1) as usize;
        self.alpha = 1.0 - 0.5f64.powf(bucket as f64 / half_life);
        self.intent_mask = if s.intents.is_empty() {
            u8::MAX
        } else {
            s.intents.iter().fold(0, |m, i| m | 1 << intent_index(*i))
        };
        self.ignore_mask = ignore_mask;
        self.tracked.clear();
        self.s = s;
    }

    /// Starts noting changes, for a changelog.
    pub fn track_changes(&mut self) {
        self.changes.get_or_insert_with(Changes::default);
        self.seen.track_changes();
    }

    fn note_count(&mut self, shard: Shard, idx: usize, start: i64) {
        if let Some(changes) = &mut self.changes {
            changes.counts.push((shard, idx, start));
        }
    }

    fn note_key(&mut self, idx: usize) {
        if let Some(changes) = &mut self.changes {
            changes.keys.push(idx);
        }
    }

    /// The label `shard`'s counts are published under.
    fn label(&self, shard: Shard) -> &str {
        self.labels
            .iter()
            .find(|(s, _)| *s == shard)
            .map_or(self.replica.as_str(), |(_, l)| l.as_str())
    }

    /// `shard` is this replica's now, its counts published as `label`.
    pub fn own(&mut self, shard: Shard, label: &str, names: &Interner) {
        self.labels.retain(|(s, _)| *s != shard);
        self.labels.push((shard, label.to_string()));
        self.refresh_remote(names);
    }

    /// `shard` moved away: its counts leave this replica's (the new owner publishes them).
    pub fn disown(&mut self, shard: Shard, names: &Interner) {
        for state in self.keys.iter_mut().flatten() {
            for b in &mut state.ring {
                b.local.retain(|(s, _)| *s != shard);
            }
        }
        self.seen.drop_shard(shard);
        self.labels.retain(|(s, _)| *s != shard);
        self.refresh_remote(names);
    }

    /// The labels this replica's own counts go under.
    fn own_labels(&self) -> Vec<String> {
        if self.labels.is_empty() {
            vec![self.replica.clone()]
        } else {
            self.labels.iter().map(|(_, l)| l.clone()).collect()
        }
    }

    /// The counts of other replicas, by what this one owns now.
    fn refresh_remote(&mut self, names: &Interner) {
        let own = self.own_labels();
        for state in self.keys.iter_mut().flatten() {
            for b in &mut state.ring {
                let key = CountKey {
                    watchlist: names.name(state.watchlist).to_string(),
                    intent: state.intent,
                    bucket_start: to_time(b.start),
                };
                b.remote = self.remote.total_excluding(&key, &own);
            }
        }
    }

    /// The changes since the last call: shard counts as (shard, watchlist, intent, bucket
    /// start, count — 0 when the bucket left the window), and keys' learned state.
    #[allow(clippy::type_complexity)]
    pub fn take_changes(
        &mut self,
        counts: &mut Vec<(Shard, u32, Intent, i64, u64)>,
        keys: &mut Vec<(u32, Intent, SpikeRecord)>,
    ) {
        let Some(changes) = &mut self.changes else {
            return;
        };
        let mut changed = std::mem::take(changes);
        changed.counts.sort_unstable();
        changed.counts.dedup();
        changed.keys.sort_unstable();
        changed.keys.dedup();
        for (shard, idx, start) in changed.counts {
            let Some(state) = self.keys.get(idx).and_then(|s| s.as_deref()) else {
                continue;
            };
            let count = state
                .ring
                .iter()
                .find(|b| b.start == start)
                .map_or(0, |b| b.of(shard));
            counts.push((shard, state.watchlist, state.intent, start, count));
        }
        for idx in changed.keys {
            let Some(state) = self.keys.get(idx).and_then(|s| s.as_deref()) else {
                continue;
            };
            if let Some(record) = self.record(idx) {
                keys.push((state.watchlist, state.intent, record));
            }
        }
    }

    /// What the detector learned about key `idx`, for the changelog.
    fn record(&self, idx: usize) -> Option<SpikeRecord> {
        let state = self.keys.get(idx)?.as_deref()?;
        Some(SpikeRecord {
            v: 1,
            current: self.current.unwrap_or_default(),
            samples: self.closes,
            mean: state.mean,
            deviation: state.dev,
            cooldown_until: state.cooldown_until,
            open: state.open.as_ref().map(|o| OpenRecord {
                id: o.id.clone(),
                revision: o.revision,
                opened_at: o.opened_at,
                peak: o.peak,
                total: o.total,
                baseline: o.baseline,
                samples: o.samples.clone(),
                terms: o
                    .terms
                    .iter()
                    .map(|&(t, n)| (self.terms.name(t).to_string(), n))
                    .collect(),
                tickets: o.tickets,
                folded: o.folded,
                last_emitted: o.last_emitted,
            }),
        })
    }

    /// Takes over what another replica learned about a key from the changelog, unless this
    /// replica has learned as much itself (more baseline samples).
    pub fn restore_key(&mut self, wl: u32, intent: Intent, record: SpikeRecord) {
        if record.current > 0 {
            let current = record.current.div_euclid(self.bucket) * self.bucket;
            self.move_to(current);
        }
        let adopt_samples = record.samples;
        let knows_more = self.closes >= adopt_samples
            && self
                .keys
                .get(wl as usize * INTENTS + intent_index(intent))
                .is_some_and(|s| s.is_some());
        if knows_more {
            return;
        }
        self.closes = self.closes.max(adopt_samples);
        let open = record.open.map(|o| Open {
            terms: o
                .terms
                .iter()
                .filter_map(|(term, n)| self.terms.intern(term).map(|id| (id, *n)))
                .collect(),
            id: o.id,
            revision: o.revision,
            opened_at: o.opened_at,
            peak: o.peak,
            total: o.total,
            baseline: o.baseline,
            samples: o.samples,
            tickets: o.tickets,
            folded: o.folded,
            last_emitted: o.last_emitted,
        });
        let Some(state) = self.state(wl, intent) else {
            return;
        };
        state.mean = record.mean;
        state.dev = record.deviation;
        state.cooldown_until = record.cooldown_until;
        let was_open = state.open.is_some();
        state.open = open;
        match (was_open, state.open.is_some()) {
            (false, true) => self.opened += 1,
            (true, false) => self.closed += 1,
            _ => {}
        }
    }

    /// Puts back a shard's count of one bucket from the changelog.
    pub fn restore_count(&mut self, shard: Shard, wl: u32, intent: Intent, start: i64, count: u64) {
        if self.current.is_none_or(|c| c < start) {
            self.move_to(start.div_euclid(self.bucket) * self.bucket);
        }
        let (bucket, k) = (self.bucket, self.k);
        let Some(current) = self.current else {
            return;
        };
        let Some(state) = self.state(wl, intent) else {
            return;
        };
        if let Some(b) = bucket_at(&mut state.ring, start, (current, bucket, k)) {
            b.set(shard, count);
        }
    }

    /// Moves the current bucket forward to `start` without closing buckets (restoring: the
    /// buckets between were closed by the replica that wrote the state).
    fn move_to(&mut self, start: i64) {
        if self.current.is_some_and(|c| c >= start) {
            return;
        }
        self.current = Some(start);
        let k = self.k;
        for state in self.keys.iter_mut().flatten() {
            if state.ring.back().is_none_or(|b| b.start < start) {
                state.ring.push_back(Bucket::new(start));
            }
            while state.ring.len() > k {
                state.ring.pop_front();
            }
        }
        self.prune_seen();
    }

    fn is_tracked(&mut self, wl: u32, names: &Interner) -> bool {
        let i = wl as usize;
        if self.tracked.len() <= i {
            self.tracked.resize(i + 1, 0);
        }
        if self.tracked[i] == 0 {
            let name = names.name(wl);
            let yes = self.s.watchlists.is_empty() || self.s.watchlists.iter().any(|w| w == name);
            self.tracked[i] = if yes { 1 } else { 2 };
        }
        self.tracked[i] == 1
    }

    fn state(&mut self, wl: u32, intent: Intent) -> Option<&mut KeyState> {
        let idx = wl as usize * INTENTS + intent_index(intent);
        if self.keys.len() <= idx {
            self.keys.resize_with(idx + 1, || None);
        }
        let current = self.current?;
        let samples = self.s.samples;
        let state = self.keys[idx].get_or_insert_with(|| {
            Box::new(KeyState {
                watchlist: wl,
                intent,
                ring: VecDeque::from([Bucket::new(current)]),
                mean: 0.0,
                dev: 0.0,
                open: None,
                cooldown_until: i64::MIN,
                recent: Vec::with_capacity(samples),
                recent_pos: 0,
            })
        });
        Some(state)
    }

    fn threshold(&self, mean: f64, dev: f64) -> f64 {
        (self.s.min_count as f64).max(mean + self.s.sensitivity * dev.max(mean.sqrt()).max(1.0))
    }

    /// Counts a post; may open incidents. Returns `true` for a post `shard` counted in the
    /// window already (delivered again), which changes nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &mut self,
        shard: Shard,
        post: &ScoredPost,
        wls: &[u32],
        authors: u64,
        now: i64,
        names: &Interner,
        out: &mut Vec<Incident>,
    ) -> bool {
        if !self.s.enabled || authors & self.ignore_mask != 0 {
            return false;
        }
        let bucket_start = now.div_euclid(self.bucket) * self.bucket;
        // Hashed only once the post is about to count: most posts never are.
        let mut key = None;
        let mut any_counted = false;
        for (&wl, watch) in wls.iter().zip(&post.analysis.watch) {
            if wl == u32::MAX || !self.is_tracked(wl, names) {
                continue;
            }
            let counted = |i: &&Intent| self.intent_mask & (1 << intent_index(**i)) != 0;
            if !post.analysis.intents.iter().any(|i| counted(&i)) {
                continue;
            }
            let mut term_ids = std::mem::take(&mut self.scratch);
            term_ids.clear();
            term_ids.extend(
                watch
                    .terms
                    .iter()
                    .filter_map(|t| self.terms.intern(&t.term)),
            );
            for &intent in &post.analysis.intents {
                if self.intent_mask & (1 << intent_index(intent)) == 0 {
                    continue;
                }
                if key.is_none() {
                    let k = post_key(&post.post.id);
                    if self.seen.contains(shard, k) {
                        self.scratch = term_ids;
                        return true;
                    }
                    key = Some(k);
                }
                let samples = self.s.samples;
                let Some(state) = self.state(wl, intent) else {
                    continue;
                };
                // Late posts count in their bucket while it is in the window, else not at all.
                let Some(bucket) = state
                    .ring
                    .iter_mut()
                    .rev()
                    .find(|b| b.start == bucket_start)
                else {
                    continue;
                };
                let count = bucket.of(shard) + 1;
                bucket.set(shard, count);
                any_counted = true;
                let start = bucket.start;
                for &t in &term_ids {
                    if let Some((_, n)) = bucket.terms.iter_mut().find(|(id, _)| *id == t) {
                        *n += 1;
                    } else if bucket.terms.len() < MAX_TERMS_PER_BUCKET {
                        bucket.terms.push((t, 1));
                    }
                }
                if samples > 0 {
                    if state.recent.len() < samples {
                        state.recent.push(post.post.id.clone());
                    } else {
                        let slot = &mut state.recent[state.recent_pos];
                        slot.clear();
                        slot.push_str(&post.post.id);
                        state.recent_pos = (state.recent_pos + 1) % samples;
                    }
                }
                let count = state.window_count();
                if let Some(open) = &mut state.open {
                    open.total += 1;
                    open.peak = open.peak.max(count);
                    for &t in &term_ids {
                        match open.terms.iter_mut().find(|(id, _)| *id == t) {
                            Some((_, n)) => *n += 1,
                            None => open.terms.push((t, 1)),
                        }
                    }
                    if open.samples.len() < samples {
                        open.samples.push(post.post.id.clone());
                    }
                }
                let idx = wl as usize * INTENTS + intent_index(intent);
                self.note_count(shard, idx, start);
                if self.keys[idx].as_ref().is_some_and(|s| s.open.is_some()) {
                    self.note_key(idx);
                }
                self.maybe_open(idx, now, names, out);
            }
            self.scratch = term_ids;
        }
        if let (true, Some(key)) = (any_counted, key) {
            self.seen.insert(shard, bucket_start, key);
        }
        false
    }

    fn maybe_open(&mut self, idx: usize, now: i64, names: &Interner, out: &mut Vec<Incident>) {
        if self.closes < self.k as u64 {
            return;
        }
        let Some(state) = self.keys.get(idx).and_then(|s| s.as_deref()) else {
            return;
        };
        let count = state.window_count();
        let threshold = self.threshold(state.mean, state.dev);
        if state.open.is_some() || now < state.cooldown_until || (count as f64) < threshold {
            return;
        }
        let Some(current) = self.current else { return };
        let baseline = IncidentBaseline {
            mean: state.mean,
            deviation: state.dev,
            threshold,
        };
        let id =
            crate::ids::incident_id(names.name(state.watchlist), state.intent.as_str(), current);
        let n = state.recent.len();
        let samples: Vec<String> = (0..n)
            .map(|i| state.recent[(state.recent_pos + i) % n.max(1)].clone())
            .collect();
        let mut terms: Vec<(u32, u64)> = Vec::new();
        for b in &state.ring {
            for &(t, c) in &b.terms {
                match terms.iter_mut().find(|(id, _)| *id == t) {
                    Some((_, n)) => *n += u64::from(c),
                    None => terms.push((t, u64::from(c))),
                }
            }
        }
        let open = Open {
            id,
            revision: 1,
            opened_at: now,
            peak: count,
            total: count,
            baseline,
            samples,
            terms,
            tickets: 0,
            folded: 0,
            last_emitted: (0, 0, 0, 0),
        };
        self.opened += 1;
        self.note_key(idx);
        if let Some(state) = self.keys.get_mut(idx).and_then(|s| s.as_deref_mut()) {
            state.open = Some(open);
            out.extend(self.incident(idx, IncidentChange::Opened, now, names));
        }
    }

    /// Moves the clock to `now`: closes the buckets passed, updating baselines and closing
    /// or updating incidents.
    pub fn advance(&mut self, now: i64, names: &Interner, out: &mut Vec<Incident>) {
        let target = now.div_euclid(self.bucket) * self.bucket;
        let Some(mut current) = self.current else {
            self.current = Some(target);
            return;
        };
        if target <= current {
            return;
        }
        let mut steps = 0;
        while current < target {
            let boundary = current + self.bucket;
            self.close_bucket(boundary, names, out);
            steps += 1;
            let jump = steps >= MAX_STEPS && boundary < target;
            current = if jump { target } else { boundary };
            let mut left = Vec::new();
            for (idx, state) in self.keys.iter_mut().enumerate() {
                let Some(state) = state.as_deref_mut() else {
                    continue;
                };
                if jump {
                    // Skipping ahead: the buckets kept are far outside the new window.
                    left.extend(state.ring.drain(..).map(|b| (idx, b)));
                }
                state.ring.push_back(Bucket::new(current));
                while state.ring.len() > self.k {
                    left.extend(state.ring.pop_front().map(|b| (idx, b)));
                }
            }
            // A bucket that left the window is forgotten by the changelog too.
            for (idx, bucket) in left {
                for (shard, _) in bucket.local {
                    self.note_count(shard, idx, bucket.start);
                }
            }
            self.current = Some(current);
        }
        let oldest = current - self.bucket * self.k as i64;
        self.remote.prune_before(to_time(oldest));
        self.prune_seen();
    }

    /// Forgets the posts counted in buckets that left the window.
    fn prune_seen(&mut self) {
        if let Some(current) = self.current {
            self.seen.prune(current - self.bucket * (self.k as i64 - 1));
        }
    }

    /// Puts back the posts a shard counted, from the changelog: `(bucket start, chunk, ids)`.
    pub fn restore_seen(&mut self, shard: Shard, chunks: Vec<(i64, u32, Vec<u64>)>) {
        self.seen.restore(shard, chunks);
        self.prune_seen();
    }

    /// The changes of the posts counted since the last call (see [`Seen::take_changes`]).
    pub fn take_seen(&mut self, out: &mut Vec<(Shard, i64, u32, Option<Vec<u64>>)>) {
        self.seen.take_changes(out);
    }

    fn close_bucket(&mut self, boundary: i64, names: &Interner, out: &mut Vec<Incident>) {
        self.closes += 1;
        let alpha = self.alpha.max(1.0 / self.closes as f64);
        for idx in 0..self.keys.len() {
            if self.keys[idx].is_none() {
                continue;
            }
            // The baseline moves (or the incident ends or grows) at every boundary.
            self.note_key(idx);
            let Some(state) = self.keys[idx].as_deref_mut() else {
                continue;
            };
            let count = state.window_count();
            let Some(open) = &state.open else {
                let diff = count as f64 - state.mean;
                state.mean += alpha * diff;
                state.dev += alpha * (diff.abs() - state.dev);
                continue;
            };
            let b = open.baseline;
            let back_to_normal = count as f64 <= b.mean + b.deviation.max(b.mean.sqrt()).max(1.0);
            if back_to_normal || boundary - open.opened_at >= MAX_OPEN_SECONDS {
                state.cooldown_until = boundary + self.s.cooldown.num_seconds();
                out.extend(self.incident(idx, IncidentChange::Closed, boundary, names));
                self.closed += 1;
                if let Some(state) = self.keys[idx].as_deref_mut() {
                    state.open = None;
                }
            } else if (count, open.total, open.tickets, open.folded) != open.last_emitted {
                out.extend(self.incident(idx, IncidentChange::Updated, boundary, names));
            }
        }
    }

    /// Builds the record of an incident's current state and bumps its revision.
    fn incident(
        &mut self,
        idx: usize,
        change: IncidentChange,
        now: i64,
        names: &Interner,
    ) -> Option<Incident> {
        let (bucket, k, top) = (self.bucket, self.k as i64, self.s.top_terms);
        let terms = &self.terms;
        let state = self.keys.get_mut(idx)?.as_deref_mut()?;
        let count = state.window_count();
        let window_start = state.ring.back().map_or(now, |b| b.start) - bucket * (k - 1);
        let watchlist = names.name(state.watchlist).to_string();
        let intent = state.intent;
        let open = state.open.as_mut()?;
        if change != IncidentChange::Opened {
            open.revision += 1;
        }
        open.last_emitted = (count, open.total, open.tickets, open.folded);
        let mut top_terms: Vec<TermCount> = open
            .terms
            .iter()
            .map(|&(t, c)| TermCount {
                term: terms.name(t).to_string(),
                count: c,
            })
            .collect();
        top_terms.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.term.cmp(&b.term)));
        top_terms.truncate(top);
        let closed = change == IncidentChange::Closed;
        Some(Incident {
            schema_version: INCIDENT_SCHEMA_VERSION,
            incident_id: open.id.clone(),
            revision: open.revision,
            status: if closed {
                IncidentStatus::Closed
            } else {
                IncidentStatus::Open
            },
            change,
            watchlist,
            intent,
            opened_at: to_time(open.opened_at),
            updated_at: to_time(now),
            closed_at: closed.then(|| to_time(now)),
            window: IncidentWindow {
                start: to_time(window_start),
                end: to_time(now),
            },
            count,
            peak_count: open.peak,
            total_count: open.total,
            baseline: open.baseline,
            sample_post_ids: open.samples.clone(),
            top_terms,
            ticket_count: open.tickets,
            folded_count: open.folded,
        })
    }

    /// The first open incident among a post's keys: its key index and id.
    pub fn open_incident(&self, wls: &[u32], intents: &[Intent]) -> Option<(usize, &str)> {
        for &wl in wls {
            for &intent in intents {
                let idx = wl as usize * INTENTS + intent_index(intent);
                if let Some(open) = self
                    .keys
                    .get(idx)
                    .and_then(|s| s.as_deref())
                    .and_then(|s| s.open.as_ref())
                {
                    return Some((idx, &open.id));
                }
            }
        }
        None
    }

    pub fn has_open(&self) -> bool {
        self.opened > self.closed
    }

    /// Notes a ticket (or a folded post) carrying incident `idx`.
    pub fn note(&mut self, idx: usize, folded: bool) {
        if let Some(open) = self
            .keys
            .get_mut(idx)
            .and_then(|s| s.as_deref_mut())
            .and_then(|s| s.open.as_mut())
        {
            if folded {
                open.folded += 1;
            } else {
                open.tickets += 1;
            }
            self.note_key(idx);
        }
    }

    /// This replica's counts for the buckets still in the window, under each shard's label.
    pub fn export(&self, names: &Interner) -> SpikeCounts {
        let mut counts = SpikeCounts::new(Duration::seconds(self.bucket));
        for state in self.keys.iter().flatten() {
            for b in &state.ring {
                for &(shard, n) in b.local.iter().filter(|(_, n)| *n > 0) {
                    let key = CountKey {
                        watchlist: names.name(state.watchlist).to_string(),
                        intent: state.intent,
                        bucket_start: to_time(b.start),
                    };
                    counts.record(self.label(shard), key, n);
                }
            }
        }
        counts
    }

    /// Merges other replicas' counts and re-checks the keys they touch.
    pub fn merge(
        &mut self,
        counts: &SpikeCounts,
        names: &mut Interner,
        now: i64,
        out: &mut Vec<Incident>,
    ) -> bool {
        if !self.remote.merge(counts) {
            return false;
        }
        let mut touched: Vec<(u32, Intent)> = counts
            .totals()
            .filter_map(|(key, _)| names.intern(&key.watchlist).map(|w| (w, key.intent)))
            .collect();
        touched.sort_unstable();
        touched.dedup();
        for (wl, intent) in touched {
            let Some(starts) = self
                .state(wl, intent)
                .map(|s| s.ring.iter().map(|b| b.start).collect::<Vec<_>>())
            else {
                continue;
            };
            let name = names.name(wl);
            let own = self.own_labels();
            let totals: Vec<u64> = starts
                .into_iter()
                .map(|start| {
                    let key = CountKey {
                        watchlist: name.to_string(),
                        intent,
                        bucket_start: to_time(start),
                    };
                    self.remote.total_excluding(&key, &own)
                })
                .collect();
            if let Some(state) = self.state(wl, intent) {
                for (b, total) in state.ring.iter_mut().zip(totals) {
                    b.remote = total;
                }
            }
            self.maybe_open(
                wl as usize * INTENTS + intent_index(intent),
                now,
                names,
                out,
            );
        }
        true
    }
}

fn to_time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}
