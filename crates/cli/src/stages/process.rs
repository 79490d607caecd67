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
        if self.route.replayed(input) {
            return Ok(());
        }
        let Some(mut scored) = self.analyze.score_record(input)? else {
            return Ok(());
        };
        if self.tap {
            out.push(self.analyze.scored_output(&mut scored)?);
        } else {
            self.fit(input, &mut scored)?;
        }
        self.route.route_scored(input, scored, out)
    }

    fn read_ahead(&self) -> usize {
        self.analyze.read_ahead()
    }

    /// Analysis is the stateless half: done ahead, on the analyze threads. Routing waits
    /// for each record's turn.
    fn prepare(&mut self, inputs: &[Input<'_>]) {
        self.analyze.prepare(inputs);
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

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_pipeline::Metrics;
    use earshot_route::Router;
    use std::sync::Arc;

    /// The example configuration's analyzer and router.
    fn parts() -> (
        Arc<earshot_analyze::Analyzer>,
        Router,
        earshot_pipeline::Topics,
    ) {
        let config = crate::commands::demo::default_config();
        let settings = crate::settings::Settings::load(Some(&config)).expect("the example loads");
        let analyzer = Arc::new(settings.analyzer().expect("its analyzer"));
        let router = settings.router(&analyzer).expect("its router");
        (analyzer, router, settings.kafka.topics.clone())
    }

    fn input(payload: &[u8]) -> Input<'_> {
        Input::bare("earshot.posts.raw", 0, 0, Some(payload))
    }

    /// What each shape makes of `posts`, with `max_message_bytes`: the fused stage's
    /// outputs, and the route stage's outputs of what the analyze stage wrote (each as
    /// (topic, payload) or the reject code).
    #[allow(clippy::type_complexity)]
    fn both_shapes(
        posts: &[Vec<u8>],
        tap: bool,
        max_message_bytes: usize,
    ) -> (
        Vec<Result<Vec<(String, Vec<u8>)>, &'static str>>,
        Vec<Result<Vec<(String, Vec<u8>)>, &'static str>>,
    ) {
        let (analyzer, router, topics) = parts();
        let config = router.config().clone();
        let metrics = Metrics::unregistered();
        let analyze = || {
            AnalyzeProcessor::new(analyzer.clone(), topics.scored.clone(), &metrics)
                .with_limits(earshot_model::PostLimits::default(), max_message_bytes)
        };
        let route = || {
            RouteProcessor::new(Router::new(config.clone()), topics.clone(), metrics.clone())
                .with_clock(earshot_pipeline::RouteClock::Event)
        };
        let mut fused = ProcessProcessor::new(analyze(), route().reading(topics.raw.clone()), tap);
        let (mut analyze, mut route) = (analyze(), route());
        let records = |out: Vec<Output>| -> Vec<(String, Vec<u8>)> {
            out.into_iter()
                .map(|o| (o.topic, o.payload.unwrap_or_default()))
                .collect()
        };
        let (mut one, mut two) = (Vec::new(), Vec::new());
        for post in posts {
            let mut out = Vec::new();
            one.push(
                fused
                    .process(&input(post), &mut out)
                    .map(|()| records(out))
                    .map_err(|r| r.code),
            );
            let mut scored = Vec::new();
            let result = analyze.process(&input(post), &mut scored).and_then(|()| {
                let mut out = if tap { scored.clone() } else { Vec::new() };
                for record in &scored {
                    let mut scored_input = input(record.payload.as_deref().unwrap_or_default());
                    scored_input.topic = "earshot.posts.scored";
                    route.process(&scored_input, &mut out)?;
                }
                Ok(records(out))
            });
            two.push(result.map_err(|r| r.code));
        }
        (one, two)
    }

    fn sample() -> Vec<Vec<u8>> {
        let path = crate::commands::demo::default_config().with_file_name("posts.jsonl");
        std::fs::read_to_string(path)
            .expect("the sample posts")
            .lines()
            .take(400)
            .map(|l| l.as_bytes().to_vec())
            .collect()
    }

    #[test]
    fn the_fused_stage_makes_what_analyze_then_route_make() {
        for tap in [false, true] {
            let (fused, split) = both_shapes(&sample(), tap, 1_000_000);
            assert!(
                fused.iter().flatten().flatten().count() > 50,
                "tickets made"
            );
            assert_eq!(fused, split, "tap {tap}");
        }
    }

    /// What one record made: (topic, payload) of each output, or the rejection's code.
    type Outcome = Result<Vec<(String, Vec<u8>)>, &'static str>;

    /// The fused processor with `threads` scoring threads, fed `posts` as the runner feeds
    /// it: `batch` records prepared together, then processed one by one.
    fn in_batches(posts: &[Vec<u8>], threads: usize, batch: usize) -> Vec<Outcome> {
        let (analyzer, router, topics) = parts();
        let metrics = Metrics::unregistered();
        let analyze =
            AnalyzeProcessor::new(analyzer, topics.scored.clone(), &metrics).with_threads(threads);
        let route = RouteProcessor::new(router, topics.clone(), metrics.clone())
            .with_clock(earshot_pipeline::RouteClock::Event)
            .reading(topics.raw.clone());
        let mut fused = ProcessProcessor::new(analyze, route, false);
        let inputs: Vec<Input<'_>> = posts
            .iter()
            .enumerate()
            .map(|(i, post)| Input::bare("earshot.posts.raw", 0, i as i64, Some(post)))
            .collect();
        let mut results = Vec::new();
        for records in inputs.chunks(batch) {
            fused.prepare(records);
            let ahead = if threads > 0 { records.len() } else { 0 };
            assert_eq!(fused.analyze.scored_ahead(), ahead, "scored ahead");
            for input in records {
                let mut out = Vec::new();
                let result = fused.process(input, &mut out).map(|()| {
                    out.into_iter()
                        .map(|o| (o.topic, o.payload.unwrap_or_default()))
                        .collect()
                });
                results.push(result.map_err(|r| r.code));
            }
        }
        results
    }

    #[test]
    fn scoring_ahead_on_threads_changes_no_output() {
        let mut posts = sample();
        posts.insert(7, b"not json".to_vec());
        posts.insert(90, br#"{"id":"","text":"empty id"}"#.to_vec());
        let alone = in_batches(&posts, 0, 1);
        assert!(
            alone.iter().flatten().flatten().count() > 50,
            "tickets made"
        );
        assert!(alone.iter().any(Result::is_err), "rejects made");
        for (threads, batch) in [(1, 64), (3, 37), (2, 1)] {
            assert_eq!(
                in_batches(&posts, threads, batch),
                alone,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn a_post_too_large_to_score_is_rejected_alike() {
        // A scored record budget of 200 bytes (the message size less route's room):
        // no scored post fits, even without its explanation.
        let text = "星空モバイル 繋がらない 圏外 ".repeat(40);
        let post = format!(r#"{{"id":"big","text":"{text}"}}"#).into_bytes();
        let (fused, split) = both_shapes(&[post], false, 16 * 1024 + 200);
        assert_eq!(fused, vec![Err("output_too_large")]);
        assert_eq!(fused, split);
    }
}
