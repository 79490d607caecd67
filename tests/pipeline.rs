//! The pipeline on librdkafka's mock cluster ([`earshot_kafka::EmbeddedKafka`]), through the
//! real stage runner: ingest's publisher, the analyze and route stages (or the fused stage)
//! on threads, outputs read back with `isolation.level=read_committed`, and faults injected
//! into the cluster. The tests of `in_both_shapes!` run once per shape (`NAME::split`,
//! `NAME::fused`); the others run the split shape, whose two stages they tell apart.
//!
//! With one partition per topic and the route stage on the event clock, the pipeline sees the
//! posts in file order and must reproduce, record for record, what the same analyzer and
//! router produce offline ([`expect::Expected`]); faults may repeat a record but never lose
//! or change one. With several partitions the order between partitions is not defined, so
//! those tests compare which posts came through rather than exact tickets.
//!
//! What the mock cannot show, measured on librdkafka 2.12's mock cluster:
//! * exactly-once across a rebalance or a restart: it acknowledges `TxnOffsetCommit` without
//!   storing the offsets, reports no aborted transactions and a last stable offset equal to
//!   the high watermark, so a new owner replays its partitions from the start and aborted
//!   records are visible to read_committed readers. The exactly-once test uses faults that
//!   need neither.
//! * the synchronous commit at revoke: the mock refuses OffsetCommit while a group is joining
//!   (`RebalanceInProgress`), where a real broker accepts it from the current generation, so a
//!   replica joining makes the others' last second of records redelivered (at-least-once
//!   allows it; the rebalance test does).
//! * it holds a rebalance open for the session timeout less a second, so the stages here use
//!   a 6 s session timeout (`long_sessions` restores 45 s where nobody joins).
//!
//! The tests run one at a time (each starts its own cluster). `RUST_LOG=earshot_kafka=debug`
//! shows the stages' logs, `RUST_LOG=librdkafka=debug` with a `debug` client property the
//! client's (e.g. the injected errors being retried).

#![allow(clippy::unwrap_used)]

/// Runs a test in both shapes of the pipeline: `NAME::split` through the analyze and route
/// stages and the scored topic, `NAME::fused` through the fused stage.
macro_rules! in_both_shapes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn split() {
                super::$name(earshot::settings::Shape::Split);
            }
            #[test]
            fn fused() {
                super::$name(earshot::settings::Shape::Fused);
            }
        }
    )*};
}

#[path = "pipeline/expect.rs"]
mod expect;
#[path = "pipeline/harness.rs"]
mod harness;
#[path = "pipeline/hostile.rs"]
mod hostile;
#[path = "pipeline/reload.rs"]
mod reload;
#[path = "pipeline/scenario.rs"]
mod scenario;
#[path = "pipeline/state.rs"]
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use earshot_kafka::{
    DeliveryMode, StageError, DLQ_ERROR_CODE_HEADER, DLQ_OFFSET_HEADER, DLQ_PARTITION_HEADER,
    DLQ_REASON_HEADER, DLQ_STAGE_HEADER, DLQ_TOPIC_HEADER, TRACE_HEADER,
};
use earshot_model::Post;
use earshot_pipeline::Metrics;
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCoordinator;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use earshot::settings::Shape;
use expect::{assert_same_multiset, assert_same_set, ticket_ids, ticket_revisions, unrouted_posts};
use harness::{example_lines, in_flight, received, stop, wait_for, Fixture, Stage};
use scenario::*;

in_both_shapes!(
    full_run_every_post_accounted_for,
    garbage_on_the_raw_topic_goes_to_the_dlq,
    produce_and_fetch_and_commit_errors_lose_nothing,
    exactly_once_has_no_duplicates_under_read_committed,
    backpressure_bounds_what_is_in_flight_and_loses_nothing,
);

/// The fused stage with three scoring threads: records taken together are scored ahead
/// while the stage's thread routes them one by one, and the outputs are exactly those of
/// the stage's thread alone.
mod scored_ahead_on_threads {
    use super::*;

    #[test]
    fn full_run_every_post_accounted_for() {
        harness::with_analysis_threads(3, || {
            super::full_run_every_post_accounted_for(Shape::Fused)
        });
    }

    #[test]
    fn garbage_on_the_raw_topic_goes_to_the_dlq() {
        harness::with_analysis_threads(3, || {
            super::garbage_on_the_raw_topic_goes_to_the_dlq(Shape::Fused)
        });
    }
}

/// The whole sample and the bad lines through ingest, analyze and route: every valid post is
/// dropped by analyze or routed, route makes exactly the offline outputs, and ingest
/// dead-letters exactly the 8 invalid lines.
fn full_run_every_post_accounted_for(shape: Shape) {
    let fx = Fixture::start(1, 1);
    let bad = example_lines("bad_posts.jsonl");
    let invalid: Vec<(&[u8], &str)> = bad
        .iter()
        .filter_map(|l| Post::from_json(l).err().map(|e| (l.as_slice(), e.code())))
        .collect();
    assert_eq!(invalid.len(), 8, "bad_posts.jsonl has 8 invalid lines");
    let lines = [example_lines("posts.jsonl"), bad.clone()].concat();
    let expected = fx.expect(&lines);
    assert_eq!(expected.posts, 2797 + bad.len() - 8);

    let stages = fx.spawn_pipeline(shape);
    let mut out = fx.collector(&output_topics(&fx));
    assert_eq!(fx.publish(&lines), (expected.posts, 8), "(valid, invalid)");
    wait_until_routed(&fx, &stages, &mut out, &expected);
    stop(&fx.shutdown, stages);

    // Every valid post was either dropped by analyze or reached route.
    let m = &fx.metrics;
    let dropped = m
        .posts_discarded
        .with_label_values(&["analyze", "no_watchlist"])
        .get() as usize;
    assert_eq!(received(m, shape.input_stage()) as usize, expected.posts);
    assert_eq!(dropped, expected.discarded, "posts matching no watchlist");
    if shape == Shape::Split {
        assert_eq!(received(m, "route") as usize, expected.relevant.len());
    }
    assert_eq!(dropped + expected.relevant.len(), expected.posts);
    if fx.settings.analyze.threads > 0 {
        let prepared = m
            .records_prepared
            .with_label_values(&[shape.input_stage()])
            .get();
        assert!(
            prepared as usize > expected.posts / 2,
            "records scored ahead: {prepared} of {}",
            expected.posts
        );
    }

    // Route made exactly what the offline run made: the same tickets (ids, revisions and the
    // post behind each), unrouted records and incidents, none twice.
    let routed = route_outputs(&fx, &out);
    assert_same_multiset("route outputs", &expected.routed, &routed);
    assert_same_set(
        "ticket ids",
        &ticket_ids(&expected.routed),
        &ticket_ids(&routed),
    );
    let with_output: BTreeSet<&str> = routed.iter().filter_map(post_of).collect();
    let absorbed = expected.relevant.len() - with_output.len();
    eprintln!(
        "{} posts: {} dropped by analyze, {} routed ({} tickets, {} ticket records, {} unrouted, {absorbed} suppressed or folded into incidents)",
        expected.posts,
        dropped,
        expected.relevant.len(),
        ticket_ids(&routed).len(),
        ticket_revisions(&routed).len(),
        unrouted_posts(&routed).len(),
    );
    assert!(ticket_ids(&routed).len() > 100, "the sample makes tickets");

    // The invalid lines are in the DLQ, rejected by ingest, with their reason.
    let dlq: Vec<_> = out.on(&fx.topics().dlq).collect();
    let got: Vec<(Vec<u8>, String, String)> = dlq
        .iter()
        .map(|r| {
            assert!(
                r.header(DLQ_REASON_HEADER).is_some_and(|h| !h.is_empty()),
                "{r:?}"
            );
            (
                r.payload.clone(),
                r.header(DLQ_STAGE_HEADER).unwrap_or_default().to_string(),
                r.header(DLQ_ERROR_CODE_HEADER)
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let want: Vec<(Vec<u8>, String, String)> = invalid
        .iter()
        .map(|(line, code)| (line.to_vec(), "ingest".into(), code.to_string()))
        .collect();
    assert_same_multiset("DLQ records (payload, stage, code)", &want, &got);
}

/// Records ingest would have refused, written straight to the raw topic between good posts:
/// analyze dead-letters each with its code and where it came from, and the good posts still
/// make exactly their tickets.
fn garbage_on_the_raw_topic_goes_to_the_dlq(shape: Shape) {
    let fx = Fixture::start(1, 1);
    let good = example_lines("posts.jsonl")[..800].to_vec();
    let expected = fx.expect(&good);
    let oversize = format!(
        r#"{{"id":"g-big","text":"{}"}}"#,
        "a".repeat(earshot_model::MAX_TEXT_BYTES + 1)
    );
    // (key, payload, the error code analyze must give)
    let garbage: Vec<(&str, Option<Vec<u8>>, &str)> = vec![
        (
            "g-utf8",
            Some(b"{\"id\":\"x\",\"text\":\"\xff\xfe\"}".to_vec()),
            "invalid_utf8",
        ),
        (
            "g-broken",
            Some(r#"{"id":"g-broken","text":"星空"#.into()),
            "invalid_json",
        ),
        ("g-prose", Some(b"not json at all".to_vec()), "invalid_json"),
        (
            "g-no-id",
            Some(r#"{"text":"星空モバイル 繋がらない"}"#.into()),
            "invalid_post",
        ),
        (
            "g-empty-id",
            Some(br#"{"id":"","text":"empty id"}"#.to_vec()),
            "missing_field",
        ),
        (
            "g-array",
            Some(br#"[{"id":"1","text":"x"}]"#.to_vec()),
            "invalid_post",
        ),
        ("g-big", Some(oversize.into_bytes()), "oversize"),
        ("g-tombstone", None, "empty_record"),
    ];

    let stages = fx.spawn_pipeline(shape);
    let raw = fx.topics().raw.clone();
    let mut topics = output_topics(&fx);
    topics.push(raw.clone());
    let mut out = fx.collector(&topics);
    // Good posts through ingest and garbage straight onto the raw topic, interleaved.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &fx.settings.kafka.brokers)
        .create()
        .unwrap();
    let published = fx.publish_in_chunks(&good, garbage.len(), |i| {
        let (key, payload, _) = &garbage[i];
        let mut record = BaseRecord::<str, [u8]>::to(&raw).key(*key);
        if let Some(p) = payload {
            record = record.payload(p.as_slice());
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
        producer.flush(Duration::from_secs(10)).unwrap();
    });
    assert_eq!(published, expected.posts);
    wait_until_routed(&fx, &stages, &mut out, &expected);
    stop(&fx.shutdown, stages);

    // Every piece of garbage is in the DLQ once, as it was, pointing at where it was.
    let raw_records: BTreeMap<&str, &harness::Record> = out
        .on(&raw)
        .filter_map(|r| Some((r.key.as_deref()?, r)))
        .collect();
    let dlq: Vec<_> = out.on(&fx.topics().dlq).collect();
    assert_eq!(dlq.len(), garbage.len(), "DLQ: {dlq:#?}");
    for (key, payload, code) in &garbage {
        let original = raw_records[key];
        let dead: Vec<_> = dlq
            .iter()
            .filter(|r| r.key.as_deref() == Some(key))
            .collect();
        assert_eq!(dead.len(), 1, "{key}: {dead:#?}");
        let dead = dead[0];
        let headers = |name| dead.header(name).unwrap_or_default();
        assert_eq!(headers(DLQ_STAGE_HEADER), shape.input_stage(), "{key}");
        assert_eq!(headers(DLQ_ERROR_CODE_HEADER), *code, "{key}");
        assert!(!headers(DLQ_REASON_HEADER).is_empty(), "{key}");
        assert_eq!(headers(DLQ_TOPIC_HEADER), raw, "{key}");
        assert_eq!(
            headers(DLQ_PARTITION_HEADER),
            original.partition.to_string(),
            "{key}"
        );
        assert_eq!(
            headers(DLQ_OFFSET_HEADER),
            original.offset.to_string(),
            "{key}"
        );
        let trace = format!("{raw}-{}-{}", original.partition, original.offset);
        assert_eq!(headers(TRACE_HEADER), trace, "{key}");
        assert_eq!(dead.payload, payload.clone().unwrap_or_default(), "{key}");
    }
    let counted: u64 = garbage
        .iter()
        .map(|(_, _, code)| code)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|code| {
            fx.metrics
                .dead_letters
                .with_label_values(&[shape.input_stage(), code])
                .get()
        })
        .sum();
    assert_eq!(
        counted,
        garbage.len() as u64,
        "dead letters counted by code"
    );

    // The good posts around them made exactly the tickets they make offline.
    assert!(!ticket_ids(&expected.routed).is_empty());
    assert_same_multiset("route outputs", &expected.routed, &route_outputs(&fx, &out));
}

/// Transient Produce, Fetch and OffsetCommit errors during the run: the same tickets as
/// without faults (a repeat only with the same ticket id, revision and post).
fn produce_and_fetch_and_commit_errors_lose_nothing(shape: Shape) {
    let fx = Fixture::start_with(1, 1, long_sessions);
    let lines = example_lines("posts.jsonl");
    let expected = fx.expect(&lines);
    let stages = fx.spawn_pipeline(shape);
    wait_ready(&stages.iter().collect::<Vec<_>>());
    let published = publish_with_faults(&fx, &lines);
    assert_eq!(published, expected.posts);
    // The collector starts only now, so that the injected errors go to the stages.
    let mut out = fx.collector(&output_topics(&fx));
    wait_until_routed(&fx, &stages, &mut out, &expected);
    stop(&fx.shutdown, stages);

    assert_routed_like(&expected, &route_outputs(&fx, &out), &fx.metrics);
    assert_eq!(out.on(&fx.topics().dlq).count(), 0, "nothing dead-lettered");
}

/// A tiny `max_in_flight`: the stages keep stopping to wait for acknowledgements, never hold
/// more unacknowledged inputs than the limit, and still make exactly the offline outputs.
fn backpressure_bounds_what_is_in_flight_and_loses_nothing(shape: Shape) {
    const LIMIT: usize = 4;
    let fx = Fixture::start_with(1, 1, |s| s.kafka.max_in_flight = LIMIT);
    let lines = example_lines("posts.jsonl");
    let expected = fx.expect(&lines);
    let stages = fx.spawn_pipeline(shape);
    let mut out = fx.collector(&output_topics(&fx));
    wait_ready(&stages.iter().collect::<Vec<_>>());
    assert_eq!(fx.publish(&lines), (expected.posts, 0), "(valid, invalid)");

    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (metrics, sampling) = (fx.metrics.clone(), sampling.clone());
        std::thread::spawn(move || {
            let mut most = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                most = ["analyze", "route", "process"]
                    .iter()
                    .map(|stage| in_flight(&metrics, stage))
                    .fold(most, i64::max);
                std::thread::sleep(Duration::from_micros(200));
            }
            most
        })
    };
    wait_until_routed(&fx, &stages, &mut out, &expected);
    stop(&fx.shutdown, stages);
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let most_in_flight = sampler.join().unwrap();

    let waited = fx
        .metrics
        .backpressure_seconds
        .with_label_values(&[shape.input_stage()])
        .get();
    let stage = shape.input_stage();
    eprintln!(
        "at most {most_in_flight} in flight; {stage} waited {waited:.2} s for acknowledgements"
    );
    assert!(waited > 0.0, "{stage} had to wait for acknowledgements");
    assert!(
        most_in_flight as usize <= LIMIT,
        "{most_in_flight} in flight"
    );
    assert_same_multiset("route outputs", &expected.routed, &route_outputs(&fx, &out));
}

/// The broker leading the scored topic goes down mid-stream and comes back: no ticket missing.
#[test]
fn broker_down_and_back() {
    let fx = Fixture::start_with(3, 1, long_sessions);
    let lines = example_lines("posts.jsonl");
    let expected = fx.expect(&lines);
    let stages = [fx.spawn_analyze(), fx.spawn_route()];
    let mut out = fx.collector(&output_topics(&fx));
    // The broker analyze produces to and route fetches from.
    let victim = fx.leader_of(&fx.topics().scored);
    let cluster = fx.broker.cluster();

    wait_ready(&stages.iter().collect::<Vec<_>>());

    // A third of the posts, and wait until route is working on them.
    let publisher = fx.publisher();
    let third = lines.len() / 3;
    for line in &lines[..third] {
        publisher.publish_line(line);
    }
    publisher.flush(Duration::from_secs(30)).unwrap();
    wait_for(
        "route to take posts",
        ROUTED_WITHIN,
        &[&stages[0], &stages[1]],
        || {
            out.poll_for(Duration::from_millis(20));
            match received(&fx.metrics, "route") {
                0 => Err("route took nothing yet".into()),
                _ => Ok(()),
            }
        },
    );
    let before = received(&fx.metrics, "route");
    cluster.broker_down(victim).unwrap();
    // Posts keep coming while the broker is away (queued if it leads the raw topic too).
    for line in &lines[third..2 * third] {
        publisher.publish_line(line);
    }
    out.poll_for(Duration::from_secs(3));
    let during = received(&fx.metrics, "route");
    cluster.broker_up(victim).unwrap();
    for line in &lines[2 * third..] {
        publisher.publish_line(line);
    }
    publisher.flush(Duration::from_secs(40)).unwrap();
    eprintln!(
        "broker {victim} down: route had taken {before} of {} posts when it went down, {during} when it came back",
        expected.relevant.len()
    );
    assert!(
        (during as usize) < expected.relevant.len(),
        "the broker went down mid-stream"
    );
    wait_until_routed(&fx, &stages, &mut out, &expected);
    stop(&fx.shutdown, stages.into());

    assert_routed_like(&expected, &route_outputs(&fx, &out), &fx.metrics);
    assert_eq!(out.on(&fx.topics().dlq).count(), 0, "nothing dead-lettered");
}

/// A second analyze replica joins the group mid-stream: every relevant post is scored (repeats
/// allowed), both replicas worked, and everything ends committed.
#[test]
fn rebalance_second_consumer_joins() {
    let fx = Fixture::start(1, 3);
    let lines = example_lines("posts.jsonl");
    let expected = fx.expect(&lines);
    let (first, second) = (Metrics::unregistered(), Metrics::unregistered());
    let shutdown = fx.new_shutdown();
    let a = fx.analyze_replica("a", &first, &shutdown);
    let mut out = fx.collector(&[fx.topics().scored.clone(), fx.topics().dlq.clone()]);
    let (b, published) = join_second_replica_mid_stream(&fx, &lines, &mut out, &a, || {
        fx.analyze_replica("b", &second, &shutdown)
    });
    assert_eq!(published, expected.posts);
    let scored_topic = fx.topics().scored.clone();
    let relevant = expected.relevant_set();
    wait_for(
        "every relevant post scored",
        ROUTED_WITHIN,
        &[&a, &b],
        || {
            out.poll_for(Duration::from_millis(100));
            let analyzed = received(&first, "analyze") + received(&second, "analyze");
            let scored: BTreeSet<String> = scored_ids(&out, &scored_topic).into_iter().collect();
            let missing = relevant.difference(&scored).count();
            if analyzed as usize >= expected.posts && missing == 0 {
                Ok(())
            } else {
                Err(format!(
                    "analyzed {analyzed}/{}, {missing} relevant posts not scored yet",
                    expected.posts
                ))
            }
        },
    );
    out.settle(QUIET, Duration::from_secs(10));
    stop(&shutdown, vec![a, b]);

    let (by_a, by_b) = (received(&first, "analyze"), received(&second, "analyze"));
    eprintln!("replica a took {by_a} posts, replica b {by_b}");
    assert!(by_a > 0 && by_b > 0, "both replicas took posts");
    assert!(by_a + by_b >= expected.posts as u64, "every post analyzed");
    let scored = scored_ids(&out, &scored_topic);
    assert!(scored.len() >= relevant.len());
    assert_same_set(
        "posts on the scored topic (duplicates allowed)",
        &relevant,
        &scored.into_iter().collect(),
    );
    // By default the scored topic gets what routing reads and no explanation.
    for record in out.on(&scored_topic) {
        let value: serde_json::Value = serde_json::from_slice(&record.payload).unwrap();
        let analysis = &value["analysis"];
        assert!(analysis["sentiment"]["score"].is_f64() && analysis["watch"].is_array());
        assert!(
            analysis.get("hits").is_none() && analysis.get("urgency_reasons").is_none(),
            "{analysis}"
        );
    }
    assert_eq!(out.on(&fx.topics().dlq).count(), 0, "nothing dead-lettered");
    // Both replicas committed everything they did before stopping.
    let committed = fx.committed(&fx.settings.kafka.groups.analyze, &fx.topics().raw);
    let ends = fx.high_watermarks(&fx.topics().raw);
    let ends: BTreeMap<i32, Option<i64>> = ends.into_iter().map(|(p, o)| (p, Some(o))).collect();
    assert_eq!(committed, ends, "committed offsets of the raw topic");
}

/// Readiness follows the assignment and the broker: of two analyze replicas on a
/// one-partition topic the one left without a partition is not ready; it becomes ready when
/// the other stops and it takes the partition over; it is not ready while its broker is down,
/// and ready again once the broker is back.
#[test]
fn readiness_follows_the_assignment_and_the_broker() {
    let fx = Fixture::start(1, 1);
    let (first, second) = (Metrics::unregistered(), Metrics::unregistered());
    let (stop_a, stop_b) = (fx.new_shutdown(), fx.new_shutdown());
    let a = fx.analyze_replica("a", &first, &stop_a);
    wait_ready(&[&a]);
    let b = fx.analyze_replica("b", &second, &stop_b);
    let assigned = |m: &Metrics| {
        m.rebalances
            .with_label_values(&["analyze", "assigned"])
            .get()
    };
    // Settled once b got its (first) assignment and a its second, from the same rebalance.
    wait_for("b to join the group", ROUTED_WITHIN, &[&a, &b], || {
        std::thread::sleep(Duration::from_millis(20));
        match (assigned(&first), assigned(&second)) {
            (2.., 1..) => Ok(()),
            counts => Err(format!("assignments (a, b): {counts:?}")),
        }
    });
    let ((ready, stop_ready), (idle, stop_idle)) = match (a.is_ready(), b.is_ready()) {
        (true, false) => ((a, stop_a), (b, stop_b)),
        (false, true) => ((b, stop_b), (a, stop_a)),
        states => panic!("exactly one replica owns the partition, ready (a, b): {states:?}"),
    };
    assert_eq!(
        idle.health().not_ready_because(),
        Some("no partitions assigned")
    );

    stop_ready.trigger();
    let _ = ready.stop_within();
    wait_ready(&[&idle]);

    fx.broker.cluster().broker_down(1).unwrap();
    wait_for(
        "not ready without a broker",
        ROUTED_WITHIN,
        &[&idle],
        || {
            std::thread::sleep(Duration::from_millis(50));
            match idle.health().not_ready_because() {
                Some("no broker connection") => Ok(()),
                other => Err(format!("not ready because {other:?}")),
            }
        },
    );
    fx.broker.cluster().broker_up(1).unwrap();
    wait_ready(&[&idle]);
    stop_idle.trigger();
    let _ = idle.stop_within();
}

/// Exactly-once delivery with transient faults: each relevant post is scored once and route
/// makes the offline outputs with no repeat at all.
fn exactly_once_has_no_duplicates_under_read_committed(shape: Shape) {
    // librdkafka's mock cluster acknowledges transactions without their semantics: it never
    // stores offsets sent with `send_offsets_to_transaction` (TxnOffsetCommit), returns no
    // aborted transactions and a last stable offset equal to the high watermark. A rebalance
    // or restart therefore replays a partition from the start, and aborted records are
    // visible. Faults that need neither still exercise the transactional path: produce
    // errors inside transactions, fetch errors, many transactions per run. The fused stage
    // taps the scored topic here, so that its scored records are checked the same way.
    let fx = Fixture::start_with(1, 1, |s| {
        s.kafka.delivery = DeliveryMode::ExactlyOnce;
        s.kafka.transaction_messages = 100;
        s.pipeline.tap_scored = true;
    });
    let lines = example_lines("posts.jsonl");
    let expected = fx.expect(&lines);
    let stages = fx.spawn_pipeline(shape);
    wait_ready(&stages.iter().collect::<Vec<_>>());
    let published = publish_with_faults(&fx, &lines);
    assert_eq!(published, expected.posts);
    let scored = fx.topics().scored.clone();
    let mut topics = output_topics(&fx);
    topics.push(scored.clone());
    let mut out = fx.collector(&topics);
    wait_until_routed(&fx, &stages, &mut out, &expected);
    stop(&fx.shutdown, stages);

    let mut relevant = expected.relevant.clone();
    relevant.sort();
    let mut scored_ids = scored_ids(&out, &scored);
    scored_ids.sort();
    assert_same_multiset(
        "scored records (each relevant post exactly once)",
        &relevant,
        &scored_ids,
    );
    let (stage, read) = match shape {
        Shape::Split => ("route", relevant.len()),
        Shape::Fused => ("process", expected.posts),
    };
    assert_eq!(
        received(&fx.metrics, stage) as usize,
        read,
        "{stage} read each post once"
    );
    // No repeats at all: the same records as offline, each once.
    assert_same_multiset("route outputs", &expected.routed, &route_outputs(&fx, &out));
    assert_eq!(out.on(&fx.topics().dlq).count(), 0, "nothing dead-lettered");
}

/// Analyze stopped mid-stream with outputs in flight: the committed offsets cover exactly the
/// records whose outputs are on the scored topic; a restart takes only the rest.
#[test]
fn shutdown_commits_what_was_acknowledged() {
    const STOP_AFTER: u64 = 1000;
    let fx = Fixture::start(1, 3);
    let lines = example_lines("posts.jsonl");
    let expected = fx.expect(&lines);
    let (raw, scored) = (fx.topics().raw.clone(), fx.topics().scored.clone());
    let mut out = fx.collector(&[raw.clone(), scored.clone()]);
    assert_eq!(fx.publish(&lines).0, expected.posts);

    // Analyze asks for its own shutdown after taking STOP_AFTER records, so it stops with
    // the outputs of the last ones still in flight.
    let first = Metrics::unregistered();
    let shutdown = fx.new_shutdown();
    let processor = StopAfter {
        inner: earshot::stages::analyze::AnalyzeProcessor::new(
            fx.analyzer.clone(),
            scored.clone(),
            &first,
        ),
        left: STOP_AFTER,
        shutdown: shutdown.clone(),
    };
    let stage = fx.run_stage("analyze", "first", processor, &first, &shutdown);
    wait_for("analyze to stop itself", ROUTED_WITHIN, &[], || {
        out.poll_for(Duration::from_millis(100));
        if stage.is_finished() {
            Ok(())
        } else {
            Err(format!("analyze took {}", received(&first, "analyze")))
        }
    });
    let report = stage.stop_within();
    assert_eq!(report.received, STOP_AFTER);
    out.settle(QUIET, Duration::from_secs(10));

    // Per partition: everything below the committed offset has its output, nothing at or
    // above it does, and the committed offsets add up to the records analyze took.
    let committed = fx.committed(&fx.settings.kafka.groups.analyze, &raw);
    let raw_posts: Vec<(i32, i64, String)> = out
        .on(&raw)
        .map(|r| (r.partition, r.offset, post_id(&r.payload)))
        .collect();
    assert_eq!(raw_posts.len(), expected.posts);
    let committed_total: i64 = committed.values().map(|c| c.unwrap_or(0)).sum();
    assert_eq!(
        committed_total, STOP_AFTER as i64,
        "committed offsets {committed:?}"
    );
    let relevant = expected.relevant_set();
    let mut below: Vec<String> = raw_posts
        .iter()
        .filter(|(p, o, id)| committed[p].is_some_and(|c| *o < c) && relevant.contains(id))
        .map(|(_, _, id)| id.clone())
        .collect();
    below.sort();
    let mut scored_now = scored_ids(&out, &scored);
    scored_now.sort();
    assert_same_multiset(
        "scored records after the stop (the relevant posts below the committed offsets, once)",
        &below,
        &scored_now,
    );
    assert!(below.len() < relevant.len(), "stopped mid-stream");

    // A restart takes the rest, and only the rest.
    let stage = fx.spawn_analyze();
    wait_for("the rest scored", ROUTED_WITHIN, &[&stage], || {
        out.poll_for(Duration::from_millis(100));
        let scored = scored_ids(&out, &scored).len();
        if scored >= relevant.len() && in_flight(&fx.metrics, "analyze") == 0 {
            Ok(())
        } else {
            Err(format!("{scored}/{} scored", relevant.len()))
        }
    });
    out.settle(QUIET, Duration::from_secs(10));
    stop(&fx.shutdown, vec![stage]);
    assert_eq!(
        received(&fx.metrics, "analyze") as usize,
        expected.posts - STOP_AFTER as usize,
        "the restart took only what was not committed"
    );
    let mut all = expected.relevant.clone();
    all.sort();
    let mut scored_all = scored_ids(&out, &scored);
    scored_all.sort();
    assert_same_multiset("scored records after the restart", &all, &scored_all);
    let ends: BTreeMap<i32, Option<i64>> = fx
        .high_watermarks(&raw)
        .into_iter()
        .map(|(p, o)| (p, Some(o)))
        .collect();
    assert_eq!(fx.committed(&fx.settings.kafka.groups.analyze, &raw), ends);
}

/// Outputs that cannot be delivered: while they wait and after analyze gives up, no committed
/// offset passes them; once the broker is back a restart delivers them.
#[test]
fn failed_delivery_commits_nothing_past_it() {
    // The scored topic lives on broker 3, which is down: analyze's outputs wait in its
    // producer, then time out. Raw posts and the group's offsets live on broker 1.
    let fx = Fixture::start_with(3, 3, |s| {
        s.kafka
            .producer
            .insert("message.timeout.ms".into(), "8000".into());
    });
    let (raw, scored) = (fx.topics().raw.clone(), fx.topics().scored.clone());
    let group = fx.settings.kafka.groups.analyze.clone();
    let cluster = fx.broker.cluster();
    for p in 0..fx.settings.kafka.partitions {
        cluster.partition_leader(&raw, p, Some(1)).unwrap();
        cluster.partition_leader(&scored, p, Some(3)).unwrap();
    }
    cluster
        .coordinator(MockCoordinator::Group(group.clone()), 1)
        .unwrap();
    let lines = example_lines("posts.jsonl")[..600].to_vec();
    let expected = fx.expect(&lines);
    assert_eq!(fx.publish(&lines).0, expected.posts);
    cluster.broker_down(3).unwrap();
    let mut out = fx.collector(std::slice::from_ref(&raw));
    wait_for("the raw topic read back", ROUTED_WITHIN, &[], || {
        out.poll_for(Duration::from_millis(100));
        match out.records.len() {
            n if n >= expected.posts => Ok(()),
            n => Err(format!("{n} raw records read")),
        }
    });
    let relevant = expected.relevant_set();
    let first_relevant: BTreeMap<i32, i64> = (0..fx.settings.kafka.partitions)
        .map(|p| {
            let first = out
                .on(&raw)
                .filter(|r| r.partition == p && relevant.contains(&post_id(&r.payload)))
                .map(|r| r.offset)
                .min()
                .unwrap();
            (p, first)
        })
        .collect();
    // No committed offset may pass a record whose output is not delivered: per partition,
    // at most the offset of its first relevant post.
    let check_committed = |when: &str| {
        let committed = fx.committed(&group, &raw);
        for (partition, first) in &first_relevant {
            let at = committed[partition].unwrap_or(0);
            assert!(
                at <= *first,
                "{when}: partition {partition} committed at {at}, past the undelivered output of offset {first}"
            );
        }
    };

    let stage = fx.spawn_analyze();
    // Everything taken, outputs waiting; the auto-commit (every second) has run since.
    wait_for(
        "analyze to take every post",
        ROUTED_WITHIN,
        &[&stage],
        || {
            std::thread::sleep(Duration::from_millis(50));
            match received(&fx.metrics, "analyze") as usize {
                n if n >= expected.posts => Ok(()),
                n => Err(format!("analyze took {n}")),
            }
        },
    );
    std::thread::sleep(Duration::from_millis(2500));
    check_committed("while the outputs wait");

    wait_for(
        "analyze to give up on its outputs",
        ROUTED_WITHIN,
        &[],
        || {
            std::thread::sleep(Duration::from_millis(100));
            if stage.is_finished() {
                Ok(())
            } else {
                Err("still waiting for the outputs".into())
            }
        },
    );
    let Stage::Daemon(stage) = stage else {
        unreachable!()
    };
    match stage.join() {
        Err(StageError::Delivery { topic, .. }) => assert_eq!(topic, scored),
        other => panic!("analyze must stop on the failed delivery, got {other:?}"),
    }
    check_committed("after the failure");

    // Once the broker is back, a restart delivers every output.
    cluster.broker_up(3).unwrap();
    let mut out = fx.collector(std::slice::from_ref(&scored));
    let stage = fx.spawn_analyze();
    wait_for(
        "every relevant post scored",
        ROUTED_WITHIN,
        &[&stage],
        || {
            out.poll_for(Duration::from_millis(100));
            let scored: BTreeSet<String> = scored_ids(&out, &scored).into_iter().collect();
            match relevant.difference(&scored).count() {
                0 => Ok(()),
                missing => Err(format!("{missing} relevant posts not scored yet")),
            }
        },
    );
    stop(&fx.shutdown, vec![stage]);
}
