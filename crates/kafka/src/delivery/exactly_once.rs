//! Exactly-once: a record's outputs (state writes included) and its input offset go into one
//! Kafka transaction, ended every `transaction_messages` records or `transaction_ms`.
//!
//! An open transaction and the input positions it will commit are one value,
//! [`Transaction`]: it is created by `begin`, and `commit` or `abort` consume it, so
//! positions of an aborted transaction can never be committed by the next one.
//!
//! A revoke commits the open transaction (this replica still owns the partitions until it
//! returns, as Kafka Streams does); if that fails it is aborted and the partitions' next
//! owner redoes it. An output the broker refuses for good (too large, invalid) makes the
//! transaction unable to commit: it is aborted, the partitions it touched go back to where
//! it began, and the input whose output was refused goes to the dead-letter topic when it
//! comes again.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{error, info, warn};

use super::{send, Ack, Delivery, Io, Pending, Rewind, Taken};
use crate::client::is_permanent;
use crate::record::Output;
use crate::{StageError, StageReport};

/// Each step of a transaction waits at most this long for the broker.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The input records of one transaction on one partition: from `first` (where a rewind
/// goes back to) up to `next` (the offset committed with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    first: i64,
    next: i64,
}

/// An open transaction with the input positions it commits.
#[derive(Debug)]
pub(crate) struct Transaction {
    started: Instant,
    /// Input records in it.
    records: usize,
    pub(super) positions: BTreeMap<i32, Span>,
    /// Inputs whose outputs the broker refused for good; it can only be aborted.
    refused: Vec<(i32, i64)>,
}

impl Transaction {
    fn begin(io: &Io<'_>) -> Result<Transaction, StageError> {
        io.producer
            .begin_transaction()
            .map_err(StageError::Transaction)?;
        Ok(Transaction {
            started: Instant::now(),
            records: 0,
            positions: BTreeMap::new(),
            refused: Vec::new(),
        })
    }

    fn add(&mut self, partition: i32, offset: i64) {
        self.records += 1;
        let span = self.positions.entry(partition).or_insert(Span {
            first: offset,
            next: offset + 1,
        });
        span.next = span.next.max(offset + 1);
    }

    /// Due to end: enough records, or open long enough. One that `tick` opened holds no
    /// record and must still end on time: left open until the next input record, it would
    /// hold back read_committed readers and outlive `transaction.timeout.ms`.
    fn is_due(&self, io: &Io<'_>) -> bool {
        let limit = io
            .settings
            .transaction_messages
            .min(io.settings.max_in_flight)
            .max(1);
        self.records >= limit
            || self.started.elapsed() >= Duration::from_millis(io.settings.transaction_ms)
    }

    /// Commits the outputs and the input positions together.
    fn commit(self, io: &Io<'_>) -> Result<(), StageError> {
        if !self.positions.is_empty() {
            let mut tpl = TopicPartitionList::new();
            for (&partition, span) in &self.positions {
                tpl.add_partition_offset(io.topic, partition, Offset::Offset(span.next))
                    .map_err(StageError::Transaction)?;
            }
            let metadata = io.consumer.group_metadata().ok_or(StageError::Fatal(
                KafkaError::ConsumerCommit(RDKafkaErrorCode::InvalidGroupId),
            ))?;
            io.producer
                .send_offsets_to_transaction(&tpl, &metadata, TIMEOUT)
                .map_err(StageError::Transaction)?;
        }
        io.producer
            .commit_transaction(TIMEOUT)
            .map_err(StageError::Transaction)
    }

    /// Aborts: the outputs are discarded for read_committed readers, nothing is committed.
    /// Returns where each partition it touched must be processed again from.
    fn abort(self, io: &Io<'_>, timeout: Duration) -> Rewind {
        if let Err(e) = io.producer.abort_transaction(timeout) {
            error!(stage = io.stage, error = %e, "Could not abort the transaction");
        }
        Rewind(
            self.positions
                .into_iter()
                .map(|(partition, span)| (partition, span.first))
                .collect(),
        )
    }
}

#[derive(Debug, Default)]
pub(crate) struct ExactlyOnce {
    pub(super) open: Option<Transaction>,
    /// Inputs whose outputs the broker refused for good, dead-lettered when they come again.
    refused: HashSet<(i32, i64)>,
    failure: Option<StageError>,
}

impl ExactlyOnce {
    pub fn new() -> ExactlyOnce {
        ExactlyOnce::default()
    }

    fn open(&mut self, io: &Io<'_>) -> Result<&mut Transaction, StageError> {
        if self.open.is_none() {
            self.open = Some(Transaction::begin(io)?);
        }
        Ok(self.open.as_mut().expect("opened above"))
    }

    fn send_all(
        io: &Io<'_>,
        outputs: &mut Vec<Output>,
        input: Option<(i32, i64)>,
        trace: (&str, i64),
    ) {
        for output in outputs.drain(..) {
            let pending = Pending {
                topic: output.topic.clone(),
                input,
                source: None,
                riders: Vec::new(),
            };
            send(io.producer, output, pending, trace);
        }
    }
}

impl Delivery for ExactlyOnce {
    const KEEPS_INPUTS: bool = false;

    fn taken(
        &mut self,
        io: &Io<'_>,
        taken: Taken,
        outputs: &mut Vec<Output>,
    ) -> Result<(), StageError> {
        self.open(io)?.add(taken.partition, taken.offset);
        let input = Some((taken.partition, taken.offset));
        Self::send_all(io, outputs, input, (&taken.trace, taken.ingested_at));
        Ok(())
    }

    fn tick(&mut self, io: &Io<'_>, outputs: &mut Vec<Output>) -> Result<(), StageError> {
        if outputs.is_empty() {
            return Ok(());
        }
        self.open(io)?;
        Self::send_all(io, outputs, None, ("tick", crate::health::now_ms() as i64));
        Ok(())
    }

    fn acknowledged(&mut self, io: &Io<'_>, ack: Ack, _report: &mut StageReport) {
        let Ack { pending, error } = ack;
        let Some(e) = error else {
            return;
        };
        match (pending.input, self.open.as_mut()) {
            (Some(input), Some(txn)) if is_permanent(&e) => {
                warn!(stage = io.stage, error = %e, topic = %pending.topic, partition = input.0, offset = input.1, "Output refused by the broker; the transaction is aborted and its input goes to the dead-letter topic");
                txn.refused.push(input);
            }
            (input, _) => {
                let (partition, offset) = input.unwrap_or((-1, -1));
                error!(stage = io.stage, error = %e, topic = %pending.topic, partition, offset, "Could not deliver an output; the transaction will not be committed");
                io.metrics
                    .errors
                    .with_label_values(&[io.stage, "delivery_failed"])
                    .inc();
                self.failure.get_or_insert(StageError::Delivery {
                    topic: pending.topic.clone(),
                    partition,
                    offset,
                    error: e.to_string(),
                });
            }
        }
    }

    fn waiting(&self) -> usize {
        self.open.as_ref().map_or(0, |txn| txn.records)
    }

    fn maintain(
        &mut self,
        io: &Io<'_>,
        _report: &mut StageReport,
    ) -> Result<Option<Rewind>, StageError> {
        let Some(txn) = self
            .open
            .take_if(|txn| !txn.refused.is_empty() || txn.is_due(io))
        else {
            return Ok(None);
        };
        if txn.refused.is_empty() {
            return txn.commit(io).map(|()| None);
        }
        self.refused.extend(txn.refused.iter().copied());
        let rewind = txn.abort(io, TIMEOUT);
        info!(stage = io.stage, partitions = ?rewind.0, "Transaction aborted after a refused output; processing again from its start");
        Ok(Some(rewind))
    }

    fn failure(&mut self) -> Option<StageError> {
        self.failure.take()
    }

    fn has_failed(&self) -> bool {
        self.failure.is_some()
    }

    fn refused_before(&mut self, partition: i32, offset: i64) -> bool {
        self.refused.remove(&(partition, offset))
    }

    fn revoke(&mut self, io: &Io<'_>, _partitions: &[i32], _report: &mut StageReport) -> bool {
        // Eager rebalancing revokes every partition at once, so the whole transaction is
        // this revoke's to settle.
        let Some(txn) = self.open.take() else {
            return true;
        };
        if txn.refused.is_empty() {
            match txn.commit(io) {
                Ok(()) => return true,
                Err(e) => {
                    warn!(stage = io.stage, error = %e, "Could not commit the transaction at revoke; aborting it, the next owner redoes it");
                    if let Err(e) = io.producer.abort_transaction(TIMEOUT) {
                        error!(stage = io.stage, error = %e, "Could not abort the transaction at revoke");
                    }
                    return false;
                }
            }
        }
        txn.abort(io, TIMEOUT);
        false
    }

    fn finish(
        &mut self,
        io: &Io<'_>,
        deadline: Duration,
        clean: bool,
        _report: &mut StageReport,
    ) -> Result<(), StageError> {
        match self.open.take() {
            Some(txn) if clean && txn.refused.is_empty() => txn.commit(io),
            Some(txn) => {
                txn.abort(io, deadline);
                Ok(())
            }
            None => Ok(()),
        }
    }
}
