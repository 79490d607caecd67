//! The stream clients against fake platforms: cuts, silences, disconnect errors, gap fills,
//! and the `earshot` binary killed with SIGKILL and restarted while the broker is down.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use earshot_e2e::earshot_bin;
use earshot_ingest::settings::{Secret, XRule};
use earshot_ingest::stream::jetstream::{self, JetstreamConfig};
use earshot_ingest::stream::mastodon::{self, MastodonConfig, Timeline};
use earshot_ingest::stream::x::{self, XStreamConfig};
use earshot_ingest::stream::{CursorFile, StreamContext};
use tokio::runtime::Runtime;

use crate::fakes::*;
use crate::harness::{Collector, Fixture};
use crate::support::*;

const WITHIN: Duration = Duration::from_secs(90);
const T0: u64 = 1_790_000_000_000_000;
/// Jetstream test events are one (platform) second apart.
const STEP_US: u64 = 1_000_000;

/// Post ids on the raw topic with how many times each arrived.
fn raw_ids(fx: &Fixture, out: &Collector) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for (_, post) in raw_posts(fx, out) {
        *ids.entry(post.id).or_insert(0) += 1;
    }
    ids
}

fn has_all(fx: &Fixture, out: &Collector, wanted: &BTreeSet<String>) -> bool {
    let got = raw_ids(fx, out);
    wanted.iter().all(|id| got.contains_key(id))
}

/// `count` Jetstream events: posts, with a like and a delete every tenth event and one
/// malformed event, so cursors also advance over events that are not posts.
fn jetstream_events(count: usize) -> (Vec<(u64, String)>, BTreeSet<String>) {
    let mut events = Vec::new();
    let mut posts = BTreeSet::new();
    for n in 0..count {
        let time = T0 + n as u64 * STEP_US;
        match n % 10 {
            3 => events.push((time, format!(r#"{{"did":"did:plc:x","time_us":{time},"kind":"commit","commit":{{"operation":"create","collection":"app.bsky.feed.like","rkey":"l{n}"}}}}"#))),
            7 => events.push((time, format!(r#"{{"did":"did:plc:x","time_us":{time},"kind":"commit","commit":{{"operation":"delete","collection":"app.bsky.feed.post","rkey":"d{n}"}}}}"#))),
            _ if n == 55 => events.push((time, format!(r#"{{"did":"did:plc:x","time_us":{time},"kind":"commit","commit":{{"operation":"create","collection":"app.bsky.feed.post","rkey":"bad"}}}}"#))),
            _ => {
                events.push(jetstream_post(time, n));
                posts.insert(jetstream_post_id(n));
            }
        }
    }
    (events, posts)
}

fn cursor_value(file: &Path) -> Option<u64> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

fn run_jetstream(
    rt: &Runtime,
    url: &str,
    cursor: &Path,
    ctx: &StreamContext,
) -> tokio::task::JoinHandle<()> {
    let config = JetstreamConfig {
        url: url.to_string(),
        cursor_file: CursorFile::new(cursor),
        overlap: Duration::from_secs(5),
        wanted_dids: Vec::new(),
    };
    let ctx = ctx.clone();
    rt.spawn(async move { jetstream::run(config, ctx).await.unwrap() })
}

fn finish(rt: &Runtime, ctx: &StreamContext, handle: tokio::task::JoinHandle<()>) {
    ctx.shutdown.trigger();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), handle)
            .await
            .expect("the stream client stops")
            .expect("the stream task");
    });
}

/// Jetstream cut twice mid-way: the client reconnects from the newest event it published
/// (minus the overlap), every post reaches the raw topic once, the malformed event is a dead
/// letter, and the cursor file ends at the last event.
#[test]
fn jetstream_cut_midway_resumes_without_gaps() {
    let fx = Fixture::start(1, 2);
    let rt = runtime();
    let (events, posts) = jetstream_events(300);
    let fake = FakeJetstream::start(&rt, events, Duration::ZERO);
    fake.cuts.lock().unwrap().extend([100, 50]);
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("bluesky.cursor");
    let ctx = stream_context(&fx.settings.kafka);
    let handle = run_jetstream(&rt, &fake.url, &cursor, &ctx);

    let mut out = reader(&fx);
    read_until(&mut out, WITHIN, "every Jetstream post", |o| {
        has_all(&fx, o, &posts)
    });
    wait_until(WITHIN, "the last cursor", || {
        cursor_value(&cursor) == Some(T0 + 299 * STEP_US)
    });
    finish(&rt, &ctx, handle);
    out.settle(Duration::from_secs(1), WITHIN);

    let got = raw_ids(&fx, &out);
    assert_eq!(got.keys().cloned().collect::<BTreeSet<_>>(), posts);
    assert!(
        got.values().all(|&n| n == 1),
        "overlap duplicates were published: {got:?}"
    );
    let cursors = fake.cursors.lock().unwrap().clone();
    assert_eq!(cursors.len(), 3, "{cursors:?}");
    assert_eq!(cursors[0], None, "the first run starts live");
    // Event 99 was the last of the first connection; the second resumed at 94 and sent 50,
    // the last being 143.
    assert_eq!(cursors[1], Some(T0 + 99 * STEP_US - 5 * STEP_US));
    assert_eq!(cursors[2], Some(T0 + 143 * STEP_US - 5 * STEP_US));
    assert!(
        ctx.metrics
            .reconnects
            .with_label_values(&["bluesky", "network"])
            .get()
            >= 2
    );
    assert_eq!(
        ctx.metrics
            .dead_letters
            .with_label_values(&["bluesky", "missing_field"])
            .get(),
        1
    );
    assert!(ctx.metrics.duplicates.with_label_values(&["bluesky"]).get() >= 8);
}

fn spawn_earshot(args: &[&str], env: &[(&str, String)], log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    let mut command = Command::new(earshot_bin());
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().expect("starting earshot")
}

/// `earshot ingest stream bluesky` as a process: the broker goes down mid-stream (the cursor
/// stops moving, since nothing is acknowledged), the process is killed with SIGKILL, the
/// broker comes back, a new process resumes from the stored cursor minus the overlap, and
/// every post is on the raw topic.
#[test]
fn jetstream_process_killed_and_restarted_resumes_from_the_stored_cursor() {
    let fx = Fixture::start(1, 1);
    let rt = runtime();
    let (events, posts) = jetstream_events(400);
    let fake = FakeJetstream::start(&rt, events, Duration::from_millis(10));
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("bluesky.cursor");
    let env = vec![
        ("EARSHOT__KAFKA__BROKERS", fx.settings.kafka.brokers.clone()),
        ("EARSHOT__INGEST__BLUESKY__URL", fake.url.clone()),
        (
            "EARSHOT__INGEST__BLUESKY__CURSOR_FILE",
            cursor.display().to_string(),
        ),
        ("EARSHOT__INGEST__BATCH_MS", "50".into()),
        ("EARSHOT__ADMIN__LISTEN", "127.0.0.1:0".into()),
        ("RUST_LOG", "info".into()),
    ];
    let args = ["ingest", "stream", "bluesky"];
    let mut first = spawn_earshot(&args, &env, &dir.path().join("first.log"));
    let mut out = reader(&fx);
    read_until(
        &mut out,
        WITHIN,
        "a hundred posts from the first process",
        |o| raw_ids(&fx, o).len() >= 100,
    );
    fx.broker.cluster().broker_down(1).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let stopped_at = cursor_value(&cursor).expect("a stored cursor");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        cursor_value(&cursor),
        Some(stopped_at),
        "the cursor moved while nothing could be acknowledged"
    );
    assert!(
        first.try_wait().unwrap().is_none(),
        "the process still runs"
    );
    first.kill().unwrap();
    first.wait().unwrap();
    fx.broker.cluster().broker_up(1).unwrap();

    let mut second = spawn_earshot(&args, &env, &dir.path().join("second.log"));
    read_until(&mut out, WITHIN, "every post after the restart", |o| {
        has_all(&fx, o, &posts)
    });
    second.kill().unwrap();
    second.wait().unwrap();
    let cursors = fake.cursors.lock().unwrap().clone();
    assert_eq!(cursors.len(), 2, "{cursors:?}");
    assert_eq!(cursors[1], Some(stopped_at - 5 * STEP_US));
    let got: BTreeSet<String> = raw_ids(&fx, &out).into_keys().collect();
    assert_eq!(got, posts);
}

/// Mastodon: statuses stream in; the stream is cut after statuses that never made it onto
/// it, and the reconnect fills the gap from the timeline (`min_id`); the client stops, more
/// statuses arrive, and a new client fills that gap from the stored cursor.
#[test]
fn mastodon_fills_gaps_after_a_cut_and_a_restart() {
    let fx = Fixture::start(1, 1);
    let rt = runtime();
    let fake = FakeMastodon::start(&rt);
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("mastodon.cursor");
    let start = |ctx: &StreamContext| {
        let config = MastodonConfig {
            base_url: fake.base_url.clone(),
            access_token: Some(Secret::new("tok")),
            timeline: Timeline::Public,
            cursor_file: CursorFile::new(&cursor),
        };
        let ctx = ctx.clone();
        rt.spawn(async move { mastodon::run(config, ctx).await.unwrap() })
    };
    let ids = |range: std::ops::RangeInclusive<u64>| -> BTreeSet<String> {
        range.map(mastodon_post_id).collect()
    };
    let ctx = stream_context(&fx.settings.kafka);
    let handle = start(&ctx);
    wait_until(WITHIN, "the stream", || fake.connected() == 1);
    for n in 1..=20 {
        fake.publish(mastodon_status(n));
    }
    let mut out = reader(&fx);
    read_until(&mut out, WITHIN, "20 streamed statuses", |o| {
        has_all(&fx, o, &ids(1..=20))
    });
    // Statuses 21–35 reach the instance while our stream is broken.
    for n in 21..=35 {
        fake.publish_quietly(mastodon_status(n));
    }
    fake.cut();
    read_until(&mut out, WITHIN, "the gap filled after the cut", |o| {
        has_all(&fx, o, &ids(1..=35))
    });
    wait_until(WITHIN, "the cursor at status 35", || {
        std::fs::read_to_string(&cursor)
            .is_ok_and(|c| c.trim() == (113_000_000_000_000_000u64 + 35).to_string())
    });
    finish(&rt, &ctx, handle);

    for n in 36..=45 {
        fake.publish_quietly(mastodon_status(n));
    }
    let ctx = stream_context(&fx.settings.kafka);
    let handle = start(&ctx);
    read_until(&mut out, WITHIN, "the gap filled after the restart", |o| {
        has_all(&fx, o, &ids(1..=45))
    });
    finish(&rt, &ctx, handle);
    out.settle(Duration::from_secs(1), WITHIN);

    let got = raw_ids(&fx, &out);
    assert_eq!(got.keys().cloned().collect::<BTreeSet<_>>(), ids(1..=45));
    let (_, sample) = raw_posts(&fx, &out)
        .into_iter()
        .find(|(_, p)| p.id == mastodon_post_id(7))
        .unwrap();
    assert_eq!(sample.text, "ソラペイ & 星空モバイル #x 7");
    assert_eq!(sample.platform, "mastodon");
    let min_ids = fake.min_ids();
    assert!(
        min_ids.contains(&(113_000_000_000_000_000u64 + 20).to_string()),
        "{min_ids:?}"
    );
    assert!(
        min_ids.contains(&(113_000_000_000_000_000u64 + 35).to_string()),
        "{min_ids:?}"
    );
    assert!(fake.authorizations().iter().all(|a| a == "Bearer tok"));
    assert!(fake.streams_opened() >= 3);
}

/// X filtered stream: the rules are brought in line (only `earshot:` rules touched); posts
/// with keep-alives between them; an `operational-disconnect` makes the client reconnect and
/// ask for a backfill, whose repeats are not published twice; a silent connection is dropped
/// after the keep-alive timeout and the client reconnects.
#[test]
fn x_stream_syncs_rules_and_reconnects_on_disconnects_and_silence() {
    let fx = Fixture::start(1, 1);
    let rt = runtime();
    let fake = FakeX::start(
        &rt,
        &[("(\"old\")", "earshot:old"), ("from:brand", "marketing")],
    );
    let config = XStreamConfig {
        url: fake.url.clone(),
        bearer_token: Secret::new("xtoken"),
        rules: vec![XRule {
            value: "(\"星空モバイル\")".into(),
            tag: "hoshizora".into(),
        }],
        backfill_minutes: 2,
        keepalive: Duration::from_secs(1),
    };
    let ctx = stream_context(&fx.settings.kafka);
    let handle = {
        let ctx = ctx.clone();
        rt.spawn(async move { x::run(config, ctx).await.unwrap() })
    };
    wait_until(WITHIN, "the first connection", || {
        fake.connections().len() == 1
    });
    let tags: BTreeSet<String> = fake
        .rules()
        .iter()
        .map(|r| r["tag"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        tags,
        BTreeSet::from(["earshot:hoshizora".into(), "marketing".into()])
    );
    assert_eq!(fake.rule_requests().len(), 2, "one delete, one add");

    let ids = |range: std::ops::RangeInclusive<u64>| -> BTreeSet<String> {
        range.map(x_post_id).collect()
    };
    // X sends a blank line at least every 20 s (here: the client's timeout is 1 s).
    let keepalive = Arc::new(AtomicBool::new(true));
    let stop_keepalive = Arc::new(AtomicBool::new(false));
    let beats = {
        let (fake, on, stop) = (fake.clone(), keepalive.clone(), stop_keepalive.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if on.load(Ordering::SeqCst) {
                    fake.send("");
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    for n in 1..=10 {
        assert!(fake.send(&x_post_line(n)));
        assert!(fake.send(""));
    }
    let mut out = reader(&fx);
    read_until(&mut out, WITHIN, "posts 1–10", |o| {
        has_all(&fx, o, &ids(1..=10))
    });
    fake.send(r#"{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect","detail":"This stream has been disconnected upstream for operational reasons.","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}"#);
    wait_until(WITHIN, "the reconnection", || fake.connections().len() == 2);
    assert!(fake.connections()[1].contains("backfill_minutes=2"));
    assert!(!fake.connections()[0].contains("backfill_minutes"));
    // The backfill repeats 8–10.
    for n in 8..=20 {
        assert!(fake.send(&x_post_line(n)));
    }
    read_until(&mut out, WITHIN, "posts 1–20", |o| {
        has_all(&fx, o, &ids(1..=20))
    });
    // Silence: no keep-alive for longer than the timeout.
    keepalive.store(false, Ordering::SeqCst);
    wait_until(WITHIN, "the reconnection after silence", || {
        fake.connections().len() == 3
    });
    keepalive.store(true, Ordering::SeqCst);
    for n in 21..=25 {
        assert!(fake.send(&x_post_line(n)));
    }
    read_until(&mut out, WITHIN, "posts 1–25", |o| {
        has_all(&fx, o, &ids(1..=25))
    });
    stop_keepalive.store(true, Ordering::SeqCst);
    beats.join().unwrap();
    finish(&rt, &ctx, handle);
    out.settle(Duration::from_secs(1), WITHIN);

    let got = raw_ids(&fx, &out);
    assert_eq!(got.keys().cloned().collect::<BTreeSet<_>>(), ids(1..=25));
    assert!(got.values().all(|&n| n == 1), "{got:?}");
    assert_eq!(
        ctx.metrics
            .duplicates
            .with_label_values(&["x_stream"])
            .get(),
        3
    );
    let (_, post) = raw_posts(&fx, &out)
        .into_iter()
        .find(|(_, p)| p.id == x_post_id(4))
        .unwrap();
    assert_eq!(post.author.handle, "user1");
    assert_eq!(post.author.followers, 40);
    assert_eq!(post.conversation_id.as_deref(), Some("x:1900004"));
    assert!(fake.bearer().iter().all(|b| b == "Bearer xtoken"));
    assert!(
        ctx.metrics
            .reconnects
            .with_label_values(&["x_stream", "network"])
            .get()
            >= 2
    );
}

/// `earshot ingest serve` as a process: ready once the producer reaches the broker, a signed
/// LINE request is published and counted in `/metrics`, a bad one refused, the secret in no
/// log line, and SIGTERM stops it cleanly.
#[test]
fn earshot_ingest_serve_process() {
    let fx = Fixture::start(1, 1);
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (port, admin) = (free_port(), free_port());
    std::fs::write(dir.path().join("line.secret"), format!("{LINE_SECRET}\n")).unwrap();
    let config = dir.path().join("earshot.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbrokers = \"{}\"\n\n[ingest]\nlisten = \"127.0.0.1:{port}\"\n\n[ingest.line]\nchannel_secret_file = \"line.secret\"\n\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n",
            fx.settings.kafka.brokers
        ),
    )
    .unwrap();
    let log = dir.path().join("serve.log");
    let config_arg = config.display().to_string();
    let mut child = spawn_earshot(
        &["ingest", "serve", "--config", &config_arg],
        &[("RUST_LOG", "debug".into())],
        &log,
    );
    let platform = Platform::new();
    let admin_url = |path: &str| format!("http://127.0.0.1:{admin}{path}");
    let get = |url: &str| {
        rt.block_on(async { reqwest::get(url).await.ok().map(|r| r.status().as_u16()) })
    };
    wait_until(WITHIN, "/readyz", || {
        get(&admin_url("/readyz")) == Some(200)
    });
    assert_eq!(get(&admin_url("/livez")), Some(200));

    let body = line_body(
        &[(
            "01JSERVE",
            "U1",
            "星空モバイル、繋がらない",
            1_790_000_000_000,
        )],
        false,
    );
    let url = format!("http://127.0.0.1:{port}/webhooks/line");
    let signature = earshot_ingest::signature::sign(
        LINE_SECRET.as_bytes(),
        &body,
        earshot_ingest::signature::Scheme::LINE,
    );
    assert_eq!(
        platform
            .post(&rt, &url, &[("x-line-signature", signature)], &body)
            .0,
        200
    );
    assert_eq!(
        platform
            .post(&rt, &url, &[("x-line-signature", "AAAA".into())], &body)
            .0,
        401
    );
    let mut out = reader(&fx);
    read_until(&mut out, WITHIN, "the served post", |o| {
        raw_ids(&fx, o).contains_key("line:01JSERVE")
    });
    let metrics = rt.block_on(async {
        reqwest::get(admin_url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(
        metrics.contains(r#"earshot_ingest_requests_total{outcome="ok",source="line"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(
        r#"earshot_ingest_signature_failures_total{error_code="bad_signature",source="line"} 1"#
    ));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < WITHIN,
            "earshot ingest serve did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "{exit:?}");
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("Webhook server listening"), "{logs}");
    assert!(!logs.contains(LINE_SECRET), "the secret is in the logs");
}
