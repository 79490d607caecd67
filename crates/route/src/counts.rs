//! Mergeable spike counts: how route replicas that each see some partitions agree on the
//! volume per watchlist, intent and time bucket.
//!
//! Each replica records its own running count per `(watchlist, intent, bucket start)` under
//! its replica id, or, when its state is kept per partition, under each partition's label
//! (so that a partition moving to another replica goes on growing the same counter).
//! Merging keeps, per counter, the larger count (counts only grow), and the total of a
//! bucket is the sum over counters. That makes merging commutative, associative
//! and idempotent (a grow-only counter): replicas can publish snapshots on a compacted
//! Kafka topic, redeliveries and reordering do no harm, and every replica that has merged
//! the same snapshots sees the same totals, hence opens the same incident with the same id.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use earshot_model::Intent;
use serde::{Deserialize, Serialize};

/// Which counter: a watchlist, an intent, a bucket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountKey {
    pub watchlist: String,
    pub intent: Intent,
    pub bucket_start: DateTime<Utc>,
}

/// Per-replica counts per bucket. See the module docs for the merge rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "Wire", into = "Wire")]
pub struct SpikeCounts {
    /// Bucket length in seconds; counts only merge with counts of the same length.
    pub bucket_seconds: i64,
    entries: BTreeMap<CountKey, BTreeMap<String, u64>>,
}

impl SpikeCounts {
    pub fn new(bucket: Duration) -> SpikeCounts {
        SpikeCounts {
            bucket_seconds: bucket.num_seconds(),
            entries: BTreeMap::new(),
        }
    }

    /// Records that `replica` has counted `count` posts in this bucket so far.
    pub fn record(&mut self, replica: &str, key: CountKey, count: u64) {
        let slot = self
            .entries
            .entry(key)
            .or_default()
            .entry(replica.to_string())
            .or_default();
        *slot = (*slot).max(count);
    }

    /// Merges another snapshot. Returns `false` (and changes nothing) if its bucket length
    /// differs: such counts would not add up.
    pub fn merge(&mut self, other: &SpikeCounts) -> bool {
        if other.bucket_seconds != self.bucket_seconds && !other.entries.is_empty() {
            return false;
        }
        for (key, replicas) in &other.entries {
            let mine = self.entries.entry(key.clone()).or_default();
            for (replica, &count) in replicas {
                let slot = mine.entry(replica.clone()).or_default();
                *slot = (*slot).max(count);
            }
        }
        true
    }

    /// The total of a bucket over all replicas.
    pub fn total(&self, key: &CountKey) -> u64 {
        self.entries.get(key).map_or(0, |r| r.values().sum())
    }

    /// The total of a bucket over all replicas but one.
    pub fn total_except(&self, key: &CountKey, replica: &str) -> u64 {
        self.entries.get(key).map_or(0, |r| {
            r.iter()
                .filter(|(k, _)| *k != replica)
                .map(|(_, v)| v)
                .sum()
        })
    }

    /// The total of a bucket over every counter but `own` (a replica's shards).
    pub fn total_excluding<S: AsRef<str>>(&self, key: &CountKey, own: &[S]) -> u64 {
        self.entries.get(key).map_or(0, |r| {
            r.iter()
                .filter(|(k, _)| !own.iter().any(|o| o.as_ref() == k.as_str()))
                .map(|(_, v)| v)
                .sum()
        })
    }

    /// Every bucket with its total, in key order.
    pub fn totals(&self) -> impl Iterator<Item = (&CountKey, u64)> {
        self.entries.iter().map(|(k, r)| (k, r.values().sum()))
    }

    /// Forgets buckets that start before `start`.
    pub fn prune_before(&mut self, start: DateTime<Utc>) {
        self.entries.retain(|k, _| k.bucket_start >= start);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The JSON shape: a flat list, since JSON objects cannot have structured keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Wire {
    bucket_seconds: i64,
    counts: Vec<WireCount>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireCount {
    watchlist: String,
    intent: Intent,
    bucket_start: DateTime<Utc>,
    replica: String,
    count: u64,
}

impl From<Wire> for SpikeCounts {
    fn from(w: Wire) -> SpikeCounts {
        let mut counts = SpikeCounts {
            bucket_seconds: w.bucket_seconds,
            entries: BTreeMap::new(),
        };
        for c in w.counts {
            let key = CountKey {
                watchlist: c.watchlist,
                intent: c.intent,
                bucket_start: c.bucket_start,
            };
            counts.record(&c.replica, key, c.count);
        }
        counts
    }
}

impl From<SpikeCounts> for Wire {
    fn from(s: SpikeCounts) -> Wire {
        let mut counts = Vec::new();
        for (key, replicas) in s.entries {
            for (replica, count) in replicas {
                counts.push(WireCount {
                    watchlist: key.watchlist.clone(),
                    intent: key.intent,
                    bucket_start: key.bucket_start,
                    replica,
                    count,
                });
            }
        }
        Wire {
            bucket_seconds: s.bucket_seconds,
            counts,
        }
    }
}
