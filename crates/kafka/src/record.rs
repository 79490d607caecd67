//! What a stage reads and writes: [`Input`], [`Output`], [`Reject`], the [`Processor`] that
//! turns one into the other, and the headers every Earshot record carries.

use rdkafka::message::{Header, OwnedHeaders};

/// Header with the version of the payload's JSON shape.
pub const SCHEMA_HEADER: &str = "earshot-schema-version";
/// Header that follows one post through every stage, for logs and traces.
pub const TRACE_HEADER: &str = "earshot-trace-id";
/// Header with the time (ms since the epoch) ingest published the post, for post→ticket
/// latency.
pub const INGESTED_AT_HEADER: &str = "earshot-ingested-at";

/// One consumed record, borrowed from the consumer.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    /// The record's Kafka timestamp, ms since the epoch.
    pub timestamp_ms: Option<i64>,
    pub trace_id: Option<&'a str>,
    pub ingested_at_ms: Option<i64>,
}

impl<'a> Input<'a> {
    /// A record of `topic` at `partition` and `offset` with `payload`, without key, time or
    /// headers: what tests, benches and tools hand a processor directly.
    pub fn bare(
        topic: &'a str,
        partition: i32,
        offset: i64,
        payload: Option<&'a [u8]>,
    ) -> Input<'a> {
        Input {
            topic,
            partition,
            offset,
            key: None,
            payload,
            timestamp_ms: None,
            trace_id: None,
            ingested_at_ms: None,
        }
    }
}

/// One record to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub topic: String,
    /// The partition to write to; `None` lets the key choose (librdkafka's partitioner).
    pub partition: Option<i32>,
    pub key: Option<String>,
    /// `None` is a tombstone: it deletes the key from a compacted topic.
    pub payload: Option<Vec<u8>>,
    /// Headers besides the schema version, trace id and ingest time the runner adds.
    pub headers: Vec<(&'static str, String)>,
    /// The schema version of the payload.
    pub schema_version: u32,
    /// A write of the stage's own state (a changelog record). At-least-once sends it only
    /// once every other output of its input, and of every earlier input of its partition,
    /// is acknowledged: state restored after a crash then never holds an input whose
    /// outputs were lost (which a redelivery, recognised as done, would not repeat).
    /// Exactly-once sends it at once, in the same transaction.
    pub state: bool,
}

impl Output {
    pub fn new(
        topic: impl Into<String>,
        key: Option<String>,
        payload: Vec<u8>,
        schema_version: u32,
    ) -> Output {
        Output {
            topic: topic.into(),
            partition: None,
            key,
            payload: Some(payload),
            headers: Vec::new(),
            schema_version,
            state: false,
        }
    }

    /// A state write to `partition` of a changelog `topic`: `payload` for `key`, or a
    /// tombstone that forgets it.
    pub fn state(
        topic: impl Into<String>,
        partition: i32,
        key: String,
        payload: Option<Vec<u8>>,
        schema_version: u32,
    ) -> Output {
        Output {
            topic: topic.into(),
            partition: Some(partition),
            key: Some(key),
            payload,
            headers: Vec::new(),
            schema_version,
            state: true,
        }
    }

    /// Bytes the record takes besides Kafka's framing: payload, key and headers.
    pub fn size(&self) -> usize {
        self.payload.as_ref().map_or(0, Vec::len)
            + self.key.as_ref().map_or(0, String::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }

    /// The Kafka headers of this record: its schema version, the trace id and ingest time
    /// when known, then its own headers.
    pub fn kafka_headers(&self, trace: Option<&str>, ingested_at_ms: Option<i64>) -> OwnedHeaders {
        // itoa, not `to_string`: every output record carries these numbers.
        let mut number = itoa::Buffer::new();
        let mut headers = OwnedHeaders::new_with_capacity(3 + self.headers.len()).insert(Header {
            key: SCHEMA_HEADER,
            value: Some(number.format(self.schema_version).as_bytes()),
        });
        if let Some(trace) = trace {
            headers = headers.insert(Header {
                key: TRACE_HEADER,
                value: Some(trace.as_bytes()),
            });
        }
        if let Some(at) = ingested_at_ms {
            headers = headers.insert(Header {
                key: INGESTED_AT_HEADER,
                value: Some(number.format(at).as_bytes()),
            });
        }
        for (key, value) in &self.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            });
        }
        headers
    }
}

/// Why a record cannot be processed: it goes to the dead-letter topic with this reason and
/// the partition moves on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// A short stable code, also a metrics label: `invalid_json`, `invalid_post`, `oversize`…
    pub code: &'static str,
    pub reason: String,
}

impl Reject {
    pub fn new(code: &'static str, reason: impl Into<String>) -> Reject {
        Reject {
            code,
            reason: reason.into(),
        }
    }
}

/// A stage's logic between consume and produce.
///
/// The runner calls it from one thread, between records: `assigned` before the first record
/// of a partition, `revoked` after the last one's outputs are settled, `tick` about once a
/// second. A processor with state per partition (route's conversations) restores it in
/// `assigned` and forgets it in `revoked`, so that a rebalance hands the state over with the
/// partition.
pub trait Processor: Send {
    /// Handles one record: pushes its outputs (possibly none) to `out`, or rejects it.
    fn process(&mut self, input: &Input<'_>, out: &mut Vec<Output>) -> Result<(), Reject>;

    /// How many records the runner may hand to [`Processor::prepare`] at once; 1 (the
    /// default): none, each record is taken as it comes.
    fn read_ahead(&self) -> usize {
        1
    }

    /// Records about to be processed, in the order [`Processor::process`] will get them:
    /// work that needs no state changed by earlier records (analysis) can be done here for
    /// all of them at once, on several threads. `process` is still called for each record
    /// (but may not be, for one the runner dead-letters first) and must give the same
    /// outcome whether or not this ran. A panic here is caught and ignored: `process`
    /// meets it again, on the record that causes it.
    fn prepare(&mut self, _inputs: &[Input<'_>]) {}

    /// Called about once a second and once at shutdown, for outputs that time produces
    /// (an incident closing when no post arrives).
    fn tick(&mut self, _out: &mut Vec<Output>) {}

    /// `partitions` of the input topic are now this replica's: restore what they need. No
    /// record of theirs is processed before this returns; an error stops the stage.
    fn assigned(&mut self, _partitions: &[i32]) -> Result<(), String> {
        Ok(())
    }

    /// `partitions` are no longer this replica's. `settled`: every output of their records
    /// was acknowledged and their offsets committed, so state kept for them matches what
    /// was written; otherwise it may hold records that will be processed again elsewhere.
    fn revoked(&mut self, _partitions: &[i32], _settled: bool) {}
}
