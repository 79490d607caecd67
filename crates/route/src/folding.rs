//! Conversation folding state: the open ticket of each recent conversation, bounded in
//! time and in count.
//!
//! Entries are keyed by a 128-bit hash of the conversation key (the key string itself is
//! not kept: at a million open conversations that is tens of megabytes saved). Every update
//! appends `(time, key, generation)` to a log ordered by time; an entry expires when its
//! newest log record is older than the folding window, and when the table is full the
//! entry with the oldest newest record — the least recently active — is evicted. Stale log
//! records (older generations) are skipped and the log is compacted when they pile up, so
//! expiry and eviction are O(1) amortised and memory stays proportional to `max_open`.
//!
//! Time is the router's watermark (the largest clock seen), so out-of-order input never
//! makes the log go backwards.
//!
//! Each entry belongs to a shard (a partition of the route stage's input). With change
//! tracking on, every entry inserted, updated or dropped is noted, so that the router can
//! write it to the changelog; a shard's entries can be dropped without a trace (it moved to
//! another replica) and restored from the changelog.

use std::collections::VecDeque;

use foldhash::HashMap;

use chrono::{DateTime, Duration, Utc};
use earshot_model::Priority;

use crate::config::FoldingSettings;
use crate::router::Shard;

/// What the router remembers about an open ticket.
#[derive(Debug, Clone)]
pub(crate) struct OpenTicket {
    pub ticket_id: u64,
    pub revision: u32,
    pub post_count: u32,
    pub priority: Priority,
    pub queue: u16,
    pub rule: u16,
    /// Index into the router's team table, `u16::MAX` for none.
    pub team: u16,
    pub created_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub sla_started: DateTime<Utc>,
    pub incident: Option<Box<str>>,
    pub tags: TagSet,
    /// The first post's id, and the later ones (up to the cap) — split so a ticket of one
    /// post, the common case, allocates no vector.
    pub first_post: Box<str>,
    pub later_posts: Vec<Box<str>>,
    /// Hashes of the ids folded past the cap, sorted: a redelivered post is recognised
    /// however long the thread, for as long as the ticket is open (the folding window bounds
    /// it). Boxed so that tickets under the cap, nearly all, pay 8 bytes instead of a
    /// vector's 24.
    #[allow(clippy::box_collection)]
    pub overflow: Option<Box<Vec<u64>>>,
}

/// A set of tag ids: the first 64 as bits (no allocation), any beyond in a sorted vector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TagSet {
    bits: u64,
    more: Vec<u16>,
}

impl TagSet {
    pub fn insert(&mut self, tag: u16) {
        if tag < 64 {
            self.bits |= 1 << tag;
        } else if let Err(i) = self.more.binary_search(&tag) {
            self.more.insert(i, tag);
        }
    }

    /// The ids in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        let bits = self.bits;
        (0..64u16)
            .filter(move |i| bits & (1 << i) != 0)
            .chain(self.more.iter().copied())
    }
}

impl OpenTicket {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ticket_id: u64,
        priority: Priority,
        queue: u16,
        rule: u16,
        team: u16,
        now: DateTime<Utc>,
        due_at: Option<DateTime<Utc>>,
        incident: Option<Box<str>>,
        tags: TagSet,
        first_post: &str,
    ) -> OpenTicket {
        OpenTicket {
            ticket_id,
            revision: 1,
            post_count: 1,
            priority,
            queue,
            rule,
            team,
            created_at: now,
            due_at,
            sla_started: now,
            incident,
            tags,
            first_post: first_post.into(),
            later_posts: Vec::new(),
            overflow: None,
        }
    }

    /// Every post id kept, oldest first.
    pub fn post_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&*self.first_post).chain(self.later_posts.iter().map(|p| &**p))
    }

    /// Whether post `id` was folded into this ticket already (listed or past the cap).
    pub fn has_post(&self, id: &str) -> bool {
        self.post_ids().any(|p| p == id)
            || self
                .overflow
                .as_ref()
                .is_some_and(|o| o.binary_search(&post_hash(id)).is_ok())
    }

    /// Adds a post id: listed while fewer than `cap` are, remembered as a hash after that.
    pub fn push_post(&mut self, id: &str, cap: usize) {
        if self.later_posts.len() + 1 < cap {
            self.later_posts.push(id.into());
        } else {
            let overflow = self.overflow.get_or_insert_with(Default::default);
            let hash = post_hash(id);
            if let Err(i) = overflow.binary_search(&hash) {
                overflow.insert(i, hash);
            }
        }
    }
}

fn post_hash(id: &str) -> u64 {
    crate::ids::hash(&["post/v1", id])
}

/// Counters about the folding state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FoldingStats {
    /// Conversations with an open ticket now.
    pub open: usize,
    /// Entries dropped because their window passed.
    pub expired: u64,
    /// Entries dropped early because the table was full.
    pub evicted: u64,
    /// Estimated bytes held (table, log and per-entry heap), from capacities.
    pub approx_bytes: usize,
}

/// The hash table maps a key to a slot; the tickets live in a slab. Keeping the table's
/// buckets small matters: a hash table sized for a million entries has two million buckets
/// (power-of-two growth), and 24-byte buckets instead of 200-byte ones save ~300 MB there.
#[derive(Debug, Clone)]
pub(crate) struct Folding {
    index: HashMap<[u64; 2], u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// `(unix seconds, slot, generation)` of every insert and update, oldest first.
    log: VecDeque<(i64, u32, u32)>,
    window: i64,
    max_age: Duration,
    max_open: usize,
    expired: u64,
    evicted: u64,
    /// Keys inserted, updated or dropped since the last `take_changes`, when tracking.
    changes: Option<Vec<(Shard, u128)>>,
}

#[derive(Debug, Clone)]
struct Slot {
    /// Bumped on every insert and update of this slot, so log records of an earlier
    /// occupant or an earlier update are recognised as stale.
    generation: u32,
    entry: Option<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    key: [u64; 2],
    shard: Shard,
    /// Unix seconds of the last insert or update.
    last_active: i64,
    ticket: OpenTicket,
}

fn split(key: u128) -> [u64; 2] {
    // Truncation intended: the two halves of the key.
    [key as u64, (key >> 64) as u64]
}

fn join(key: [u64; 2]) -> u128 {
    u128::from(key[0]) | (u128::from(key[1]) << 64)
}

impl Folding {
    pub fn new(s: &FoldingSettings) -> Folding {
        Folding {
            index: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            log: VecDeque::new(),
            window: s.window.num_seconds(),
            max_age: s.max_age,
            max_open: s.max_open.max(1),
            expired: 0,
            evicted: 0,
            changes: None,
        }
    }

    /// New window, age and size limits (a reload); entries stay.
    pub fn reconfigure(&mut self, s: &FoldingSettings) {
        self.window = s.window.num_seconds();
        self.max_age = s.max_age;
        self.max_open = s.max_open.max(1);
    }

    /// Starts noting changes, for a changelog.
    pub fn track_changes(&mut self) {
        self.changes.get_or_insert_with(Vec::new);
    }

    /// The keys changed since the last call, each once, with their shard.
    pub fn take_changes(&mut self, into: &mut Vec<(Shard, u128)>) {
        if let Some(changes) = &mut self.changes {
            changes.sort_unstable();
            changes.dedup();
            into.append(changes);
        }
    }

    fn note(&mut self, shard: Shard, key: [u64; 2]) {
        if let Some(changes) = &mut self.changes {
            changes.push((shard, join(key)));
        }
    }

    /// The shard and last activity of `key`'s entry.
    pub fn placed(&self, key: u128) -> Option<(Shard, i64)> {
        let slot = self.slot_of(key)?;
        let entry = self.slots.get(slot as usize)?.entry.as_ref()?;
        Some((entry.shard, entry.last_active))
    }

    /// Every open ticket, to change in place (its key and shard stay).
    pub fn tickets_mut(&mut self) -> impl Iterator<Item = &mut OpenTicket> {
        self.slots
            .iter_mut()
            .filter_map(|s| s.entry.as_mut())
            .map(|e| &mut e.ticket)
    }

    /// Forgets every entry of `shard` without noting a change: the shard moved away, its
    /// changelog still holds it.
    pub fn drop_shard(&mut self, shard: Shard) {
        for slot in 0..self.slots.len() {
            let owned = self.slots[slot]
                .entry
                .as_ref()
                .is_some_and(|e| e.shard == shard);
            if owned {
                if let Some(entry) = self.slots[slot].entry.take() {
                    self.index.remove(&entry.key);
                    self.free.push(slot as u32);
                }
            }
        }
    }

    /// Puts back an entry read from the changelog (no change noted). The log is sorted by
    /// [`Folding::restored`] once a batch is in.
    pub fn restore(&mut self, key: u128, shard: Shard, last_active: i64, ticket: OpenTicket) {
        if let Some(slot) = self.slot_of(key) {
            self.remove_quietly(slot);
        }
        self.place(key, shard, last_active, ticket);
    }

    /// A batch of restored entries is in: keeps the log in time order, so expiry and
    /// eviction take the least recently active first.
    pub fn restored(&mut self) {
        self.log
            .make_contiguous()
            .sort_unstable_by_key(|&(at, slot, _)| (at, slot));
        self.maybe_compact();
    }

    fn slot_of(&self, key: u128) -> Option<u32> {
        self.index.get(&split(key)).copied()
    }

    fn ticket_mut(&mut self, slot: u32) -> Option<&mut OpenTicket> {
        self.slots
            .get_mut(slot as usize)?
            .entry
            .as_mut()
            .map(|e| &mut e.ticket)
    }

    /// Drops the entry in `slot`, noting the change.
    fn remove(&mut self, slot: u32) {
        if let Some(entry) = self.remove_quietly(slot) {
            self.note(entry.shard, entry.key);
        }
    }

    fn remove_quietly(&mut self, slot: u32) -> Option<Entry> {
        let s = self.slots.get_mut(slot as usize)?;
        let entry = s.entry.take()?;
        self.index.remove(&entry.key);
        self.free.push(slot);
        Some(entry)
    }

    /// Whether a log record still describes the slot's latest activity.
    fn is_current(&self, slot: u32, generation: u32) -> bool {
        self.slots
            .get(slot as usize)
            .is_some_and(|s| s.generation == generation && s.entry.is_some())
    }

    /// The open ticket of `key`, unless it is past its maximum age.
    pub fn get_mut(&mut self, key: u128, now: DateTime<Utc>) -> Option<&mut OpenTicket> {
        let slot = self.slot_of(key)?;
        let max_age = self.max_age;
        let too_old = self
            .ticket_mut(slot)
            .is_some_and(|t| now - t.created_at >= max_age);
        if too_old {
            self.remove(slot);
            self.expired += 1;
            return None;
        }
        self.ticket_mut(slot)
    }

    /// The open ticket of `key` as it is, without expiry checks.
    pub fn peek(&self, key: u128) -> Option<&OpenTicket> {
        let slot = self.slot_of(key)?;
        self.slots
            .get(slot as usize)?
            .entry
            .as_ref()
            .map(|e| &e.ticket)
    }

    /// Records activity on `key` (after an update through [`Folding::get_mut`]).
    pub fn touch(&mut self, key: u128, now: DateTime<Utc>) {
        let Some(slot) = self.slot_of(key) else {
            return;
        };
        let now = now.timestamp();
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        s.generation = s.generation.wrapping_add(1);
        let generation = s.generation;
        let Some(entry) = s.entry.as_mut() else {
            return;
        };
        entry.last_active = now;
        let (shard, key) = (entry.shard, entry.key);
        self.log.push_back((now, slot, generation));
        self.note(shard, key);
        self.maybe_compact();
    }

    /// Adds a new open ticket of `shard`, evicting the least recently active one when full.
    pub fn insert(&mut self, key: u128, shard: Shard, ticket: OpenTicket, now: DateTime<Utc>) {
        self.place(key, shard, now.timestamp(), ticket);
        self.note(shard, split(key));
    }

    fn place(&mut self, key: u128, shard: Shard, last_active: i64, ticket: OpenTicket) {
        while self.index.len() >= self.max_open {
            let Some((_, slot, generation)) = self.log.pop_front() else {
                break;
            };
            if self.is_current(slot, generation) {
                self.remove(slot);
                self.evicted += 1;
            }
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                if self.slots.len() == self.slots.capacity() {
                    // Double, but never past the cap: the slab is the bulk of the memory.
                    let room = self.max_open.saturating_sub(self.slots.len()).max(1);
                    self.slots.reserve_exact(self.slots.len().max(64).min(room));
                }
                self.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        s.generation = s.generation.wrapping_add(1);
        s.entry = Some(Entry {
            key: split(key),
            shard,
            last_active,
            ticket,
        });
        self.index.insert(split(key), slot);
        self.log.push_back((last_active, slot, s.generation));
        self.maybe_compact();
    }

    /// Drops entries whose last activity is a full window before `now`.
    pub fn expire(&mut self, now: DateTime<Utc>) {
        let now = now.timestamp();
        while let Some(&(at, slot, generation)) = self.log.front() {
            if now - at < self.window {
                break;
            }
            self.log.pop_front();
            if self.is_current(slot, generation) {
                self.remove(slot);
                self.expired += 1;
            }
        }
    }

    /// Rebuilds the log when stale records outnumber live ones, keeping memory bounded for
    /// a conversation that is updated many times.
    fn maybe_compact(&mut self) {
        if self.log.len() <= 2 * self.index.len() + 1024 {
            return;
        }
        let slots = &self.slots;
        self.log.retain(|&(_, slot, generation)| {
            slots
                .get(slot as usize)
                .is_some_and(|s| s.generation == generation && s.entry.is_some())
        });
    }

    pub fn stats(&self) -> FoldingStats {
        use std::mem::size_of;
        // hashbrown: one control byte per bucket beside each (key, slot) pair.
        let index = self.index.capacity() * 8 / 7 * (size_of::<([u64; 2], u32)>() + 1);
        let slab = self.slots.capacity() * size_of::<Slot>() + self.free.capacity() * 4;
        let log = self.log.capacity() * size_of::<(i64, u32, u32)>();
        // Heap parts, rounded up to the 16-byte granularity of common allocators.
        let round = |n: usize| if n == 0 { 0 } else { n.div_ceil(16) * 16 };
        let heap: usize = self
            .slots
            .iter()
            .filter_map(|s| s.entry.as_ref())
            .map(|e| {
                let t = &e.ticket;
                round(t.tags.more.capacity() * 2)
                    + round(t.later_posts.capacity() * size_of::<Box<str>>())
                    + t.post_ids().map(|p| round(p.len())).sum::<usize>()
                    + t.incident.as_ref().map_or(0, |i| round(i.len()))
                    + t.overflow
                        .as_ref()
                        .map_or(0, |o| round(24) + round(o.capacity() * 8))
            })
            .sum();
        FoldingStats {
            open: self.index.len(),
            expired: self.expired,
            evicted: self.evicted,
            approx_bytes: index + slab + log + heap,
        }
    }
}
