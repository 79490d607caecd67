//! The fused stage: raw posts in, analyze → route in one consumer, tickets, incidents and
//! unrouted posts out. The raw and scored topics are keyed alike (by conversation), so route
//! needs no repartition and the hop through the scored topic can be skipped, the way Kafka
//! Streams runs a sub-topology in one task when the key does not change.
//!
//! Everything else is the two stages' own logic, called in turn: decoding, limits, dead
//! letters and discards from [`AnalyzeProcessor`]; routing, state in the changelog (kept by
//! raw partition), spike counts and ticks from [`RouteProcessor`]. The delivery guarantee is
//! the runner's, as for any stage. An optional tap still writes each scored post to the
//! scored topic, in the same transaction or acknowledgement as its tickets, for other
//! consumers of it.

use earshot_kafka::{Input, Output, Processor, Reject};
use earshot_model::ScoredPost;

use crate::config_set::ConfigSet;
use crate::reload::swap::Reconfigure;
use crate::stages::analyze::{encode_within, AnalyzeProcessor};
use crate::stages::route::RouteProcessor;

/// A raw record this much smaller than the scored budget makes a scored record within it,
/// whatever its analysis says: the exact (encoding) check is left to larger ones.
const SURELY_FITS_FACTOR: usize = 64;

#[derive(Debug)]
pub struct ProcessProcessor {
    analyze: AnalyzeProcessor,
    route: RouteProcessor,
    /// Also write scored posts to the scored topic.
    tap: bool,
    /// The scored record's budget: what the analyze stage keeps a scored record within, so
    /// that the fused stage cuts explanations exactly where the split pipeline does.
    max_scored_bytes: usize,
}

impl ProcessProcessor {
    /// `route` must read the raw topic ([`RouteProcessor::reading`]), whose partitions its
    /// state is kept by.
    pub fn new(analyze: AnalyzeProcessor, route: RouteProcessor, tap: bool) -> ProcessProcessor {
        ProcessProcessor {
            max_scored_bytes: analyze.max_output_bytes(),
            analyze,
            route,
            tap,
        }
    }

    /// Cuts the explanation as the analyze stage would have before the scored topic: only
    /// records large enough that it could matter are encoded to find out.
    fn fit(&self, input: &Input<'_>, scored: &mut ScoredPost) -> Result<(), Reject> {
        let raw = input.payload.map_or(0, <[u8]>::len);
        if raw.saturating_mul(SURELY_FITS_FACTOR) < self.max_scored_bytes {
            return Ok(());
        }
        encode_within(scored, self.max_scored_bytes).map(drop)
    }
}

impl Processor for ProcessProcessor {
    fn process(&mut self, input: &Input<'_>, out: &mut Vec<Output>) -> Result<(), Reject> {
        let Some(mut scored) = self.analyze.score_record(input)? else {
            return Ok(());
        };
        if self.tap {
            out.push(self.analyze.scored_output(&mut scored)?);
        } else {
            self.fit(input, &mut scored)?;
        }
        self.route
            .route_scored(input.partition, scored, input.ingested_at_ms, out)
    }

    fn tick(&mut self, out: &mut Vec<Output>) {
        self.route.tick(out);
    }

    fn assigned(&mut self, partitions: &[i32]) -> Result<(), String> {
        self.route.assigned(partitions)
    }

    fn revoked(&mut self, partitions: &[i32], settled: bool) {
        self.route.revoked(partitions, settled);
    }
}

impl Reconfigure for ProcessProcessor {
    fn reconfigure(&mut self, set: &ConfigSet) {
        self.analyze.reconfigure(set);
        self.route.reconfigure(set);
    }
}
