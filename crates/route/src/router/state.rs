//! The router's state per shard: what changed, for the changelog ([`Router::take_state`]);
//! a shard taken over ([`Router::restore_shard`]) or handed on ([`Router::drop_shard`]); and
//! a new configuration swapped in with every open ticket kept ([`Router::reconfigure`]).

use std::borrow::Cow;

use super::{Router, Shard};
use crate::config::RouteConfig;
use crate::folding::{OpenTicket, TagSet};
use crate::matcher::{CompiledRule, NONE};
use crate::state::{
    CountRecord, Position, Restored, SeenRecord, SpikeRecord, StateKey, StateRecord, TicketRecord,
};
use crate::tables::{hex_id, Tables};

impl Router {
    /// Notes every change of state from now on, for [`Router::take_state`]. Off by default:
    /// offline routing keeps nothing.
    pub fn track_state(&mut self) {
        self.folding.track_changes();
        self.detector.track_changes();
    }

    /// The shards this router owns (all of them are shard 0 until `own_shard` is called).
    fn owns(&self, shard: Shard) -> bool {
        self.owned
            .as_ref()
            .map_or(shard == Shard::default(), |owned| owned.contains(&shard))
    }

    fn owned_shards(&self) -> Vec<Shard> {
        self.owned.clone().unwrap_or_else(|| vec![Shard::default()])
    }

    /// `shard` is this router's: its posts come through it and its state is written for it.
    /// Spike counts of the shard are published as `label` (unique in the deployment, e.g.
    /// the partition), so that its next owner grows the same counter.
    pub fn own_shard(&mut self, shard: Shard, label: &str) {
        let owned = self.owned.get_or_insert_with(Vec::new);
        if !owned.contains(&shard) {
            owned.push(shard);
        }
        self.detector.own(shard, label, &self.watchlists);
    }

    /// `shard` moved to another replica: forgets its open tickets and counts without writing
    /// anything (its changelog keeps them for the next owner).
    pub fn drop_shard(&mut self, shard: Shard) {
        if let Some(owned) = &mut self.owned {
            owned.retain(|s| *s != shard);
        }
        self.folding.drop_shard(shard);
        self.detector.disown(shard, &self.watchlists);
    }

    /// Stops writing state for `shard` but keeps it, in case the shard comes back (a
    /// rebalance often gives a replica its partitions again): [`Router::restore_shard`] then
    /// only applies what others wrote meanwhile.
    pub fn suspend_shard(&mut self, shard: Shard) {
        if let Some(owned) = &mut self.owned {
            owned.retain(|s| *s != shard);
        }
    }

    /// The records to write since the last call: changed open tickets (tombstones for those
    /// that closed), spike counts, and what spike detection learned (written to every shard
    /// this router owns).
    pub fn take_state(&mut self, out: &mut Vec<StateRecord>) {
        let mut tickets = Vec::new();
        self.folding.take_changes(&mut tickets);
        for (shard, key) in tickets {
            if !self.owns(shard) {
                continue;
            }
            let value = match self.folding.placed(key) {
                Some((placed, last_active)) if placed == shard => self
                    .folding
                    .peek(key)
                    .map(|open| encode_ticket(&self.t, open, last_active)),
                _ => None,
            };
            out.push(StateRecord {
                shard,
                key: StateKey::Ticket(key).encode(),
                value,
            });
        }
        let (mut counts, mut keys) = (Vec::new(), Vec::new());
        self.detector.take_changes(&mut counts, &mut keys);
        for (shard, wl, intent, start, count) in counts {
            if !self.owns(shard) {
                continue;
            }
            let key = StateKey::Count {
                watchlist: self.watchlists.name(wl).to_string(),
                intent,
                start,
            };
            let value = (count > 0)
                .then(|| serde_json::to_vec(&CountRecord { v: 1, count }).unwrap_or_default());
            out.push(StateRecord {
                shard,
                key: key.encode(),
                value,
            });
        }
        let mut seen = Vec::new();
        self.detector.take_seen(&mut seen);
        for (shard, start, chunk, ids) in seen {
            if !self.owns(shard) {
                continue;
            }
            out.push(StateRecord {
                shard,
                key: StateKey::Seen { start, chunk }.encode(),
                value: ids.and_then(|ids| serde_json::to_vec(&SeenRecord { v: 1, ids }).ok()),
            });
        }
        let shards = self.owned_shards();
        for (wl, intent, record) in keys {
            let key = StateKey::Spike {
                watchlist: self.watchlists.name(wl).to_string(),
                intent,
            }
            .encode();
            let value = serde_json::to_vec(&record).ok();
            for &shard in &shards {
                out.push(StateRecord {
                    shard,
                    key: key.clone(),
                    value: value.clone(),
                });
            }
        }
    }

    /// Puts back the state of `shard` from its changelog: the latest value of each key (a
    /// compacted topic read to its end). What spike detection learned goes first, then the
    /// counts and the posts counted, then the open tickets; the shard's [`Position`] is
    /// returned for the caller, which owns the input. A record that cannot be read is left
    /// out and counted.
    pub fn restore_shard<'a>(
        &mut self,
        shard: Shard,
        records: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Restored {
        let mut restored = Restored::default();
        let mut spikes = Vec::new();
        let mut counts = Vec::new();
        let mut tickets = Vec::new();
        let mut seen = Vec::new();
        for (key, value) in records {
            match StateKey::decode(key) {
                Some(StateKey::Ticket(key)) => tickets.push((key, value)),
                Some(StateKey::Count {
                    watchlist,
                    intent,
                    start,
                }) => counts.push((watchlist, intent, start, value)),
                Some(StateKey::Spike { watchlist, intent }) => {
                    spikes.push((watchlist, intent, value))
                }
                Some(StateKey::Seen { start, chunk }) => {
                    match serde_json::from_slice::<SeenRecord>(value) {
                        Ok(record) => seen.push((start, chunk, record.ids)),
                        Err(_) => restored.skipped += 1,
                    }
                }
                Some(StateKey::Position) => match Position::decode(value) {
                    Some(position) => restored.position = Some(position),
                    None => restored.skipped += 1,
                },
                None => restored.skipped += 1,
            }
        }
        for (watchlist, intent, value) in spikes {
            match (
                self.watchlists.intern(&watchlist),
                serde_json::from_slice::<SpikeRecord>(value),
            ) {
                (Some(wl), Ok(record)) => {
                    self.detector.restore_key(wl, intent, record);
                    restored.keys += 1;
                }
                _ => restored.skipped += 1,
            }
        }
        counts.sort_by_key(|(_, _, start, _)| *start);
        for (watchlist, intent, start, value) in counts {
            match (
                self.watchlists.intern(&watchlist),
                serde_json::from_slice::<CountRecord>(value),
            ) {
                (Some(wl), Ok(record)) => {
                    self.detector
                        .restore_count(shard, wl, intent, start, record.count);
                    restored.counts += 1;
                }
                _ => restored.skipped += 1,
            }
        }
        restored.seen = seen.len();
        self.detector.restore_seen(shard, seen);
        for (key, value) in tickets {
            match serde_json::from_slice::<TicketRecord>(value)
                .ok()
                .and_then(|record| decode_ticket(&mut self.t, record))
            {
                Some((open, last_active)) => {
                    self.folding.restore(key, shard, last_active, open);
                    restored.tickets += 1;
                }
                None => restored.skipped += 1,
            }
        }
        self.folding.restored();
        restored
    }

    /// Swaps in a new configuration between two posts. Open tickets stay open, with their
    /// ids, revisions and due times; a ticket whose rule or queue the new configuration no
    /// longer has goes on being revised until it expires. Spike baselines and open
    /// incidents stay (a new bucket length restarts the counts).
    pub fn reconfigure(&mut self, config: RouteConfig) {
        let old = std::mem::replace(&mut self.t, Tables::new(config, &mut self.watchlists));
        let t = &mut self.t;
        let mut rules: Vec<Option<u16>> = vec![None; old.rule_ids.len()];
        let mut queues: Vec<Option<u16>> = vec![None; old.queue_ids.len()];
        let mut teams: Vec<Option<u16>> = vec![None; old.teams.len()];
        let mut tags: Vec<Option<u16>> = vec![None; old.tags.len()];
        for open in self.folding.tickets_mut() {
            let r = open.rule as usize;
            open.rule = *rules[r].get_or_insert_with(|| t.rule_index(&old.rule_ids[r], Some(&old)));
            let q = open.queue as usize;
            open.queue =
                *queues[q].get_or_insert_with(|| t.queue_index(&old.queue_ids[q], Some(&old)));
            if let Some(slot) = teams.get_mut(open.team as usize) {
                let team = open.team as usize;
                open.team = *slot.get_or_insert_with(|| t.team_index(&old.teams[team]));
            }
            let mut moved = TagSet::default();
            for tag in open.tags.iter() {
                let i = tag as usize;
                if let Some(slot) = tags.get_mut(i) {
                    moved.insert(*slot.get_or_insert_with(|| t.tag_index(&old.tags[i])));
                }
            }
            open.tags = moved;
        }
        let c = &self.t.config;
        let ignore = c
            .spike
            .ignore_lists
            .iter()
            .filter_map(|l| c.lists.index_of(l))
            .fold(0, |m, i| m | 1 << i);
        self.needs_authors = ignore != 0 || self.t.rules.iter().any(CompiledRule::needs_authors);
        self.watch_words = self.watchlists.len().div_ceil(64);
        self.folding.reconfigure(&c.folding);
        self.detector.reconfigure(c.spike.clone(), ignore);
    }
}

fn encode_ticket(t: &Tables, open: &OpenTicket, last_active: i64) -> Vec<u8> {
    let record = TicketRecord {
        v: 1,
        ticket_id: hex_id("", open.ticket_id),
        revision: open.revision,
        post_count: open.post_count,
        priority: open.priority,
        queue: Cow::Borrowed(&t.queue_ids[open.queue as usize]),
        rule: Cow::Borrowed(&t.rule_ids[open.rule as usize]),
        team: t
            .teams
            .get(open.team as usize)
            .map(|team| Cow::Borrowed(&**team)),
        tags: open
            .tags
            .iter()
            .map(|tag| Cow::Borrowed(&*t.tags[tag as usize]))
            .collect(),
        created_at: open.created_at,
        due_at: open.due_at,
        sla_started: open.sla_started,
        incident: open.incident.as_deref().map(Cow::Borrowed),
        post_ids: open.post_ids().map(Cow::Borrowed).collect(),
        overflow: open
            .overflow
            .as_deref()
            .map_or(Cow::Borrowed(&[][..]), |ids| Cow::Borrowed(&ids[..])),
        last_active,
    };
    serde_json::to_vec(&record).unwrap_or_default()
}

fn decode_ticket(t: &mut Tables, record: TicketRecord<'_>) -> Option<(OpenTicket, i64)> {
    let ticket_id = u64::from_str_radix(&record.ticket_id, 16).ok()?;
    let mut post_ids = record.post_ids.into_iter();
    let first = post_ids.next()?;
    let mut tags = TagSet::default();
    for tag in &record.tags {
        tags.insert(t.tag_index(tag));
    }
    let mut open = OpenTicket::new(
        ticket_id,
        record.priority,
        t.queue_index(&record.queue, None),
        t.rule_index(&record.rule, None),
        record
            .team
            .as_deref()
            .map_or(NONE, |team| t.team_index(team)),
        record.created_at,
        record.due_at,
        record.incident.map(|id| id.as_ref().into()),
        tags,
        &first,
    );
    open.revision = record.revision;
    open.post_count = record.post_count;
    open.sla_started = record.sla_started;
    open.later_posts = post_ids.map(|id| id.as_ref().into()).collect();
    if !record.overflow.is_empty() {
        let mut overflow = record.overflow.into_owned();
        overflow.sort_unstable();
        open.overflow = Some(Box::new(overflow));
    }
    Some((open, record.last_active))
}
