//! At-least-once: an input offset is stored only when every output of that record and of
//! every earlier record of its partition is acknowledged ([`OffsetTracker`]); stored offsets
//! are auto-committed every second, and committed synchronously when partitions are revoked
//! and at shutdown. A delivery that fails for good pins its partition and stops the stage;
//! an output the broker refuses as unacceptable (too large, invalid) sends its input to the
//! dead-letter topic instead, and the partition moves on.

use foldhash::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::Producer;
use tracing::{error, warn};

use super::{commit_stored, send, store, Ack, Delivery, Io, Pending, Rewind, Source, Taken};
use crate::client::is_permanent;
use crate::dead_letter::{dead_letter_room, DeadLetter, Origin};
use crate::offsets::OffsetTracker;
use crate::record::Output;
use crate::{StageError, StageReport};

/// How often the loop stores committable offsets. Stored offsets are committed once a
/// second; storing them more often than every few milliseconds only costs time (revoke and
/// shutdown store what is due anyway).
const STORE_EVERY: Duration = Duration::from_millis(20);

#[derive(Default)]
pub(crate) struct AtLeastOnce {
    pub(super) tracker: OffsetTracker,
    /// The inputs of held-back state writes, to dead-letter them if a write is refused.
    held_sources: HashMap<(i32, i64), Arc<Source>>,
    last_store: Option<Instant>,
    failure: Option<StageError>,
}

impl AtLeastOnce {
    pub fn new() -> AtLeastOnce {
        AtLeastOnce::default()
    }

    /// Sends the held-back outputs whose turn came. Of several writes of one changelog key
    /// released together only the last is sent, carrying the others' inputs as riders: a
    /// compacted topic and a restore keep only the last value of a key anyway, and under
    /// load one release covers every record a batch of acknowledgements let go.
    fn release(&mut self, io: &Io<'_>) {
        let released = self.tracker.release();
        let mut riders = riders_of(&released);
        let (mut done, mut coalesced) = (Vec::new(), 0);
        for (i, (partition, offset, output)) in released.into_iter().enumerate() {
            if done.last() != Some(&(partition, offset)) {
                done.push((partition, offset));
            }
            let Some(riders) = riders[i].take() else {
                continue;
            };
            coalesced += riders.len() as u64;
            let source = self.held_sources.get(&(partition, offset)).cloned();
            let (trace, at) = source
                .as_ref()
                .map_or(("state", 0), |s| (s.trace.as_str(), s.ingested_at));
            let pending = Pending {
                topic: output.topic.clone(),
                input: Some((partition, offset)),
                source: source.clone(),
                riders,
            };
            send(io.producer, output, pending, (trace, at));
        }
        for input in done {
            self.held_sources.remove(&input);
        }
        if coalesced > 0 {
            io.metrics
                .state_writes_coalesced
                .with_label_values(&[io.stage])
                .inc_by(coalesced);
        }
    }

    /// Flushes the producer and applies what it reports until nothing is held back or in
    /// flight, or `deadline` passes.
    fn settle(&mut self, io: &Io<'_>, deadline: Duration, report: &mut StageReport) {
        let until = Instant::now() + deadline;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if let Err(e) = io.producer.flush(left) {
                warn!(stage = io.stage, error = %e, "Outputs still in flight; their records will be redelivered");
            }
            while let Ok(ack) = io.acks.try_recv() {
                self.acknowledged(io, ack, report);
            }
            self.release(io);
            if !self.tracker.holds() || Instant::now() >= until {
                return;
            }
            self.release(io);
        }
    }

    /// The broker refused an output of `source` for good: the input goes to the
    /// dead-letter topic (once, however many of its outputs were refused).
    fn dead_letter(&mut self, io: &Io<'_>, source: &Arc<Source>, reason: String) -> bool {
        if source.dead_lettered.swap(true, Ordering::SeqCst) {
            return false;
        }
        let (partition, offset) = (source.partition, source.offset);
        warn!(stage = io.stage, topic = %source.topic, partition, offset, reason = %reason, "Output refused by the broker; its input goes to the dead-letter topic");
        io.metrics
            .dead_letters
            .with_label_values(&[io.stage, "output_refused"])
            .inc();
        let input = source.input();
        let output = DeadLetter {
            stage: io.stage,
            code: "output_refused",
            reason: &reason,
            origin: Some(Origin {
                topic: input.topic,
                partition,
                offset,
            }),
            extra: Vec::new(),
        }
        .to_output(
            io.dlq_topic,
            input.key,
            input.payload.unwrap_or_default(),
            dead_letter_room(io.settings.max_message_bytes),
            None,
        );
        // One more output for this input: the offset waits for the dead letter too.
        if self.tracker.add_output(partition, offset) {
            let pending = Pending {
                topic: output.topic.clone(),
                input: Some((partition, offset)),
                source: None,
                riders: Vec::new(),
            };
            send(
                io.producer,
                output,
                pending,
                (&source.trace, source.ingested_at),
            );
        }
        true
    }
}

impl Delivery for AtLeastOnce {
    const KEEPS_INPUTS: bool = true;

    fn taken(
        &mut self,
        io: &Io<'_>,
        taken: Taken,
        outputs: &mut Vec<Output>,
    ) -> Result<(), StageError> {
        let (partition, offset) = (taken.partition, taken.offset);
        let held: Vec<Output> = if outputs.iter().any(|o| o.state) {
            let (held, now): (Vec<Output>, Vec<Output>) = outputs.drain(..).partition(|o| o.state);
            *outputs = now;
            held
        } else {
            Vec::new()
        };
        self.tracker
            .begin_holding(partition, offset, outputs.len() as u32, held);
        if self.tracker.holds() {
            if let Some(source) = &taken.source {
                self.held_sources
                    .insert((partition, offset), source.clone());
            }
        }
        for output in outputs.drain(..) {
            let pending = Pending {
                topic: output.topic.clone(),
                input: Some((partition, offset)),
                source: taken.source.clone(),
                riders: Vec::new(),
            };
            send(
                io.producer,
                output,
                pending,
                (&taken.trace, taken.ingested_at),
            );
        }
        self.release(io);
        Ok(())
    }

    fn tick(&mut self, io: &Io<'_>, outputs: &mut Vec<Output>) -> Result<(), StageError> {
        let now = crate::health::now_ms() as i64;
        // State writes of a tick (an expired conversation) follow the state writes of the
        // records before them, so that the changelog keeps each key's changes in order.
        let mut now_free = Vec::new();
        for output in outputs.drain(..) {
            match output.partition.filter(|_| output.state) {
                Some(partition) => {
                    now_free.extend(self.tracker.hold_after(partition, vec![output]))
                }
                None => now_free.push(output),
            }
        }
        for output in now_free {
            let pending = Pending {
                topic: output.topic.clone(),
                input: None,
                source: None,
                riders: Vec::new(),
            };
            send(io.producer, output, pending, ("tick", now));
        }
        self.release(io);
        Ok(())
    }

    fn acknowledged(&mut self, io: &Io<'_>, ack: Ack, report: &mut StageReport) {
        let Ack { pending, error } = ack;
        // Riders share the fate of the write that carried them; a write refused for good
        // sends only its own input to the dead-letter topic.
        let delivered = error
            .as_ref()
            .is_none_or(|e| is_permanent(e) && pending.source.is_some());
        for &(partition, offset) in &pending.riders {
            match delivered {
                true => self.tracker.ack(partition, offset),
                false => self.tracker.fail(partition, offset),
            }
        }
        match (error, pending.input) {
            (None, Some((partition, offset))) => self.tracker.ack(partition, offset),
            (None, None) => {}
            (Some(e), Some((partition, offset)))
                if is_permanent(&e) && pending.source.is_some() =>
            {
                let source = pending.source.as_ref().expect("checked above");
                let reason = format!("the broker refused an output to {}: {e}", pending.topic);
                if self.dead_letter(io, source, reason) {
                    report.dead_letters += 1;
                }
                self.tracker.ack(partition, offset);
            }
            (Some(e), input) => {
                let (partition, offset) = input.unwrap_or((-1, -1));
                error!(stage = io.stage, error = %e, topic = %pending.topic, partition, offset, "Could not deliver an output; offsets past it will not be committed");
                io.metrics
                    .errors
                    .with_label_values(&[io.stage, "delivery_failed"])
                    .inc();
                if input.is_some() {
                    self.tracker.fail(partition, offset);
                }
                self.failure.get_or_insert(StageError::Delivery {
                    topic: pending.topic.clone(),
                    partition,
                    offset,
                    error: e.to_string(),
                });
            }
        }
    }

    fn after_acks(&mut self, io: &Io<'_>) {
        self.release(io);
    }

    fn waiting(&self) -> usize {
        self.tracker.waiting()
    }

    fn maintain(
        &mut self,
        io: &Io<'_>,
        _report: &mut StageReport,
    ) -> Result<Option<Rewind>, StageError> {
        if self.last_store.is_none_or(|t| t.elapsed() >= STORE_EVERY) {
            self.last_store = Some(Instant::now());
            store(io, &self.tracker.take_committable());
        }
        Ok(None)
    }

    fn failure(&mut self) -> Option<StageError> {
        if self.tracker.has_failed() || self.failure.is_some() {
            return self.failure.take();
        }
        None
    }

    fn has_failed(&self) -> bool {
        self.tracker.has_failed() || self.failure.is_some()
    }

    fn revoke(&mut self, io: &Io<'_>, partitions: &[i32], report: &mut StageReport) -> bool {
        // Wait for the outputs of what this replica took, so that its offsets can be
        // committed before another replica takes over the partitions.
        self.settle(io, Duration::from_secs(30), report);
        let settled = self.tracker.waiting() == 0 && !self.tracker.has_failed();
        store(io, &self.tracker.take_committable());
        let committed = commit_stored(io, "at revoke");
        for &partition in partitions {
            self.tracker.forget(partition);
            self.held_sources.retain(|(p, _), _| *p != partition);
        }
        settled && committed
    }

    fn finish(
        &mut self,
        io: &Io<'_>,
        deadline: Duration,
        _clean: bool,
        report: &mut StageReport,
    ) -> Result<(), StageError> {
        self.settle(io, deadline, report);
        store(io, &self.tracker.take_committable());
        commit_stored(io, "at shutdown");
        Ok(())
    }
}

/// For each released output, the inputs it carries: `None` for a state write that a later
/// one of the same release replaces (same topic, partition and key), else its own input
/// list of the replaced writes' inputs (empty for most).
fn riders_of(released: &[(i32, i64, Output)]) -> Vec<Option<Vec<(i32, i64)>>> {
    let mut riders: Vec<Option<Vec<(i32, i64)>>> = vec![Some(Vec::new()); released.len()];
    if released.len() < 2 {
        return riders;
    }
    let mut last: HashMap<(&str, Option<i32>, &str), usize> = HashMap::default();
    for (i, (_, _, output)) in released.iter().enumerate() {
        if let (true, Some(key)) = (output.state, output.key.as_deref()) {
            last.insert((output.topic.as_str(), output.partition, key), i);
        }
    }
    for (i, (partition, offset, output)) in released.iter().enumerate() {
        let (true, Some(key)) = (output.state, output.key.as_deref()) else {
            continue;
        };
        let j = last[&(output.topic.as_str(), output.partition, key)];
        if j != i {
            let mut mine = riders[i].take().unwrap_or_default();
            mine.push((*partition, *offset));
            if let Some(theirs) = riders[j].as_mut() {
                theirs.append(&mut mine);
            }
        }
    }
    riders
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(offset: i64, key: &str) -> (i32, i64, Output) {
        (
            0,
            offset,
            Output::state("changelog", 0, key.into(), Some(vec![offset as u8]), 1),
        )
    }

    #[test]
    fn the_last_write_of_a_key_carries_the_earlier_ones() {
        let released = [
            write(10, "o"),
            write(10, "t/1"),
            write(11, "o"),
            write(12, "t/1"),
            write(12, "o"),
        ];
        let riders = riders_of(&released);
        assert_eq!(
            riders,
            [
                None,
                None,
                None,
                Some(vec![(0, 10)]),
                Some(vec![(0, 10), (0, 11)])
            ]
        );
    }

    #[test]
    fn other_partitions_and_topics_are_other_keys() {
        let mut other = write(11, "o");
        other.2.partition = Some(1);
        let mut topic = write(12, "o");
        topic.2.topic = "another".into();
        let riders = riders_of(&[write(10, "o"), other, topic]);
        assert!(riders.iter().all(|r| r.as_deref() == Some(&[][..])));
    }
}
