//! The analyze stage: raw posts in, scored posts out; posts that match no watchlist (and are
//! no reply in a conversation) are dropped and counted; undecodable or oversize records are
//! rejected to the dead-letter topic. A scored record is kept within one Kafka message by
//! cutting its explanation (hits, reasons, repeated term occurrences), never its scores.

use std::sync::Arc;

use earshot_analyze::{Analyzer, Scratch};
use earshot_kafka::{Input, Output, Processor, Reject};
use earshot_model::{Post, PostLimits, ScoredPost, ANALYSIS_SCHEMA_VERSION};
use earshot_pipeline::{score, Metrics};
use prometheus::IntCounter;

use crate::stages::ahead::{Ahead, Scoring};

#[derive(Debug)]
pub struct AnalyzeProcessor {
    analyzer: Arc<Analyzer>,
    scratch: Scratch,
    output_topic: String,
    discarded: IntCounter,
    limits: PostLimits,
    /// The scored record's budget: Kafka's message size less room for what route adds to
    /// a ticket.
    max_output_bytes: usize,
    /// Records scored ahead on threads of their own, when there are any.
    ahead: Ahead,
}

/// What route adds to a scored post when it makes a ticket (ids, reasons, SLA): a scored
/// record this much under the message size still fits as a ticket.
const ROUTE_ROOM_BYTES: usize = 16 * 1024;

/// How many items each explanation list keeps, tried in turn until the record fits.
const EXPLANATION_ITEMS: [usize; 4] = [256, 32, 4, 0];

impl AnalyzeProcessor {
    pub fn new(
        analyzer: Arc<Analyzer>,
        output_topic: String,
        metrics: &Metrics,
    ) -> AnalyzeProcessor {
        AnalyzeProcessor {
            analyzer,
            scratch: Scratch::new(),
            output_topic,
            discarded: metrics
                .posts_discarded
                .with_label_values(&["analyze", "no_watchlist"]),
            limits: PostLimits::default(),
            max_output_bytes: earshot_kafka::KafkaSettings::default()
                .max_message_bytes
                .saturating_sub(ROUTE_ROOM_BYTES),
            ahead: Ahead::new(0),
        }
    }

    /// Records taken together are scored ahead on `threads` threads beside the stage's
    /// (0: none).
    pub fn with_threads(mut self, threads: usize) -> AnalyzeProcessor {
        self.ahead = Ahead::new(threads);
        self
    }

    /// Posts larger than `limits` are dead-lettered; scored records are kept under
    /// `max_message_bytes` (less room for route's additions).
    pub fn with_limits(mut self, limits: PostLimits, max_message_bytes: usize) -> AnalyzeProcessor {
        self.limits = limits;
        self.max_output_bytes = max_message_bytes.saturating_sub(ROUTE_ROOM_BYTES);
        self
    }
}

/// Encodes a scored post within `max_bytes`, cutting the explanation as far as needed.
pub fn encode_within(scored: &mut ScoredPost, max_bytes: usize) -> Result<Vec<u8>, Reject> {
    // The hand-written writer: serde_json's bytes, and it cannot fail.
    let encode = |scored: &ScoredPost| -> Result<Vec<u8>, Reject> { Ok(scored.to_json_vec()) };
    let mut payload = encode(scored)?;
    for items in EXPLANATION_ITEMS {
        if payload.len() <= max_bytes {
            return Ok(payload);
        }
        if scored.analysis.trim_explanation(items) {
            payload = encode(scored)?;
        }
    }
    if payload.len() <= max_bytes {
        return Ok(payload);
    }
    Err(Reject::new(
        "output_too_large",
        format!(
            "the scored post is {} bytes even without its explanation, more than {max_bytes}",
            payload.len()
        ),
    ))
}

/// Decodes, checks and scores a raw record's payload.
pub fn score_payload(
    analyzer: &Analyzer,
    limits: &PostLimits,
    scratch: &mut Scratch,
    payload: Option<&[u8]>,
) -> Scoring {
    let post = decode_post(payload, limits)?;
    post.check_time(chrono::Utc::now(), limits)
        .map_err(|e| Reject::new(e.code(), e.to_string()))?;
    Ok(score(analyzer, scratch, post))
}

/// Decodes a post from a record, with the reason when it cannot be.
pub fn decode_post(payload: Option<&[u8]>, limits: &PostLimits) -> Result<Post, Reject> {
    let bytes = payload.ok_or_else(|| Reject::new("empty_record", "the record has no payload"))?;
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Reject::new("invalid_utf8", "the payload is not UTF-8"))?;
    Post::from_json_str_with(text, limits).map_err(|e| Reject::new(e.code(), e.to_string()))
}

impl crate::reload::swap::Reconfigure for AnalyzeProcessor {
    /// Watchlists, lexicon and model are all in the analyzer: one `Arc` swapped.
    fn reconfigure(&mut self, set: &crate::config_set::ConfigSet) {
        self.analyzer = set.analyzer.clone();
        self.ahead.forget();
    }
}

impl AnalyzeProcessor {
    /// The scored record's budget.
    pub fn max_output_bytes(&self) -> usize {
        self.max_output_bytes
    }

    /// Decodes, checks and scores a raw record: the scored post, or `None` when it matched
    /// no watchlist (counted as discarded).
    pub fn score_record(&mut self, input: &Input<'_>) -> Scoring {
        let scoring = match self.ahead.take(input) {
            Some(scoring) => scoring,
            None => score_payload(
                &self.analyzer,
                &self.limits,
                &mut self.scratch,
                input.payload,
            ),
        };
        if matches!(scoring, Ok(None)) {
            self.discarded.inc();
        }
        scoring
    }

    /// How many records are scored ahead and not yet taken.
    #[cfg(test)]
    pub(crate) fn scored_ahead(&self) -> usize {
        self.ahead.len()
    }

    /// The scored post as a record of the scored topic, its explanation cut to fit.
    pub fn scored_output(&self, scored: &mut ScoredPost) -> Result<Output, Reject> {
        let key = scored.post.conversation_key().to_string();
        let payload = encode_within(scored, self.max_output_bytes)?;
        Ok(Output::new(
            self.output_topic.clone(),
            Some(key),
            payload,
            ANALYSIS_SCHEMA_VERSION,
        ))
    }
}

impl Processor for AnalyzeProcessor {
    fn process(&mut self, input: &Input<'_>, out: &mut Vec<Output>) -> Result<(), Reject> {
        if let Some(mut scored) = self.score_record(input)? {
            out.push(self.scored_output(&mut scored)?);
        }
        Ok(())
    }

    fn read_ahead(&self) -> usize {
        self.ahead.read_ahead()
    }

    /// Hands records taken together to the scoring threads, which score them while the
    /// stage's thread processes the ones before.
    fn prepare(&mut self, inputs: &[Input<'_>]) {
        self.ahead.prepare(inputs, &self.analyzer, self.limits);
    }
}
