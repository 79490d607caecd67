//! JSON in and out of the analyze and route stages, per post.
//!
//! * `json/decode_post`: `Post::from_json_with` on the bundled sample posts, what analyze
//!   reads from the raw topic (and `earshot score` from its input).
//! * `json/encode_scored_serde` and `json/encode_scored`: the scored post written by
//!   `serde_json` and by `ScoredPost::write_json` (the same bytes), what analyze writes.
//! * `json/decode_scored`: reading those records back as `ScoredPost`, what route reads.
//! * `json/encode_tickets_serde` and `json/encode_tickets`: the tickets the example
//!   configuration makes of the sample, as `RouteOutput`s written by `serde_json` and by
//!   `RouteOutput::write_json` (the same bytes), what route writes; throughput counted in
//!   tickets.
//!
//! The analyses are the built-in analyzer's with the built-in model and no explanation
//! (the default of `earshot score` and of the analyze stage). Run: `cargo bench --bench json`.

/// The allocator the `earshot` binary uses, so the numbers match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use earshot::settings::Settings;
use earshot_analyze::learned::Model;
use earshot_analyze::{Analyzer, Scratch};
use earshot_e2e::repo_root;
use earshot_model::{Post, PostLimits, ScoredPost};
use earshot_pipeline::Pipeline;
use earshot_route::RouteOutput;

fn bench_json(c: &mut Criterion) {
    let lines: Vec<Vec<u8>> = std::fs::read_to_string(repo_root().join("examples/posts.jsonl"))
        .expect("examples/posts.jsonl")
        .lines()
        .map(|line| line.as_bytes().to_vec())
        .collect();
    let limits = PostLimits::default();
    let analyzer = Analyzer::builtin()
        .expect("built-in analyzer")
        .with_model(Model::builtin().expect("built-in model"))
        .with_explanation(false);
    let mut scratch = Scratch::new();
    let scored: Vec<ScoredPost> = lines
        .iter()
        .map(|line| {
            let post = Post::from_json_with(line, &limits).expect("example posts are valid");
            let analysis = analyzer.analyze_with(&post, &mut scratch);
            ScoredPost { post, analysis }
        })
        .collect();
    let records: Vec<Vec<u8>> = scored.iter().map(ScoredPost::to_json_vec).collect();
    let bytes = |all: &[Vec<u8>]| all.iter().map(Vec::len).sum::<usize>() as f64 / all.len() as f64;
    eprintln!(
        "json: {} posts, {:.0} bytes per post, {:.0} per scored post",
        lines.len(),
        bytes(&lines),
        bytes(&records)
    );

    let mut group = c.benchmark_group("json");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(20);
    group.bench_function("decode_post", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(Post::from_json_with(line, &limits).ok());
            }
        })
    });
    let mut out = Vec::with_capacity(4096);
    group.bench_function("encode_scored_serde", |b| {
        b.iter(|| {
            for post in &scored {
                out.clear();
                serde_json::to_writer(&mut out, post).expect("serialises");
                black_box(&out);
            }
        })
    });
    group.bench_function("encode_scored", |b| {
        b.iter(|| {
            for post in &scored {
                out.clear();
                post.write_json(&mut out);
                black_box(&out);
            }
        })
    });
    group.bench_function("decode_scored", |b| {
        b.iter(|| {
            for record in &records {
                black_box(serde_json::from_slice::<ScoredPost>(record).ok());
            }
        })
    });
    let outputs = tickets(&lines, &limits);
    group.throughput(Throughput::Elements(outputs.len() as u64));
    group.bench_function("encode_tickets_serde", |b| {
        b.iter(|| {
            for output in &outputs {
                out.clear();
                serde_json::to_writer(&mut out, output).expect("serialises");
                black_box(&out);
            }
        })
    });
    group.bench_function("encode_tickets", |b| {
        b.iter(|| {
            for output in &outputs {
                out.clear();
                output.write_json(&mut out).expect("serialises");
                black_box(&out);
            }
        })
    });
    group.finish();
}

/// The tickets the example configuration makes of the sample, as `earshot triage` does.
fn tickets(lines: &[Vec<u8>], limits: &PostLimits) -> Vec<RouteOutput> {
    let settings = Settings::load(Some(&repo_root().join("examples/earshot.toml")))
        .expect("the example configuration");
    let analyzer = std::sync::Arc::new(settings.analyzer().expect("the example analyzer"));
    let router = settings.router(&analyzer).expect("the example router");
    let mut pipeline = Pipeline::new(analyzer, router);
    let mut outputs = Vec::new();
    for line in lines {
        let post = Post::from_json_with(line, limits).expect("example posts are valid");
        pipeline.push(post, &mut outputs);
    }
    pipeline.finish(&mut outputs);
    outputs.retain(|output| output.as_ticket().is_some());
    eprintln!("json: {} tickets", outputs.len());
    outputs
}

criterion_group!(benches, bench_json);
criterion_main!(benches);
