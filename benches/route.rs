//! Route throughput: scored posts per second through 50 rules, with folding, spike counting
//! and ticket building — everything `Router::route` does except serialisation.
//!
//! The posts are built by hand (no analyze stage): a realistic mix of watchlists, intents,
//! sentiments, authors on lists, replies in threads (folding) and chatter no rule takes.
//!
//!     cargo bench --bench route

/// The allocator the `earshot` binary uses, so the numbers match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::{DateTime, Duration, TimeZone, Utc};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

#[path = "common/thread_cpu.rs"]
mod thread_cpu;
use earshot_model::{Analysis, Author, Intent, Post, ScoredPost, Sentiment, WatchMatch, WatchTerm};
use earshot_route::{ConfigFile, RouteOutput, Router};
use thread_cpu::ThreadCpu;

const WATCHLISTS: [&str; 6] = [
    "hoshizora",
    "hoshizora_hikari",
    "sorapay",
    "devices",
    "outage_area",
    "competitors",
];
const POSTS: usize = 20_000;

/// 50 rules: 3 suppressions, 3 modifiers, then queue rules over every watchlist × intent
/// with sentiment, urgency, platform and language conditions.
fn config() -> String {
    let mut text = String::from(
        r#"
[[calendar]]
id = "office"
time_zone = "Asia/Tokyo"
hours = { weekdays = "09:00-18:00" }
holidays = ["jp"]
closed_annually = ["12-29", "12-30", "12-31", "01-02", "01-03"]

[[calendar]]
id = "noc"
time_zone = "Asia/Tokyo"
always_open = true
"#,
    );
    for (queue, calendar) in [
        ("outage", "noc"),
        ("billing", "office"),
        ("support", "office"),
        ("social_care", "office"),
        ("praise", "office"),
        ("vip", "noc"),
    ] {
        text += &format!(
            "[[queue]]\nid = \"{queue}\"\ncalendar = \"{calendar}\"\nteam = \"{queue}\"\nsla = {{ P1 = \"15m\", P2 = \"1h\", P3 = \"4h\", P4 = \"9h\" }}\n"
        );
    }
    text += "[lists]\nvip = [\"@vip1\", \"@vip2\", \"x:42\"]\nstaff = [\"@staff\"]\nblocklist = [\"@bot1\", \"@bot2\"]\npress = [\"@press\"]\n";
    text += "[spike]\nintents = [\"outage\", \"complaint\"]\nmin_count = 50\n";
    let mut rules = vec![
        "id = \"bots\"\nauthor_in = \"blocklist\"\nsuppress = true".to_string(),
        "id = \"staff\"\nauthor_in = \"staff\"\nsuppress = true".to_string(),
        "id = \"competitor-noise\"\nwatchlist = \"competitors\"\nintent = [\"other\", \"praise\"]\nsuppress = true".to_string(),
        "id = \"mark-vip\"\nauthor_in = \"vip\"\ntags = [\"vip\"]\npriority = \"P2\"\ncontinue = true".to_string(),
        "id = \"mark-press\"\nauthor_in = \"press\"\ntags = [\"press\"]\npriority = \"P1\"\ncontinue = true".to_string(),
        "id = \"mark-reach\"\nmin_influence = 0.8\ntags = [\"reach\"]\ncontinue = true".to_string(),
    ];
    let queue_of = |intent: &str| match intent {
        "outage" => "outage",
        "complaint" => "social_care",
        "praise" => "praise",
        _ => "support",
    };
    'outer: for (w, watch) in WATCHLISTS.iter().enumerate() {
        for (i, intent) in ["outage", "complaint", "question", "request", "praise"]
            .iter()
            .enumerate()
        {
            for strict in [true, false] {
                if rules.len() == 50 {
                    break 'outer;
                }
                let queue = if *watch == "sorapay" && *intent != "outage" {
                    "billing"
                } else {
                    queue_of(intent)
                };
                let mut rule = format!("id = \"{watch}-{intent}-{strict}\"\nwatchlist = \"{watch}\"\nintent = \"{intent}\"\nqueue = \"{queue}\"\n");
                if strict {
                    rule += "sentiment = [-1.0, -0.5]\nmin_urgency = 0.6\npriority = \"P1\"\ntags = [\"hot\"]\n";
                    if (w + i) % 3 == 0 {
                        rule += "platform = [\"x\", \"line\"]\nlang = \"ja\"\n";
                    }
                } else {
                    rule += &format!("priority = \"P{}\"\n", 2 + (w + i) % 3);
                }
                rules.push(rule);
            }
        }
    }
    assert_eq!(rules.len(), 50);
    for r in rules {
        text += &format!("[[rule]]\n{r}\n");
    }
    text
}

/// A deterministic mix of posts one second apart.
fn posts(start: DateTime<Utc>) -> Vec<(ScoredPost, DateTime<Utc>)> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let authors = ["vip1", "press", "bot1", "staff", "u"];
    (0..POSTS)
        .map(|i| {
            let watch = WATCHLISTS[next(6) as usize];
            let intent = match next(10) {
                0..=2 => Intent::Complaint,
                3..=4 => Intent::Question,
                5 => Intent::Outage,
                6 => Intent::Praise,
                7 => Intent::Request,
                _ => Intent::Other,
            };
            let author = match next(100) {
                0 => authors[0].to_string(),
                1 => authors[1].to_string(),
                2..=3 => authors[2].to_string(),
                4 => authors[3].to_string(),
                n => format!("user{}", n * 1000 + next(1000)),
            };
            // A third of the posts reply in an earlier thread.
            let conversation = if next(3) == 0 && i > 10 {
                next(i as u64)
            } else {
                i as u64
            };
            let at = start + Duration::seconds(i as i64);
            let post = Post {
                id: format!("18{i:017}"),
                platform: if next(4) == 0 { "line" } else { "x" }.into(),
                author: Author {
                    id: author.clone(),
                    handle: author,
                    followers: next(100_000),
                    ..Author::default()
                },
                conversation_id: Some(format!("18{conversation:017}")),
                text: "星空モバイルの回線が昨日から繋がらない、どうなってるの".into(),
                lang: Some("ja".into()),
                created_at: Some(at),
                ..Post::default()
            };
            let analysis = Analysis {
                lang: "ja".into(),
                sentiment: Sentiment::from_score(next(200) as f64 / 100.0 - 1.0),
                intents: vec![intent],
                urgency: next(100) as f64 / 100.0,
                influence: next(100) as f64 / 100.0,
                watch: vec![WatchMatch {
                    id: watch.into(),
                    terms: vec![WatchTerm {
                        term: "星空モバイル".into(),
                        start: 0,
                        end: 18,
                    }],
                }],
                ..Analysis::default()
            };
            (ScoredPost { post, analysis }, at)
        })
        .collect()
}

fn bench(c: &mut Criterion<ThreadCpu>) {
    let text = config();
    let files = [ConfigFile {
        name: "bench.toml",
        text: &text,
    }];
    let known: Vec<&str> = WATCHLISTS.to_vec();
    let (router, _) = Router::from_files(&files, Some(&known)).expect("bench config loads");
    let config = router.config().clone();
    let start = Utc
        .with_ymd_and_hms(2026, 11, 20, 0, 0, 0)
        .single()
        .expect("valid time");
    let posts = posts(start);

    let mut group = c.benchmark_group("route");
    group.throughput(Throughput::Elements(POSTS as u64));
    group.sample_size(20);
    // One long-lived router fed pass after pass of the mix, each pass later in time and
    // with fresh post and thread ids, as a live stream: the folding table and spike state
    // reach their steady size (expiry keeps them bounded) instead of growing from empty in
    // every sample. Building the input is not timed; dropping each post's outputs is, as a
    // pipeline drops them once serialised. Posts go in by reference, so every ticket copies
    // its post (`route_owned_into` would move it). CPU time, not wall time, is measured.
    let shifted = |pass: i64| -> Vec<(ScoredPost, DateTime<Utc>)> {
        posts
            .iter()
            .map(|(p, at)| {
                let mut p = p.clone();
                p.post.id = format!("{pass}-{}", p.post.id);
                p.post.conversation_id = p.post.conversation_id.map(|c| format!("{pass}-{c}"));
                (p, *at + Duration::seconds(pass * POSTS as i64))
            })
            .collect()
    };
    let mut router = Router::new(config.clone());
    let mut pass = 0;
    let mut out: Vec<RouteOutput> = Vec::with_capacity(8);
    group.bench_function("50_rules", |b| {
        b.iter_batched(
            || {
                pass += 1;
                shifted(pass - 1)
            },
            |batch| {
                for (post, at) in &batch {
                    router.route_into(post, *at, &mut out);
                    out.clear();
                }
                batch
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();

    // What the mix produced, so the number above can be judged.
    let mut router = Router::new(config);
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for (post, at) in &posts {
        for o in router.route(post, *at) {
            *kinds.entry(o.kind()).or_default() += 1;
        }
    }
    let s = router.stats();
    eprintln!(
        "mix over {POSTS} posts: {kinds:?}; opened {}, updated {}, suppressed {}, unrouted {}, folded into incidents {}",
        s.tickets_opened, s.tickets_updated, s.suppressed, s.unrouted, s.folded_into_incidents
    );
}

criterion_group! {
    name = benches;
    config = thread_cpu::criterion();
    targets = bench
}
criterion_main!(benches);
