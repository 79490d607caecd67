//! Dead letters: an input that cannot be processed goes to the dead-letter topic unchanged
//! (cut to fit), with headers that say which stage refused it, why, and where it was. One
//! builder for every producer of dead letters — the stage runner, file ingest and the
//! webhook and stream sinks — so they all carry the same headers.

use crate::record::Output;

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

/// Reasons and panic messages go into a header: at most this many bytes.
pub const MAX_REASON_BYTES: usize = 1024;
/// Room for what a record carries besides its payload (key, Earshot's headers, Kafka's
/// record framing).
pub const RECORD_OVERHEAD_BYTES: usize = 1024;

/// Where a dead letter's input was read (stages; ingest has no input record).
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

/// A dead letter: who refused what, why and where it came from.
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    /// `ingest`, `analyze`, `route`.
    pub stage: &'a str,
    /// A short stable code (`invalid_json`, `output_refused`, …).
    pub code: &'a str,
    /// For a person; clipped to [`MAX_REASON_BYTES`].
    pub reason: &'a str,
    pub origin: Option<Origin<'a>>,
    /// Headers of the producer's own (ingest: the source).
    pub extra: Vec<(&'static str, String)>,
}

impl DeadLetter<'_> {
    /// The record for `dlq_topic`: `payload` cut to at most `max_payload` bytes (the size and
    /// hash of the original in headers when cut, or `truncated` when the caller cut it
    /// already), keyed like the input.
    pub fn to_output(
        &self,
        dlq_topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        max_payload: usize,
        truncated: Option<Truncated>,
    ) -> Output {
        let (payload, cut) = fit_dead_letter(payload, max_payload);
        let mut output = Output::new(
            dlq_topic,
            key.map(|k| String::from_utf8_lossy(k).into_owned()),
            payload.to_vec(),
            0,
        );
        output.headers = vec![
            (DLQ_STAGE_HEADER, self.stage.to_string()),
            (DLQ_ERROR_CODE_HEADER, self.code.to_string()),
            (DLQ_REASON_HEADER, clip(self.reason, MAX_REASON_BYTES)),
        ];
        if let Some(origin) = self.origin {
            output.headers.extend([
                (DLQ_TOPIC_HEADER, origin.topic.to_string()),
                (DLQ_PARTITION_HEADER, origin.partition.to_string()),
                (DLQ_OFFSET_HEADER, origin.offset.to_string()),
            ]);
        }
        output
            .headers
            .extend(truncated.or(cut).iter().flat_map(Truncated::headers));
        output.headers.extend(self.extra.iter().cloned());
        output
    }
}

/// The largest dead-letter payload that fits a message of `max_message_bytes` with the
/// dead-letter headers.
pub fn dead_letter_room(max_message_bytes: usize) -> usize {
    max_message_bytes.saturating_sub(MAX_REASON_BYTES + RECORD_OVERHEAD_BYTES)
}

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

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_says_who_why_and_where() {
        let letter = DeadLetter {
            stage: "analyze",
            code: "invalid_json",
            reason: &"x".repeat(5000),
            origin: Some(Origin {
                topic: "raw",
                partition: 2,
                offset: 41,
            }),
            extra: vec![("earshot-source", "file".into())],
        };
        let out = letter.to_output("dlq", Some(b"k"), &[7; 100], 10, None);
        assert_eq!(out.topic, "dlq");
        assert_eq!(out.key.as_deref(), Some("k"));
        assert_eq!(out.payload.as_deref(), Some(&[7u8; 10][..]));
        let header = |name: &str| {
            out.headers
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header(DLQ_STAGE_HEADER), Some("analyze"));
        assert_eq!(header(DLQ_PARTITION_HEADER), Some("2"));
        assert_eq!(header(DLQ_OFFSET_HEADER), Some("41"));
        assert_eq!(header(DLQ_ORIGINAL_BYTES_HEADER), Some("100"));
        assert_eq!(header("earshot-source"), Some("file"));
        assert!(header(DLQ_REASON_HEADER).is_some_and(|r| r.len() <= MAX_REASON_BYTES));
    }

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clip("圏外圏外", 7), "圏…");
        assert_eq!(clip("short", 10), "short");
    }
}
