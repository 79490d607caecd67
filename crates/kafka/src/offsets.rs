//! Which offset of each partition is safe to commit.
//!
//! At-least-once means: an offset is stored only once every output of that message, and of
//! every message before it in the same partition, has been acknowledged by the broker. The
//! tracker keeps, per partition, the messages still waiting for acknowledgements; the
//! committable offset is the first one still waiting (or one past the last seen when none
//! waits). A failed delivery pins the partition: nothing past it is ever committed, so a
//! restart reprocesses it.
//!
//! A message may also hold back outputs (state writes, see [`Output::state`]) until its
//! other outputs are acknowledged: they are released in offset order, once the message and
//! every earlier one of its partition have no other output waiting, and then count as its
//! outputs too. So a state write in the changelog means every output of its message and of
//! the messages before it was delivered: a stage that restores the state may skip those
//! messages when they come again.

use std::collections::BTreeMap;

use foldhash::HashMap;

use crate::record::Output;

#[derive(Debug, Default)]
struct Message {
    /// Outputs sent and not yet acknowledged.
    left: u32,
    /// Outputs held back until `left` reaches 0 here and in every earlier message.
    held: Vec<Output>,
    /// Whether held outputs were released: `left` then counts only those, which hold no
    /// later message back.
    released: bool,
}

#[derive(Debug, Default)]
struct Partition {
    /// Offset → the message's outputs still to settle.
    waiting: BTreeMap<i64, Message>,
    /// One past the highest offset handed to `begin`.
    next: Option<i64>,
    /// The first offset whose output could not be delivered.
    failed: Option<i64>,
    /// The committable offset last returned by `take_committable`.
    stored: Option<i64>,
    /// Every waiting message below this offset has released its held outputs: a release
    /// starts here instead of at the first message still waiting.
    released_until: i64,
}

/// Tracks outstanding outputs per partition of one input topic.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    partitions: HashMap<i32, Partition>,
    waiting_messages: usize,
    /// Messages holding outputs back, over all partitions: asked for every record taken,
    /// so counted rather than searched.
    holding: usize,
}

impl OffsetTracker {
    pub fn new() -> OffsetTracker {
        OffsetTracker::default()
    }

    /// A message was taken from `partition` at `offset` and produced `outputs` records.
    pub fn begin(&mut self, partition: i32, offset: i64, outputs: u32) {
        self.begin_holding(partition, offset, outputs, Vec::new());
    }

    /// [`OffsetTracker::begin`] with outputs held back until the message's turn comes
    /// ([`OffsetTracker::release`]).
    pub fn begin_holding(&mut self, partition: i32, offset: i64, outputs: u32, held: Vec<Output>) {
        let p = self.partitions.entry(partition).or_default();
        p.next = Some(p.next.map_or(offset + 1, |n| n.max(offset + 1)));
        // A record read again below the cursor (the consumer went back) is released in turn.
        p.released_until = p.released_until.min(offset);
        if outputs > 0 || !held.is_empty() {
            let message = p.waiting.entry(offset).or_default();
            if message.left == 0 && message.held.is_empty() {
                self.waiting_messages += 1;
            }
            if message.held.is_empty() && !held.is_empty() {
                self.holding += 1;
            }
            message.left += outputs;
            message.held.extend(held);
        }
    }

    /// One more output for the message at `offset`, which still waits for others (a dead
    /// letter that replaces a refused output). False when the message is not waiting (its
    /// partition was revoked: the next owner processes it again).
    pub fn add_output(&mut self, partition: i32, offset: i64) -> bool {
        match self
            .partitions
            .get_mut(&partition)
            .and_then(|p| p.waiting.get_mut(&offset))
        {
            Some(message) => {
                message.left += 1;
                true
            }
            None => false,
        }
    }

    /// One output of the message at `offset` was acknowledged.
    pub fn ack(&mut self, partition: i32, offset: i64) {
        let Some(p) = self.partitions.get_mut(&partition) else {
            return;
        };
        if let Some(message) = p.waiting.get_mut(&offset) {
            message.left = message.left.saturating_sub(1);
            if message.left == 0 && message.held.is_empty() {
                p.waiting.remove(&offset);
                self.waiting_messages = self.waiting_messages.saturating_sub(1);
            }
        }
    }

    /// Held outputs whose turn came, in offset order per partition, each with the message
    /// it belongs to; they now count as that message's outputs in flight.
    pub fn release(&mut self) -> Vec<(i32, i64, Output)> {
        let mut out = Vec::new();
        if self.holding == 0 {
            return out;
        }
        for (&partition, p) in &mut self.partitions {
            for (&offset, message) in p.waiting.range_mut(p.released_until..) {
                // A message whose own outputs are not all acknowledged holds back the state
                // writes of every later one; released state writes hold nothing back (the
                // producer keeps their order).
                if message.left > 0 && !message.released {
                    break;
                }
                message.released = true;
                p.released_until = offset + 1;
                if !message.held.is_empty() {
                    self.holding -= 1;
                    message.left += message.held.len() as u32;
                    out.extend(message.held.drain(..).map(|o| (partition, offset, o)));
                }
            }
        }
        out
    }

    /// Holds `outputs` (state writes that belong to no input, a tick's) behind every message
    /// of `partition` still waiting, so that they follow the state writes held before them;
    /// returns them when nothing waits, or when every waiting message has released its
    /// own (they may go at once: the producer keeps them behind those).
    pub fn hold_after(&mut self, partition: i32, outputs: Vec<Output>) -> Vec<Output> {
        let Some(last) = self
            .partitions
            .get_mut(&partition)
            .and_then(|p| p.waiting.values_mut().next_back())
            .filter(|last| !last.released)
        else {
            return outputs;
        };
        if last.held.is_empty() && !outputs.is_empty() {
            self.holding += 1;
        }
        last.held.extend(outputs);
        Vec::new()
    }

    /// Whether some output is held back.
    pub fn holds(&self) -> bool {
        self.holding > 0
    }

    /// An output of the message at `offset` could not be delivered.
    pub fn fail(&mut self, partition: i32, offset: i64) {
        let p = self.partitions.entry(partition).or_default();
        p.failed = Some(p.failed.map_or(offset, |f| f.min(offset)));
    }

    /// Whether some delivery failed (the stage must stop without committing past it).
    pub fn has_failed(&self) -> bool {
        self.partitions.values().any(|p| p.failed.is_some())
    }

    /// Messages with outputs not yet acknowledged, over all partitions.
    pub fn waiting(&self) -> usize {
        self.waiting_messages
    }

    /// The offset that may be committed for `partition` now (the next offset to read).
    pub fn committable(&self, partition: i32) -> Option<i64> {
        let p = self.partitions.get(&partition)?;
        let first_waiting = p.waiting.keys().next().copied();
        let candidate = match (first_waiting, p.next) {
            (Some(w), _) => Some(w),
            (None, next) => next,
        }?;
        Some(match p.failed {
            Some(f) => candidate.min(f),
            None => candidate,
        })
    }

    /// Committable offsets that moved since the last call, for storing.
    pub fn take_committable(&mut self) -> Vec<(i32, i64)> {
        let mut out = Vec::new();
        let partitions: Vec<i32> = self.partitions.keys().copied().collect();
        for partition in partitions {
            if let Some(offset) = self.committable(partition) {
                let p = self
                    .partitions
                    .get_mut(&partition)
                    .expect("partition listed above");
                if p.stored != Some(offset) {
                    p.stored = Some(offset);
                    out.push((partition, offset));
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Forgets partitions that were revoked: their acknowledgements no longer matter here.
    pub fn forget(&mut self, partition: i32) {
        if let Some(p) = self.partitions.remove(&partition) {
            self.waiting_messages = self.waiting_messages.saturating_sub(p.waiting.len());
            let holding = p.waiting.values().filter(|m| !m.held.is_empty()).count();
            self.holding = self.holding.saturating_sub(holding);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_only_past_acknowledged_messages_in_order() {
        let mut t = OffsetTracker::new();
        t.begin(0, 10, 2);
        t.begin(0, 11, 1);
        t.begin(0, 12, 0);
        assert_eq!(t.committable(0), Some(10));
        t.ack(0, 11);
        assert_eq!(t.committable(0), Some(10), "11 done but 10 is not");
        t.ack(0, 10);
        assert_eq!(t.committable(0), Some(10));
        t.ack(0, 10);
        assert_eq!(t.committable(0), Some(13));
        assert_eq!(t.take_committable(), [(0, 13)]);
        assert!(
            t.take_committable().is_empty(),
            "unchanged offsets are not stored twice"
        );
    }

    #[test]
    fn an_added_output_holds_the_offset_back() {
        let mut t = OffsetTracker::new();
        t.begin(0, 3, 1);
        assert!(t.add_output(0, 3));
        t.ack(0, 3);
        assert_eq!(t.committable(0), Some(3), "the added output still waits");
        t.ack(0, 3);
        assert_eq!(t.committable(0), Some(4));
        assert_eq!(t.waiting(), 0);
        assert!(!t.add_output(0, 3), "no longer waiting");
    }

    #[test]
    fn a_failure_pins_the_partition() {
        let mut t = OffsetTracker::new();
        t.begin(1, 5, 1);
        t.begin(1, 6, 1);
        t.fail(1, 5);
        t.ack(1, 5);
        t.ack(1, 6);
        assert_eq!(t.committable(1), Some(5));
        assert!(t.has_failed());
    }

    #[test]
    fn partitions_are_independent_and_can_be_forgotten() {
        let mut t = OffsetTracker::new();
        t.begin(0, 1, 1);
        t.begin(1, 7, 0);
        assert_eq!(t.committable(1), Some(8));
        assert_eq!(t.waiting(), 1);
        t.forget(0);
        assert_eq!(t.waiting(), 0);
        assert_eq!(t.committable(0), None);
    }

    fn state(n: u8) -> Output {
        Output::state("changelog", 0, format!("k{n}"), Some(vec![n]), 1)
    }

    #[test]
    fn held_outputs_go_out_in_order_once_the_outputs_before_them_are_acknowledged() {
        let mut t = OffsetTracker::new();
        t.begin_holding(0, 10, 1, vec![state(10)]);
        t.begin_holding(0, 11, 0, vec![state(11)]);
        t.begin_holding(0, 12, 1, vec![state(12)]);
        assert!(t.release().is_empty(), "10 still waits for its output");
        assert_eq!(t.committable(0), Some(10));
        t.ack(0, 12);
        assert!(t.release().is_empty(), "12 may not pass 10");
        t.ack(0, 10);
        let released: Vec<(i64, Option<String>)> = t
            .release()
            .into_iter()
            .map(|(_, o, out)| (o, out.key))
            .collect();
        assert_eq!(
            released,
            [
                (10, Some("k10".into())),
                (11, Some("k11".into())),
                (12, Some("k12".into()))
            ]
        );
        assert!(!t.holds());
        assert_eq!(t.committable(0), Some(10), "the state writes are in flight");
        t.ack(0, 10);
        t.ack(0, 11);
        assert_eq!(t.committable(0), Some(12));
        t.ack(0, 12);
        assert_eq!(t.committable(0), Some(13));
        assert_eq!(t.waiting(), 0);
    }

    #[test]
    fn held_outputs_wait_for_earlier_messages_without_state_writes() {
        let mut t = OffsetTracker::new();
        t.begin(0, 5, 1);
        t.begin_holding(0, 6, 1, vec![state(6)]);
        t.ack(0, 6);
        assert!(
            t.release().is_empty(),
            "5's output is not acknowledged: the state of 6 may not say 6 is done"
        );
        t.ack(0, 5);
        let released: Vec<i64> = t.release().into_iter().map(|(_, o, _)| o).collect();
        assert_eq!(released, [6]);
        t.ack(0, 6);
        assert_eq!(t.committable(0), Some(7));
    }

    #[test]
    fn a_release_starts_past_what_was_released_and_goes_back_for_a_record_read_again() {
        let mut t = OffsetTracker::new();
        t.begin_holding(0, 10, 0, vec![state(10)]);
        assert_eq!(t.release().len(), 1);
        assert!(!t.holds());
        assert_eq!(
            t.hold_after(0, vec![state(99)]).len(),
            1,
            "every waiting message released its writes: a tick's go at once, behind them"
        );
        t.begin(0, 11, 1);
        t.begin_holding(0, 12, 0, vec![state(12)]);
        assert!(t.holds());
        assert!(t.release().is_empty(), "11 waits");
        t.ack(0, 11);
        let offsets =
            |r: Vec<(i32, i64, Output)>| -> Vec<i64> { r.into_iter().map(|(_, o, _)| o).collect() };
        assert_eq!(offsets(t.release()), [12]);
        // The consumer went back (a seek): the record read again is released in its turn.
        t.begin_holding(0, 5, 0, vec![state(5)]);
        assert_eq!(offsets(t.release()), [5]);
        assert!(!t.holds());
    }

    #[test]
    fn a_ticks_state_writes_follow_those_held_before_them() {
        let mut t = OffsetTracker::new();
        assert_eq!(
            t.hold_after(0, vec![state(1)]).len(),
            1,
            "nothing waits: at once"
        );
        t.begin_holding(0, 10, 1, vec![state(10)]);
        t.begin(0, 11, 1);
        assert!(t.hold_after(0, vec![state(99)]).is_empty());
        t.ack(0, 10);
        let keys = |r: Vec<(i32, i64, Output)>| -> Vec<(i64, String)> {
            r.into_iter()
                .map(|(_, o, out)| (o, out.key.unwrap()))
                .collect()
        };
        assert_eq!(keys(t.release()), [(10, "k10".into())], "11 still waits");
        t.ack(0, 11);
        assert_eq!(keys(t.release()), [(11, "k99".into())]);
        t.ack(0, 10);
        t.ack(0, 11);
        assert_eq!(t.committable(0), Some(12));
        assert_eq!(t.waiting(), 0);
    }

    proptest::proptest! {
        /// Whatever order acknowledgements arrive in, the committable offset never passes a
        /// message with an unacknowledged output.
        #[test]
        fn never_commits_past_an_unacknowledged_output(outputs in proptest::collection::vec(0u32..3, 1..40), order in proptest::collection::vec(0usize..1000, 0..120)) {
            let mut t = OffsetTracker::new();
            let mut left: Vec<u32> = outputs.clone();
            for (i, n) in outputs.iter().enumerate() {
                t.begin(0, i as i64, *n);
            }
            for pick in order {
                let i = pick % outputs.len();
                if left[i] > 0 {
                    left[i] -= 1;
                    t.ack(0, i as i64);
                }
                let committable = t.committable(0).unwrap();
                let first_open = left.iter().position(|&l| l > 0).map_or(outputs.len() as i64, |i| i as i64);
                proptest::prop_assert_eq!(committable, first_open);
            }
        }
    }
}
