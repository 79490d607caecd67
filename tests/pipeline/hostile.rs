//! Hostile input through the real stage runner: a record whose processing panics, the
//! Japanese post that used to panic the analyzer, and oversize outputs. Each must end in a
//! ticket or in the dead-letter topic with its reason, and the partition must move on.

use std::time::Duration;

use earshot::stages::analyze::AnalyzeProcessor;
use earshot_kafka::{
    Input, InternalErrorPolicy, Output, Processor, Reject, StageError, DLQ_ERROR_CODE_HEADER,
    DLQ_OFFSET_HEADER, DLQ_REASON_HEADER, DLQ_STAGE_HEADER, DLQ_TOPIC_HEADER,
};

use crate::expect::Routed;
use crate::harness::{received, wait_for, Collector, Fixture, Stage};
use crate::scenario::{output_topics, post_id, route_outputs, ROUTED_WITHIN};

/// The post of issue 9 that panicked the analyzer (two lexicon hits on one span), with the
/// brand so that it is routed.
pub const JAPANESE_POST: &str = r#"{"id":"ja-panic","text":"星空モバイルはオススメできません。さらに、機能が、ほぼ機能しません。","author":{"id":"u-ja"},"created_at":"2026-11-20T10:00:00Z"}"#;
/// A plain complaint that becomes a ticket.
pub const NEXT_POST: &str = r#"{"id":"next","text":"星空モバイル、朝から圏外で電話が繋がらない…","author":{"id":"u-next"},"created_at":"2026-11-20T10:01:00Z"}"#;
const POISON_POST: &str = r#"{"id":"poison","text":"星空モバイル 繋がらない","author":{"id":"u-poison"},"created_at":"2026-11-20T09:59:00Z"}"#;

/// Analyze with a bug: it panics on the post with id `poison`, and while scoring ahead
/// records among which it is.
struct PanicsOnPoison(AnalyzeProcessor);

fn is_poison(input: &Input<'_>) -> bool {
    input.payload.is_some_and(|p| post_id(p) == "poison")
}

impl Processor for PanicsOnPoison {
    fn process(&mut self, input: &Input<'_>, out: &mut Vec<Output>) -> Result<(), Reject> {
        if is_poison(input) {
            panic!("a bug met post `poison`");
        }
        self.0.process(input, out)
    }

    fn read_ahead(&self) -> usize {
        self.0.read_ahead()
    }

    fn prepare(&mut self, inputs: &[Input<'_>]) {
        self.0.prepare(inputs);
        if inputs.iter().any(is_poison) {
            panic!("a bug met post `poison` while scoring ahead");
        }
    }
}

fn lines(posts: &[&str]) -> Vec<Vec<u8>> {
    posts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

fn poisoned_analyze(fx: &Fixture) -> Stage {
    poisoned_analyze_on(fx, 0)
}

/// The poisoned analyze stage with `threads` scoring threads.
fn poisoned_analyze_on(fx: &Fixture, threads: usize) -> Stage {
    let processor = PanicsOnPoison(
        AnalyzeProcessor::new(fx.analyzer.clone(), fx.topics().scored.clone(), &fx.metrics)
            .with_threads(threads),
    );
    fx.run_stage("analyze", "poisoned", processor, &fx.metrics, &fx.shutdown)
}

/// Waits until the collector has a ticket for each post of `post_ids`.
fn wait_for_tickets(fx: &Fixture, stages: &[&Stage], out: &mut Collector, post_ids: &[&str]) {
    wait_for("the tickets", ROUTED_WITHIN, stages, || {
        out.poll_for(Duration::from_millis(100));
        let routed = route_outputs(fx, out);
        let missing: Vec<&&str> = post_ids
            .iter()
            .filter(|id| {
                !routed
                    .iter()
                    .any(|r| matches!(r, Routed::Ticket { post_id, .. } if post_id == *id))
            })
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("no ticket yet for {missing:?}"))
        }
    });
}

/// A panic while processing one record: the record goes to the DLQ as `internal_error` with
/// the panic message and where it was, it is counted, and the posts after it (the Japanese
/// post of issue 9 among them) still become tickets.
#[test]
fn a_panicking_record_goes_to_the_dlq_and_the_partition_moves_on() {
    let fx = Fixture::start(1, 1);
    let analyze = poisoned_analyze(&fx);
    let route = fx.spawn_route();
    let mut out = fx.collector(&output_topics(&fx));
    assert_eq!(
        fx.publish(&lines(&[POISON_POST, JAPANESE_POST, NEXT_POST])),
        (3, 0)
    );
    the_poison_alone_is_dead_lettered(&fx, analyze, route, &mut out);
}

/// The same bug met while handing records to two scoring threads: preparing the records
/// panics, is ignored, and processing meets the panic again on the poison record alone,
/// which goes to the DLQ; the records taken with it still become tickets.
#[test]
fn a_panic_while_scoring_ahead_costs_only_its_record() {
    let fx = Fixture::start(1, 1);
    let mut out = fx.collector(&output_topics(&fx));
    // Published before the stage starts, so that it takes them together.
    assert_eq!(
        fx.publish(&lines(&[POISON_POST, JAPANESE_POST, NEXT_POST])),
        (3, 0)
    );
    let analyze = poisoned_analyze_on(&fx, 2);
    let route = fx.spawn_route();
    the_poison_alone_is_dead_lettered(&fx, analyze, route, &mut out);
    let prepared = fx.metrics.records_prepared.with_label_values(&["analyze"]);
    assert_eq!(prepared.get(), 3, "the three records were taken together");
}

fn the_poison_alone_is_dead_lettered(
    fx: &Fixture,
    analyze: Stage,
    route: Stage,
    out: &mut Collector,
) {
    wait_for_tickets(fx, &[&analyze, &route], out, &["ja-panic", "next"]);
    out.settle(Duration::from_secs(1), Duration::from_secs(10));
    crate::harness::stop(&fx.shutdown, vec![analyze, route]);

    let dlq: Vec<_> = out.on(&fx.topics().dlq).collect();
    assert_eq!(dlq.len(), 1, "{dlq:#?}");
    let dead = dlq[0];
    assert_eq!(post_id(&dead.payload), "poison");
    assert_eq!(dead.header(DLQ_STAGE_HEADER), Some("analyze"));
    assert_eq!(dead.header(DLQ_ERROR_CODE_HEADER), Some("internal_error"));
    assert!(
        dead.header(DLQ_REASON_HEADER).is_some_and(
            |r| r.contains("a bug met post `poison`") && !r.contains("while scoring ahead")
        ),
        "{dead:?}"
    );
    assert_eq!(
        dead.header(DLQ_TOPIC_HEADER),
        Some(fx.topics().raw.as_str())
    );
    assert_eq!(dead.header(DLQ_OFFSET_HEADER), Some("0"));
    let m = &fx.metrics;
    assert_eq!(
        m.dead_letters
            .with_label_values(&["analyze", "internal_error"])
            .get(),
        1
    );
    assert_eq!(
        m.errors
            .with_label_values(&["analyze", "internal_error"])
            .get(),
        1
    );
    assert_eq!(received(m, "analyze"), 3);
}

/// `on_internal_error = "stop"`: the stage stops at the record with an error and commits
/// nothing past it, so a restart meets it again; nothing goes to the DLQ.
#[test]
fn on_internal_error_stop_halts_without_committing_past_the_record() {
    let fx = Fixture::start_with(1, 1, |s| {
        s.kafka.on_internal_error = InternalErrorPolicy::Stop;
    });
    let mut out = fx.collector(&output_topics(&fx));
    assert_eq!(
        fx.publish(&lines(&[NEXT_POST, POISON_POST, JAPANESE_POST])),
        (3, 0)
    );
    let analyze = poisoned_analyze(&fx);
    wait_for("analyze to stop", ROUTED_WITHIN, &[], || {
        std::thread::sleep(Duration::from_millis(50));
        if analyze.is_finished() {
            Ok(())
        } else {
            Err(format!("analyze took {}", received(&fx.metrics, "analyze")))
        }
    });
    let Stage::Thread { thread, .. } = analyze else {
        unreachable!()
    };
    match thread.join().unwrap() {
        Err(StageError::Internal {
            offset, message, ..
        }) => {
            assert_eq!(offset, 1);
            assert!(message.contains("a bug met post `poison`"), "{message}");
        }
        other => panic!("analyze must stop on the panic, got {other:?}"),
    }
    let committed = fx.committed(&fx.settings.kafka.groups.analyze, &fx.topics().raw);
    assert_eq!(committed[&0], Some(1), "committed up to the poison record");
    out.settle(Duration::from_secs(1), Duration::from_secs(10));
    assert_eq!(out.on(&fx.topics().dlq).count(), 0);
}

/// The posts of issue 9 item 1: 64 KiB of text and a 300 KB `author.name`.
fn issue_post(id: &str, name_bytes: usize) -> String {
    let unit = "星空モバイル 😡 #星空障害 @hoshizora_help http://x.y/ not good!!! 繋がらない。";
    let text = unit.repeat(65536 / unit.len());
    serde_json::json!({
        "id": id,
        "text": text,
        "author": {"id": format!("a-{id}"), "name": "N".repeat(name_bytes)},
        "created_at": "2026-11-20T10:02:00Z",
    })
    .to_string()
}

/// Size limits by design: a post over a field limit and a line over the record limit go to
/// the DLQ from ingest (the line cut to the record limit, with its size and hash); a post of
/// 64 KiB of dense text is scored with its explanation cut to fit one message and becomes a
/// ticket; the post after them still does.
#[test]
fn oversize_posts_are_dead_lettered_and_big_ones_still_make_tickets() {
    use earshot_kafka::{DLQ_ORIGINAL_BYTES_HEADER, DLQ_ORIGINAL_SHA256_HEADER};
    // A smaller message size than the default 1 MB, so that the dense post's analysis
    // (hundreds of hits, published with the explanation on) must be cut to fit.
    let fx = Fixture::start_with(1, 1, |s| {
        s.kafka.max_message_bytes = 300_000;
        s.analyze.explain = true;
    });
    let analyze = fx.spawn_analyze();
    let route = fx.spawn_route();
    let mut out = fx.collector(&output_topics(&fx));
    let scored_topic = fx.topics().scored.clone();
    let mut scored = fx.collector(std::slice::from_ref(&scored_topic));
    let huge_name = issue_post("huge-name", 300_000);
    let long_name = issue_post("long-name", 10_000);
    let dense = issue_post("dense", 1);
    let long_line = format!(r#"{{"id":"long","text":"{}"}}"#, "星".repeat(1_200_000 / 3));
    let future =
        r#"{"id":"future","text":"星空モバイル 繋がらない","created_at":"9999-12-31T23:59:59Z"}"#;
    let limits = fx.settings.limits;
    assert_eq!(
        fx.publish(&lines(&[
            &huge_name, &long_name, &long_line, future, &dense, NEXT_POST
        ])),
        (2, 4)
    );
    wait_for_tickets(&fx, &[&analyze, &route], &mut out, &["dense", "next"]);
    out.settle(Duration::from_secs(1), Duration::from_secs(10));
    crate::harness::stop(&fx.shutdown, vec![analyze, route]);

    let mut dlq: Vec<_> = out.on(&fx.topics().dlq).collect();
    assert_eq!(dlq.len(), 4, "{dlq:#?}");
    let future_dead = dlq.pop().unwrap();
    assert_eq!(
        future_dead.header(DLQ_ERROR_CODE_HEADER),
        Some("implausible_time")
    );
    assert_eq!(future_dead.payload, future.as_bytes());
    for dead in &dlq {
        assert_eq!(dead.header(DLQ_STAGE_HEADER), Some("ingest"));
        assert_eq!(dead.header(DLQ_ERROR_CODE_HEADER), Some("oversize"));
        assert!(dead.payload.len() <= limits.max_record_bytes);
    }
    let reason =
        |dead: &crate::harness::Record| dead.header(DLQ_REASON_HEADER).unwrap().to_string();
    // The post of issue 9 (365 KB raw) is over the record limit; a smaller one with a long
    // name is over the field limit.
    assert!(
        reason(dlq[0]).contains("the record is 365"),
        "{}",
        reason(dlq[0])
    );
    assert!(
        reason(dlq[1]).contains("author.name is 10000 bytes"),
        "{}",
        reason(dlq[1])
    );
    let cut = dlq[2];
    assert!(reason(cut).contains("the record is"), "{}", reason(cut));
    assert_eq!(cut.payload, long_line.as_bytes()[..limits.max_record_bytes]);
    assert_eq!(
        cut.header(DLQ_ORIGINAL_BYTES_HEADER),
        Some(long_line.len().to_string().as_str())
    );
    let sha = cut.header(DLQ_ORIGINAL_SHA256_HEADER).unwrap();
    assert_eq!(sha.len(), 64);

    // The dense post's scored record fits in one message, its explanation cut.
    scored.settle(Duration::from_secs(1), Duration::from_secs(10));
    let dense_scored = scored
        .on(&scored_topic)
        .find(|r| post_id(&r.payload) == "dense")
        .expect("the dense post scored");
    assert!(
        dense_scored.payload.len() <= 300_000,
        "{} bytes",
        dense_scored.payload.len()
    );
    let value: serde_json::Value = serde_json::from_slice(&dense_scored.payload).unwrap();
    assert_eq!(value["analysis"]["explanation_truncated"], true);
    assert!(value["analysis"]["hits"].is_array(), "explained, then cut");
    assert_eq!(value["analysis"]["sentiment"]["label"], "negative");
}

/// An output the broker refuses for good (here the client's `message.max.bytes` is below
/// what Earshot was told): the input goes to the DLQ as `output_refused` and the partition
/// moves on — the stage does not stop.
#[test]
fn an_output_the_broker_refuses_dead_letters_its_input() {
    let fx = Fixture::start_with(1, 1, |s| {
        s.kafka
            .producer
            .insert("message.max.bytes".into(), "20000".into());
        // The explanation (every hit of a long text) is what makes the record large.
        s.analyze.explain = true;
    });
    let analyze = fx.spawn_analyze();
    let route = fx.spawn_route();
    let mut out = fx.collector(&output_topics(&fx));
    // ~9 KB raw, but its analysis makes the scored record larger than 20 000 bytes.
    let unit = "星空モバイル 繋がらない 最悪!!! ";
    let big = serde_json::json!({
        "id": "big", "text": unit.repeat(9000 / unit.len()), "author": {"id": "u-big"},
        "created_at": "2026-11-20T10:00:00Z"
    })
    .to_string();
    assert!(big.len() < 15_000);
    assert_eq!(fx.publish(&lines(&[&big, NEXT_POST])), (2, 0));
    wait_for_tickets(&fx, &[&analyze, &route], &mut out, &["next"]);
    wait_for(
        "the refused post's dead letter",
        ROUTED_WITHIN,
        &[&analyze, &route],
        || {
            out.poll_for(Duration::from_millis(100));
            match out.on(&fx.topics().dlq).count() {
                0 => Err("no dead letter yet".into()),
                _ => Ok(()),
            }
        },
    );
    out.settle(Duration::from_secs(1), Duration::from_secs(10));
    crate::harness::stop(&fx.shutdown, vec![analyze, route]);
    let dlq: Vec<_> = out.on(&fx.topics().dlq).collect();
    assert_eq!(dlq.len(), 1, "{dlq:#?}");
    assert_eq!(post_id(&dlq[0].payload), "big");
    assert_eq!(dlq[0].header(DLQ_ERROR_CODE_HEADER), Some("output_refused"));
    assert_eq!(dlq[0].header(DLQ_STAGE_HEADER), Some("analyze"));
    let committed = fx.committed(&fx.settings.kafka.groups.analyze, &fx.topics().raw);
    assert_eq!(
        committed[&0],
        Some(2),
        "the partition moved past both posts"
    );
}
