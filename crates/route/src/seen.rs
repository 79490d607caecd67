//! The posts a shard counted towards spikes in the window, so that a post delivered again
//! (at-least-once after a crash, a replay, a platform retry) is not counted twice.
//!
//! Posts that open or join a ticket are recognised by their ticket; posts that open none
//! (unrouted, absorbed by an incident) are recognised here. Each shard keeps, per bucket of
//! the spike window, the 64-bit hashes of the post ids it counted in it. The record is
//! bounded twice: a bucket that leaves the window is forgotten (a post delivered again after
//! that counts in the current window, where its first count no longer is), and a bucket
//! keeps at most [`MAX_PER_BUCKET`] ids (past that, spike detection is far over any
//! threshold and a recount changes nothing that matters).
//!
//! For the changelog a bucket is cut into chunks of [`CHUNK`] ids, each its own key, so a
//! write rewrites the chunk that grew, not the whole bucket: every counted post rewrites
//! one chunk, so the chunk size is what a post costs the changelog (16 ids on average, about
//! 320 bytes). A restore takes the union of a bucket's chunks in key order, whatever size
//! they were written at (chunks were 256 ids before 2026-11-30: a changelog written then
//! restores, and the chunks written after never replace an older one's ids).

use std::collections::VecDeque;

use foldhash::HashSet;

use crate::router::Shard;

/// Ids per changelog record of a bucket.
pub(crate) const CHUNK: usize = 32;
/// Ids a shard remembers per bucket.
pub(crate) const MAX_PER_BUCKET: usize = 100_000;

/// The hash a post id is remembered by.
pub(crate) fn post_key(id: &str) -> u64 {
    crate::ids::hash(&["post/v1", id])
}

/// What one shard counted.
#[derive(Debug, Clone, Default)]
struct ShardSeen {
    ids: HashSet<u64>,
    /// Per bucket start, oldest first: the ids counted in it, in order (the chunks' order).
    buckets: VecDeque<(i64, Vec<u64>)>,
}

impl ShardSeen {
    fn bucket_mut(&mut self, start: i64) -> &mut Vec<u64> {
        let at = self.buckets.partition_point(|(s, _)| *s < start);
        if self.buckets.get(at).is_none_or(|(s, _)| *s != start) {
            self.buckets.insert(at, (start, Vec::new()));
        }
        &mut self.buckets[at].1
    }
}

/// The post ids counted per shard, with the changes for the changelog.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    shards: Vec<(Shard, ShardSeen)>,
    /// (shard, bucket start, chunk) written since the last `take_changes`, when tracking.
    changes: Option<Vec<(Shard, i64, u32)>>,
}

impl Seen {
    pub fn track_changes(&mut self) {
        self.changes.get_or_insert_with(Vec::new);
    }

    fn shard(&self, shard: Shard) -> Option<&ShardSeen> {
        self.shards
            .iter()
            .find(|(s, _)| *s == shard)
            .map(|(_, s)| s)
    }

    fn shard_mut(&mut self, shard: Shard) -> &mut ShardSeen {
        let at = match self.shards.iter().position(|(s, _)| *s == shard) {
            Some(at) => at,
            None => {
                self.shards.push((shard, ShardSeen::default()));
                self.shards.len() - 1
            }
        };
        &mut self.shards[at].1
    }

    /// Whether `shard` counted the post with this key in the window.
    pub fn contains(&self, shard: Shard, key: u64) -> bool {
        self.shard(shard).is_some_and(|s| s.ids.contains(&key))
    }

    /// Remembers that `shard` counted the post with this key in the bucket at `start`.
    pub fn insert(&mut self, shard: Shard, start: i64, key: u64) {
        let seen = self.shard_mut(shard);
        let bucket = seen.bucket_mut(start);
        if bucket.len() >= MAX_PER_BUCKET {
            return;
        }
        bucket.push(key);
        let chunk = ((bucket.len() - 1) / CHUNK) as u32;
        seen.ids.insert(key);
        if let Some(changes) = &mut self.changes {
            changes.push((shard, start, chunk));
        }
    }

    /// Forgets the buckets before `oldest` (out of the window), in the changelog too.
    pub fn prune(&mut self, oldest: i64) {
        for (shard, seen) in &mut self.shards {
            while seen.buckets.front().is_some_and(|(s, _)| *s < oldest) {
                let Some((start, ids)) = seen.buckets.pop_front() else {
                    break;
                };
                for id in &ids {
                    seen.ids.remove(id);
                }
                if let Some(changes) = &mut self.changes {
                    let chunks = ids.len().div_ceil(CHUNK).max(1) as u32;
                    changes.extend((0..chunks).map(|c| (*shard, start, c)));
                }
            }
        }
    }

    /// `shard` moved away: its record goes with it (its changelog keeps it).
    pub fn drop_shard(&mut self, shard: Shard) {
        self.shards.retain(|(s, _)| *s != shard);
    }

    /// Puts back a shard's buckets from the changelog, `(bucket start, chunk, ids)` in any
    /// order. A bucket this replica knows at least as many ids of stays as it is (a shard
    /// that comes back after a rebalance).
    pub fn restore(&mut self, shard: Shard, mut chunks: Vec<(i64, u32, Vec<u64>)>) {
        chunks.sort_unstable_by_key(|(start, chunk, _)| (*start, *chunk));
        let seen = self.shard_mut(shard);
        let mut chunks = chunks.into_iter().peekable();
        while let Some((start, _, first)) = chunks.next() {
            let mut ids = first;
            while let Some((_, _, more)) = chunks.next_if(|(s, _, _)| *s == start) {
                ids.extend(more);
            }
            // Chunks of another size overlap: each id once, first place kept.
            let mut once = HashSet::default();
            ids.retain(|id| once.insert(*id));
            ids.truncate(MAX_PER_BUCKET);
            if seen.bucket_mut(start).len() >= ids.len() {
                continue;
            }
            for id in std::mem::take(seen.bucket_mut(start)) {
                seen.ids.remove(&id);
            }
            seen.ids.extend(ids.iter().copied());
            *seen.bucket_mut(start) = ids;
        }
    }

    /// The changelog writes since the last call: (shard, bucket start, chunk, its ids, or
    /// `None` for a bucket forgotten).
    pub fn take_changes(&mut self, out: &mut Vec<(Shard, i64, u32, Option<Vec<u64>>)>) {
        let Some(changes) = &mut self.changes else {
            return;
        };
        let mut changed = std::mem::take(changes);
        changed.sort_unstable();
        changed.dedup();
        for (shard, start, chunk) in changed {
            let ids = self
                .shard(shard)
                .and_then(|s| s.buckets.iter().find(|(s, _)| *s == start))
                .and_then(|(_, ids)| ids.chunks(CHUNK).nth(chunk as usize))
                .map(<[u64]>::to_vec);
            out.push((shard, start, chunk, ids));
        }
    }

    /// Ids remembered, over all shards.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards.iter().map(|(_, s)| s.ids.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_shard_until_the_bucket_leaves_the_window() {
        let mut seen = Seen::default();
        seen.track_changes();
        let (a, b) = (Shard(0), Shard(1));
        seen.insert(a, 60, post_key("p1"));
        seen.insert(a, 120, post_key("p2"));
        assert!(seen.contains(a, post_key("p1")));
        assert!(!seen.contains(b, post_key("p1")));
        let mut out = Vec::new();
        seen.take_changes(&mut out);
        assert_eq!(
            out,
            vec![
                (a, 60, 0, Some(vec![post_key("p1")])),
                (a, 120, 0, Some(vec![post_key("p2")]))
            ]
        );
        seen.prune(120);
        assert!(!seen.contains(a, post_key("p1")));
        assert!(seen.contains(a, post_key("p2")));
        out.clear();
        seen.take_changes(&mut out);
        assert_eq!(out, vec![(a, 60, 0, None)]);
    }

    #[test]
    fn a_bucket_is_written_in_chunks_and_restored_from_them() {
        let mut seen = Seen::default();
        seen.track_changes();
        let shard = Shard(3);
        for i in 0..CHUNK + 10 {
            seen.insert(shard, 0, post_key(&i.to_string()));
        }
        let mut out = Vec::new();
        seen.take_changes(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].3.as_ref().map(Vec::len), Some(CHUNK));
        assert_eq!(out[1].3.as_ref().map(Vec::len), Some(10));

        let mut restored = Seen::default();
        let chunks = out
            .into_iter()
            .rev()
            .map(|(_, start, chunk, ids)| (start, chunk, ids.unwrap_or_default()))
            .collect();
        restored.restore(shard, chunks);
        assert_eq!(restored.len(), CHUNK + 10);
        assert!(restored.contains(shard, post_key("0")));
        assert!(restored.contains(shard, post_key(&(CHUNK + 9).to_string())));
        // The order survives, so the next id lands in the second chunk.
        restored.track_changes();
        restored.insert(shard, 0, post_key("next"));
        let mut out = Vec::new();
        restored.take_changes(&mut out);
        assert_eq!(out[0].2, 1);
        assert_eq!(out[0].3.as_ref().map(Vec::len), Some(11));
    }

    #[test]
    fn a_bucket_stops_growing_at_the_cap() {
        let mut seen = Seen::default();
        for i in 0..MAX_PER_BUCKET as u64 + 5 {
            seen.insert(Shard(0), 0, i);
        }
        assert_eq!(seen.len(), MAX_PER_BUCKET);
    }

    /// A changelog written with 256-id chunks (before the chunk size changed), then added to
    /// with today's chunks, restores every id.
    #[test]
    fn chunks_of_another_size_restore_every_id() {
        let shard = Shard(0);
        let ids: Vec<u64> = (0..300).map(|i| post_key(&i.to_string())).collect();
        let mut log: std::collections::BTreeMap<(i64, u32), Vec<u64>> = [
            ((60, 0), ids[..256].to_vec()),
            ((60, 1), ids[256..].to_vec()),
        ]
        .into_iter()
        .collect();
        for round in 0..3 {
            let mut seen = Seen::default();
            seen.track_changes();
            let chunks = log
                .iter()
                .map(|(&(s, c), ids)| (s, c, ids.clone()))
                .collect();
            seen.restore(shard, chunks);
            let before = 300 + round * 50;
            assert_eq!(seen.len(), before, "round {round}");
            for i in before..before + 50 {
                seen.insert(shard, 60, post_key(&i.to_string()));
            }
            let mut out = Vec::new();
            seen.take_changes(&mut out);
            for (_, start, chunk, ids) in out {
                log.insert((start, chunk), ids.expect("a bucket still in the window"));
            }
        }
        let mut seen = Seen::default();
        seen.restore(
            shard,
            log.into_iter().map(|((s, c), ids)| (s, c, ids)).collect(),
        );
        assert_eq!(seen.len(), 450);
        for i in 0..450 {
            assert!(seen.contains(shard, post_key(&i.to_string())), "{i}");
        }
    }
}
