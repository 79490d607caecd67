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

use std::collections::VecDeque;

use foldhash::HashMap;

use chrono::{DateTime, Duration, Utc};
use earshot_model::Priority;

use crate::config::FoldingSettings;

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
    generation: u32,
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
            generation: 0,
        }
    }

    /// Every post id kept, oldest first.
    pub fn post_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&*self.first_post).chain(self.later_posts.iter().map(|p| &**p))
    }

    /// Adds a post id unless `cap` ids are kept already.
    pub fn push_post(&mut self, id: &str, cap: usize) {
        if self.later_posts.len() + 1 < cap {
            self.later_posts.push(id.into());
        }
    }
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

#[derive(Debug, Clone)]
pub(crate) struct Folding {
    map: HashMap<u128, OpenTicket>,
    log: VecDeque<(DateTime<Utc>, u128, u32)>,
    window: Duration,
    max_age: Duration,
    max_open: usize,
    expired: u64,
    evicted: u64,
}

impl Folding {
    pub fn new(s: &FoldingSettings) -> Folding {
        Folding {
            map: HashMap::default(),
            log: VecDeque::new(),
            window: s.window,
            max_age: s.max_age,
            max_open: s.max_open.max(1),
            expired: 0,
            evicted: 0,
        }
    }

    /// The open ticket of `key`, unless it is past its window or its maximum age.
    pub fn get_mut(&mut self, key: u128, now: DateTime<Utc>) -> Option<&mut OpenTicket> {
        let ticket = self.map.get(&key)?;
        if now - ticket.created_at >= self.max_age {
            self.map.remove(&key);
            self.expired += 1;
            return None;
        }
        self.map.get_mut(&key)
    }

    /// The open ticket of `key` as it is, without expiry checks.
    pub fn peek(&self, key: u128) -> Option<&OpenTicket> {
        self.map.get(&key)
    }

    /// Records activity on `key` (after an update through [`Folding::get_mut`]).
    pub fn touch(&mut self, key: u128, now: DateTime<Utc>) {
        if let Some(t) = self.map.get_mut(&key) {
            t.generation = t.generation.wrapping_add(1);
            self.log.push_back((now, key, t.generation));
            self.maybe_compact();
        }
    }

    /// Adds a new open ticket, evicting the least recently active one when full.
    pub fn insert(&mut self, key: u128, ticket: OpenTicket, now: DateTime<Utc>) {
        while self.map.len() >= self.max_open {
            let Some((_, old, generation)) = self.log.pop_front() else {
                break;
            };
            if self
                .map
                .get(&old)
                .is_some_and(|t| t.generation == generation)
            {
                self.map.remove(&old);
                self.evicted += 1;
            }
        }
        self.map.insert(key, ticket);
        self.log.push_back((now, key, 0));
        self.maybe_compact();
    }

    /// Drops entries whose last activity is a full window before `now`.
    pub fn expire(&mut self, now: DateTime<Utc>) {
        while let Some(&(at, key, generation)) = self.log.front() {
            if now - at < self.window {
                break;
            }
            self.log.pop_front();
            if self
                .map
                .get(&key)
                .is_some_and(|t| t.generation == generation)
            {
                self.map.remove(&key);
                self.expired += 1;
            }
        }
    }

    /// Rebuilds the log when stale records outnumber live ones, keeping memory bounded for
    /// a conversation that is updated many times.
    fn maybe_compact(&mut self) {
        if self.log.len() <= 2 * self.map.len() + 1024 {
            return;
        }
        let map = &self.map;
        self.log.retain(|(_, key, generation)| {
            map.get(key).is_some_and(|t| t.generation == *generation)
        });
    }

    pub fn stats(&self) -> FoldingStats {
        use std::mem::size_of;
        // hashbrown: one control byte per bucket beside each (key, value) slot.
        let table = self.map.capacity() * (size_of::<(u128, OpenTicket)>() + 1);
        let log = self.log.capacity() * size_of::<(DateTime<Utc>, u128, u32)>();
        let heap: usize = self
            .map
            .values()
            .map(|t| {
                t.tags.more.capacity() * 2
                    + t.later_posts.capacity() * size_of::<Box<str>>()
                    + t.post_ids().map(str::len).sum::<usize>()
                    + t.incident.as_ref().map_or(0, |i| i.len())
            })
            .sum();
        FoldingStats {
            open: self.map.len(),
            expired: self.expired,
            evicted: self.evicted,
            approx_bytes: table + log + heap,
        }
    }
}
