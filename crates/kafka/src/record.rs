//! What a stage reads and writes, and the headers every Earshot record carries.

/// Header with the version of the payload's JSON shape.
pub const SCHEMA_HEADER: &str = "earshot-schema-version";
/// Header that follows one post through every stage, for logs and traces.
pub const TRACE_HEADER: &str = "earshot-trace-id";
/// Header with the time (ms since the epoch) ingest published the post, for post→ticket
/// latency.
pub const INGESTED_AT_HEADER: &str = "earshot-ingested-at";
/// Dead-letter headers.
pub const DLQ_STAGE_HEADER: &str = "earshot-dlq-stage";
pub const DLQ_ERROR_CODE_HEADER: &str = "earshot-dlq-error-code";
pub const DLQ_REASON_HEADER: &str = "earshot-dlq-reason";
pub const DLQ_TOPIC_HEADER: &str = "earshot-dlq-topic";
pub const DLQ_PARTITION_HEADER: &str = "earshot-dlq-partition";
pub const DLQ_OFFSET_HEADER: &str = "earshot-dlq-offset";
/// On a dead letter whose payload was cut to fit: the size of the original, in bytes…
pub const DLQ_ORIGINAL_BYTES_HEADER: &str = "earshot-dlq-original-bytes";
/// …and its SHA-256, in hex.
pub const DLQ_ORIGINAL_SHA256_HEADER: &str = "earshot-dlq-original-sha256";

/// What a dead letter whose payload was cut says about the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncated {
    pub original_bytes: u64,
    /// SHA-256 of the whole original, lower-case hex.
    pub sha256: String,
}

impl Truncated {
    /// The headers that carry it.
    pub fn headers(&self) -> [(&'static str, String); 2] {
        [
            (DLQ_ORIGINAL_BYTES_HEADER, self.original_bytes.to_string()),
            (DLQ_ORIGINAL_SHA256_HEADER, self.sha256.clone()),
        ]
    }
}

/// Size and SHA-256 of bytes that arrive in pieces (a line too long to keep).
#[derive(Debug, Clone, Default)]
pub struct PayloadHasher {
    hasher: sha2::Sha256,
    bytes: u64,
}

impl PayloadHasher {
    pub fn update(&mut self, bytes: &[u8]) {
        use sha2::Digest;
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
    }

    pub fn finish(self) -> Truncated {
        use sha2::Digest;
        let digest = self.hasher.finalize();
        Truncated {
            original_bytes: self.bytes,
            sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// A dead letter's payload: `bytes` when at most `max` long, else its first `max` bytes and
/// what was cut.
pub fn fit_dead_letter(bytes: &[u8], max: usize) -> (&[u8], Option<Truncated>) {
    if bytes.len() <= max {
        return (bytes, None);
    }
    let mut hasher = PayloadHasher::default();
    hasher.update(bytes);
    (&bytes[..max], Some(hasher.finish()))
}

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

/// One record to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub topic: String,
    pub key: Option<String>,
    pub payload: Vec<u8>,
    /// Headers besides the schema version, trace id and ingest time the runner adds.
    pub headers: Vec<(&'static str, String)>,
    /// The schema version of the payload.
    pub schema_version: u32,
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
            key,
            payload,
            headers: Vec::new(),
            schema_version,
        }
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
pub trait Processor: Send {
    /// Handles one record: pushes its outputs (possibly none) to `out`, or rejects it.
    fn process(&mut self, input: &Input<'_>, out: &mut Vec<Output>) -> Result<(), Reject>;

    /// Called about once a second and once at shutdown, for outputs that time produces
    /// (an incident closing when no post arrives).
    fn tick(&mut self, _out: &mut Vec<Output>) {}
}
