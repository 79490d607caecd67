//! The analyze stage: raw posts in, scored posts out; posts that match no watchlist (and are
//! no reply in a conversation) are dropped and counted; undecodable records are rejected to
//! the dead-letter topic.

use std::sync::Arc;

use earshot_analyze::{is_relevant, Analyzer, Scratch};
use earshot_kafka::{Input, Metrics, Output, Processor, Reject};
use earshot_model::{Post, ScoredPost, ANALYSIS_SCHEMA_VERSION};
use prometheus::IntCounter;

#[derive(Debug)]
pub struct AnalyzeProcessor {
    analyzer: Arc<Analyzer>,
    scratch: Scratch,
    output_topic: String,
    discarded: IntCounter,
}

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
        }
    }
}

/// Decodes a post from a record, with the reason when it cannot be.
pub fn decode_post(payload: Option<&[u8]>) -> Result<Post, Reject> {
    let bytes = payload.ok_or_else(|| Reject::new("empty_record", "the record has no payload"))?;
    if std::str::from_utf8(bytes).is_err() {
        return Err(Reject::new("invalid_utf8", "the payload is not UTF-8"));
    }
    Post::from_json(bytes).map_err(|e| Reject::new(e.code(), e.to_string()))
}

impl Processor for AnalyzeProcessor {
    fn process(&mut self, input: &Input<'_>, out: &mut Vec<Output>) -> Result<(), Reject> {
        let post = decode_post(input.payload)?;
        let analysis = self.analyzer.analyze_with(&post, &mut self.scratch);
        if !is_relevant(&post, &analysis) {
            self.discarded.inc();
            return Ok(());
        }
        let key = post.conversation_key().to_string();
        let payload = serde_json::to_vec(&ScoredPost { post, analysis })
            .map_err(|e| Reject::new("encode_failed", e.to_string()))?;
        out.push(Output::new(
            self.output_topic.clone(),
            Some(key),
            payload,
            ANALYSIS_SCHEMA_VERSION,
        ));
        Ok(())
    }
}
