//! The stages' per-post cost without Kafka: the raw records of the bundled sample through the
//! fused stage's processor (decode, analyze, route, the tickets' JSON, route's changelog
//! records), and through the analyze stage's then the route stage's (the split shape, with
//! the scored record encoded and decoded between them). What is left to a stage beyond this
//! is the runner and librdkafka (`earshot bench pipeline`).
//!
//!     cargo bench --bench stage
//!
//! Times are the benchmark thread's CPU time (`common/thread_cpu.rs`), not wall time: on a
//! shared machine that is what stays put between runs. `stage_wall/fused_threads_N` is the
//! exception: the fused processor with N scoring threads (`[analyze] threads`), in wall
//! time, since it measures work moved off the stage's thread.

/// The allocator the `earshot` binary uses, so the numbers match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

#[path = "common/thread_cpu.rs"]
mod thread_cpu;
use earshot::settings::Settings;
use earshot::stages::analyze::AnalyzeProcessor;
use earshot::stages::process::ProcessProcessor;
use earshot::stages::route::RouteProcessor;
use earshot_kafka::{Input, Output, Processor};
use earshot_pipeline::{Metrics, RouteClock};
use earshot_route::Router;
use thread_cpu::ThreadCpu;

fn settings() -> Settings {
    let config = earshot_e2e::repo_root().join("examples/earshot.toml");
    Settings::load(Some(&config)).expect("the example configuration")
}

fn posts() -> Vec<Vec<u8>> {
    let path = earshot_e2e::repo_root().join("examples/posts.jsonl");
    std::fs::read_to_string(path)
        .expect("the sample posts")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

fn input<'a>(topic: &'a str, payload: &'a [u8]) -> Input<'a> {
    Input::bare(topic, 0, 0, Some(payload))
}

/// Route's processor keeping its state as a changelog would (the reader is never used:
/// nothing is assigned here), on the wall clock as in live operation: the sample's posts
/// span a week, and on their own clock nearly every post would close spike buckets, which
/// a live stream does once a bucket.
fn route(settings: &Settings, router: Router, metrics: &Metrics) -> RouteProcessor {
    let reader = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:9")
        .set("group.id", "bench")
        .create_with_context(earshot::stages::route::ReaderContext)
        .expect("a changelog reader");
    RouteProcessor::new(router, settings.kafka.topics.clone(), metrics.clone())
        .with_clock(RouteClock::Wall)
        .with_changelog(settings.kafka.topics.changelog.clone(), reader)
}

fn stages(c: &mut Criterion<ThreadCpu>) {
    let settings = settings();
    let analyzer = Arc::new(settings.analyzer().expect("the analyzer"));
    let router = || settings.router(&analyzer).expect("the router");
    let metrics = Metrics::unregistered();
    let analyze = || {
        AnalyzeProcessor::new(
            analyzer.clone(),
            settings.kafka.topics.scored.clone(),
            &metrics,
        )
    };
    let posts = posts();
    report_bytes(&settings, &posts, || {
        ProcessProcessor::new(
            analyze(),
            route(&settings, router(), &metrics).reading(settings.kafka.topics.raw.clone()),
            false,
        )
    });
    let mut group = c.benchmark_group("stage");
    group.throughput(Throughput::Elements(posts.len() as u64));
    group.sample_size(20);

    // Each iteration starts from empty route state: the same posts again would be
    // redeliveries, which route skips by post id.
    let raw = settings.kafka.topics.raw.clone();
    let fused = || {
        ProcessProcessor::new(
            analyze(),
            route(&settings, router(), &metrics).reading(raw.clone()),
            false,
        )
    };
    group.bench_function("fused", |b| {
        b.iter_batched(
            fused,
            |mut fused| {
                let mut out: Vec<Output> = Vec::new();
                for post in &posts {
                    out.clear();
                    let _ = fused.process(&input(&raw, post), &mut out);
                }
                fused
            },
            BatchSize::PerIteration,
        )
    });

    let scored_topic = settings.kafka.topics.scored.clone();
    let split = || (analyze(), route(&settings, router(), &metrics));
    group.bench_function("split", |b| {
        b.iter_batched(
            split,
            |(mut analyze, mut route)| {
                let (mut scored, mut routed) = (Vec::new(), Vec::new());
                for post in &posts {
                    scored.clear();
                    let _ = analyze.process(&input(&raw, post), &mut scored);
                    for record in &scored {
                        routed.clear();
                        let payload = record.payload.as_deref().unwrap_or_default();
                        let _ = route.process(&input(&scored_topic, payload), &mut routed);
                    }
                }
                (analyze, route)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// The fused processor with scoring threads (`[analyze] threads`), fed as the runner feeds
/// it: records taken together are handed to the scoring threads, then processed one by one
/// as their scorings come back. Wall time, since the point is the work the other threads
/// take off the stage's: with 0 threads the records are taken one at a time, as the runner
/// does then.
fn scoring_ahead(c: &mut Criterion) {
    let settings = settings();
    let analyzer = Arc::new(settings.analyzer().expect("the analyzer"));
    let metrics = Metrics::unregistered();
    let raw = settings.kafka.topics.raw.clone();
    let posts = posts();
    let inputs: Vec<Input<'_>> = posts
        .iter()
        .enumerate()
        .map(|(i, post)| Input::bare(&raw, 0, i as i64, Some(post)))
        .collect();
    let mut group = c.benchmark_group("stage_wall");
    group.throughput(Throughput::Elements(posts.len() as u64));
    group.sample_size(20);
    for threads in [0, 1, 2] {
        let fused = || {
            let analyze = AnalyzeProcessor::new(
                analyzer.clone(),
                settings.kafka.topics.scored.clone(),
                &metrics,
            )
            .with_threads(threads);
            let router = settings.router(&analyzer).expect("the router");
            ProcessProcessor::new(
                analyze,
                route(&settings, router, &metrics).reading(raw.clone()),
                false,
            )
        };
        group.bench_function(format!("fused_threads_{threads}"), |b| {
            b.iter_batched(
                fused,
                |mut fused| {
                    let mut out: Vec<Output> = Vec::new();
                    for records in inputs.chunks(fused.read_ahead()) {
                        if records.len() > 1 {
                            fused.prepare(records);
                        }
                        for input in records {
                            out.clear();
                            let _ = fused.process(input, &mut out);
                        }
                    }
                    fused
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// Prints what the fused stage writes per input post, by topic: the broker traffic the
/// throughput figures carry besides the raw posts.
fn report_bytes(settings: &Settings, posts: &[Vec<u8>], fused: impl Fn() -> ProcessProcessor) {
    let mut fused = fused();
    let raw = &settings.kafka.topics.raw;
    let mut bytes = std::collections::BTreeMap::<String, (usize, usize)>::new();
    let mut out = Vec::new();
    for post in posts {
        out.clear();
        let _ = fused.process(&input(raw, post), &mut out);
        for o in &out {
            let topic = if o.topic.starts_with(&settings.kafka.topics.tickets_prefix) {
                "tickets".to_string()
            } else if o.topic == settings.kafka.topics.changelog {
                // By kind of state: t open tickets, ["c" counts, ["s" baselines, p ids, o
                // the position.
                let key = o.key.as_deref().unwrap_or_default();
                let kind = match key.starts_with('[') {
                    true => key.get(..4).unwrap_or(key),
                    false => key.split('/').next().unwrap_or(key),
                };
                format!("{} {kind}", o.topic)
            } else {
                o.topic.clone()
            };
            let entry = bytes.entry(topic).or_default();
            entry.0 += 1;
            entry.1 +=
                o.payload.as_ref().map_or(0, Vec::len) + o.key.as_ref().map_or(0, String::len);
        }
    }
    let input: usize = posts.iter().map(Vec::len).sum();
    eprintln!(
        "fused stage, bytes written per input post ({} posts, {:.0} bytes each):",
        posts.len(),
        input as f64 / posts.len() as f64
    );
    for (topic, (records, total)) in bytes {
        eprintln!(
            "  {topic}: {records} records, {:.0} bytes per post",
            total as f64 / posts.len() as f64
        );
    }
}

criterion_group! {
    name = benches;
    config = thread_cpu::criterion();
    targets = stages
}
criterion_group!(wall, scoring_ahead);
criterion_main!(benches, wall);
