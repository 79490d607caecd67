//! Analyze throughput and build cost.
//!
//! * `analyze/posts`: posts per second through `Analyzer::analyze_with` on already-decoded
//!   text, with 10,000 watch terms (200 watchlists × 50 terms) plus the built-in lexicon in
//!   one automaton. The posts are the bundled sample posts and customer-care sets.
//! * `analyze/posts_model` and `analyze/posts_model_no_explain`: the same with the built-in
//!   learned model deciding (with its explanation of 5 features per decision, and without);
//!   the difference to `analyze/posts` is what the learned layer costs per post.
//! * `analyze/posts_scores` and `analyze/posts_model_scores`: lexicon, and model, without any
//!   explanation (`[analyze] explain = false`, the default of `earshot score` and the analyze
//!   stage): no hits, reasons, entities or model features, only what routing reads.
//! * `model/load`: reading and checking the built-in model file.
//! * `build/100k_terms`: compiling 100,000 watch terms plus the lexicon.
//!
//! Run: `cargo bench --bench analyze`. The automaton's size is printed once at start.

/// The allocator the `earshot` binary uses, so the numbers match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use earshot_analyze::learned::Model;
use earshot_analyze::{Analyzer, Lexicon, Scratch, Watchlists};
use earshot_e2e::{repo_root, sample_texts, synthetic_watchlists};
use earshot_model::Post;

fn posts() -> Vec<Post> {
    sample_texts(&repo_root())
        .into_iter()
        .enumerate()
        .map(|(i, text)| Post {
            id: i.to_string(),
            text,
            ..Post::default()
        })
        .collect()
}

fn analyzer(terms: usize) -> Analyzer {
    let source = synthetic_watchlists(terms, 50);
    let watchlists =
        Watchlists::parse("synthetic.toml", &source).expect("synthetic watchlists parse");
    Analyzer::new(&Lexicon::builtin(), watchlists).expect("analyzer builds")
}

fn bench_analyze(c: &mut Criterion) {
    let posts = posts();
    let bytes: usize = posts.iter().map(|p| p.text.len()).sum();
    let analyzer = analyzer(10_000);
    let stats = analyzer.stats();
    eprintln!(
        "analyze: {} posts, {:.0} bytes/post on average; {} watch terms, {} lexicon entries, {} patterns, automaton {:.1} MiB",
        posts.len(),
        bytes as f64 / posts.len() as f64,
        stats.watch_terms,
        stats.lexicon_entries,
        stats.patterns,
        stats.automaton_bytes as f64 / (1 << 20) as f64
    );
    let mut group = c.benchmark_group("analyze");
    let mut scratch = Scratch::new();
    group.throughput(Throughput::Elements(posts.len() as u64));
    group.bench_function("posts", |b| {
        b.iter(|| {
            for post in &posts {
                black_box(analyzer.analyze_with(post, &mut scratch));
            }
        })
    });
    let model = Model::builtin().expect("built-in model");
    let with_model = analyzer.with_model(model.clone());
    group.bench_function("posts_model", |b| {
        b.iter(|| {
            for post in &posts {
                black_box(with_model.analyze_with(post, &mut scratch));
            }
        })
    });
    let quiet = with_model.with_explained_features(0);
    group.bench_function("posts_model_no_explain", |b| {
        b.iter(|| {
            for post in &posts {
                black_box(quiet.analyze_with(post, &mut scratch));
            }
        })
    });
    let scores_only = quiet.with_explanation(false);
    group.bench_function("posts_model_scores", |b| {
        b.iter(|| {
            for post in &posts {
                black_box(scores_only.analyze_with(post, &mut scratch));
            }
        })
    });
    let lexicon_scores = scores_only.without_model();
    group.bench_function("posts_scores", |b| {
        b.iter(|| {
            for post in &posts {
                black_box(lexicon_scores.analyze_with(post, &mut scratch));
            }
        })
    });
    let analyzer = lexicon_scores.with_explanation(true);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("bytes", |b| {
        b.iter(|| {
            for post in &posts {
                black_box(analyzer.analyze_with(post, &mut scratch));
            }
        })
    });
    group.finish();
    let mut group = c.benchmark_group("model");
    group.sample_size(20);
    group.bench_function("load", |b| {
        b.iter(|| black_box(Model::builtin().expect("loads")))
    });
    group.finish();
}

fn bench_build(c: &mut Criterion) {
    let source = synthetic_watchlists(100_000, 100);
    let lexicon = Lexicon::builtin();
    let started = Instant::now();
    let watchlists = Watchlists::parse("synthetic.toml", &source).expect("parse");
    let analyzer = Analyzer::new(&lexicon, watchlists).expect("build");
    let stats = analyzer.stats();
    eprintln!(
        "build: 100,000 terms + lexicon in {:.3} s once; {} patterns, automaton {:.1} MiB",
        started.elapsed().as_secs_f64(),
        stats.patterns,
        stats.automaton_bytes as f64 / (1 << 20) as f64
    );
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.bench_function("100k_terms", |b| {
        b.iter(|| {
            let watchlists = Watchlists::parse("synthetic.toml", &source).expect("parse");
            black_box(Analyzer::new(&lexicon, watchlists).expect("build"))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_analyze, bench_build);
criterion_main!(benches);
