//! Steps the tests share: waiting for a run to come through, injecting faults while
//! publishing, a second replica joining mid-stream, and comparing outputs after a fault.

use std::collections::BTreeSet;
use std::time::Duration;

use earshot_kafka::{Input, Output, Processor, Reject, Shutdown};
use earshot_pipeline::Metrics;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::expect::{
    assert_same_set, ticket_ids, ticket_revisions, unrouted_posts, Expected, Routed,
};
use crate::harness::{in_flight, received, wait_for, Collector, Fixture, Stage};

/// How long a whole run may take to come through the pipeline.
pub const ROUTED_WITHIN: Duration = Duration::from_secs(45);
/// Outputs are complete when nothing new arrives for this long after the expected ones.
pub const QUIET: Duration = Duration::from_secs(1);

/// Waits until each stage has partitions (joining a group takes the mock a few seconds).
pub fn wait_ready(stages: &[&Stage]) {
    wait_for(
        "the stages to get partitions",
        ROUTED_WITHIN,
        stages,
        || {
            std::thread::sleep(Duration::from_millis(20));
            match stages.iter().find(|s| !s.is_ready()) {
                None => Ok(()),
                Some(s) => Err(format!("{} has no partitions yet", s.name())),
            }
        },
    );
}

/// librdkafka's default session timeout, for tests where no member joins or leaves: a fault
/// must not cost a stage its group membership (a rebalance redelivers records, and repeated
/// posts count twice towards spikes, which may change incidents and what folds into them).
pub fn long_sessions(settings: &mut earshot::settings::Settings) {
    settings
        .kafka
        .consumer
        .insert("session.timeout.ms".into(), "45000".into());
}

/// The route topics and the DLQ.
pub fn output_topics(fx: &Fixture) -> Vec<String> {
    let mut topics = fx.route_topics();
    topics.push(fx.topics().dlq.clone());
    topics
}

/// Route's outputs as read so far.
pub fn route_outputs(fx: &Fixture, out: &Collector) -> Vec<Routed> {
    let topics: BTreeSet<String> = fx.route_topics().into_iter().collect();
    Routed::decode(out.records.iter().filter(|r| topics.contains(&r.topic)))
}

pub fn post_of(r: &Routed) -> Option<&str> {
    match r {
        Routed::Ticket { post_id, .. } | Routed::Unrouted { post_id } => Some(post_id),
        Routed::Incident { .. } => None,
    }
}

pub fn post_id(payload: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(payload).unwrap();
    value["id"].as_str().unwrap().to_string()
}

/// Post ids of the records on the scored topic, repeats included.
pub fn scored_ids(out: &Collector, topic: &str) -> Vec<String> {
    out.on(topic).map(|r| post_id(&r.payload)).collect()
}

/// Waits until analyze and route (or the fused stage) took every post, have nothing in
/// flight, and the collector saw at least as many ticket and unrouted records as the offline
/// run made; then reads until quiet.
pub fn wait_until_routed(fx: &Fixture, stages: &[Stage], out: &mut Collector, expected: &Expected) {
    let stages: Vec<&Stage> = stages.iter().collect();
    let topics: BTreeSet<String> = fx.route_topics().into_iter().collect();
    let incidents = fx.topics().incidents.clone();
    let fused = stages.iter().any(|s| s.name() == "process");
    wait_for("every post through route", ROUTED_WITHIN, &stages, || {
        out.poll_for(Duration::from_millis(100));
        let (analyzed, routed) = if fused {
            // One stage does both: every post it took was analyzed, and routed if relevant.
            let taken = received(&fx.metrics, "process");
            (taken, (taken as usize).min(expected.relevant.len()) as u64)
        } else {
            (
                received(&fx.metrics, "analyze"),
                received(&fx.metrics, "route"),
            )
        };
        let outputs = out
            .records
            .iter()
            .filter(|r| topics.contains(&r.topic) && r.topic != incidents)
            .count();
        let idle = stages
            .iter()
            .all(|s| in_flight(&fx.metrics, &s.name()) == 0);
        if analyzed as usize >= expected.posts
            && routed as usize >= expected.relevant.len()
            && outputs >= expected.post_outputs()
            && idle
        {
            Ok(())
        } else {
            Err(format!(
                "analyzed {analyzed}/{}, routed {routed}/{}, {outputs}/{} ticket and unrouted records, idle {idle}",
                expected.posts,
                expected.relevant.len(),
                expected.post_outputs()
            ))
        }
    });
    out.settle(QUIET, Duration::from_secs(10));
}

/// After a fault: the same tickets as offline (each revision with the same post, repeats
/// allowed), the same unrouted posts, and unless route was handed a post twice (a repeated
/// post counts twice towards spikes), the same incidents.
pub fn assert_routed_like(expected: &Expected, routed: &[Routed], metrics: &Metrics) {
    let want = ticket_revisions(&expected.routed);
    let got = ticket_revisions(routed);
    for (key, posts) in &got {
        assert_eq!(
            posts.len(),
            1,
            "ticket {key:?} repeated with other posts: {posts:?}"
        );
    }
    assert_same_set(
        "ticket ids",
        &ticket_ids(&expected.routed),
        &ticket_ids(routed),
    );
    assert_same_set(
        "(ticket id, revision) → post",
        &want.into_iter().collect(),
        &got.into_iter().collect(),
    );
    assert_same_set(
        "unrouted posts",
        &unrouted_posts(&expected.routed),
        &unrouted_posts(routed),
    );
    let incidents = |r: &[Routed]| -> BTreeSet<Routed> {
        r.iter()
            .filter(|r| matches!(r, Routed::Incident { .. }))
            .cloned()
            .collect()
    };
    // The route stage reads relevant posts; the fused stage reads every post.
    let redelivered = (received(metrics, "route") as usize).saturating_sub(expected.relevant.len())
        + (received(metrics, "process") as usize).saturating_sub(expected.posts);
    if redelivered == 0 {
        assert_same_set(
            "incidents",
            &incidents(&expected.routed),
            &incidents(routed),
        );
    }
    eprintln!(
        "{redelivered} posts redelivered to route, {} output records repeated",
        routed.len().saturating_sub(expected.routed.len())
    );
}

/// Publishes a third of `lines`, starts the second replica while the first is working through
/// it, keeps publishing until the second has partitions, then publishes the rest. Returns the
/// second replica and the valid posts published.
pub fn join_second_replica_mid_stream(
    fx: &Fixture,
    lines: &[Vec<u8>],
    out: &mut Collector,
    first: &Stage,
    start_second: impl FnOnce() -> Stage,
) -> (Stage, usize) {
    let third = lines.len() / 3;
    wait_ready(&[first]);
    let mut published = fx.publish(&lines[..third]).0;
    wait_for(
        "the first replica to start on the posts",
        ROUTED_WITHIN,
        &[first],
        || {
            out.poll_for(Duration::from_millis(20));
            if out.records.is_empty() {
                Err("no output yet".into())
            } else {
                Ok(())
            }
        },
    );
    let second = start_second();
    let mut next = third;
    wait_for(
        "the second replica to get partitions",
        ROUTED_WITHIN,
        &[first, &second],
        || {
            if next < 2 * third {
                let end = (next + 20).min(2 * third);
                published += fx.publish(&lines[next..end]).0;
                next = end;
            }
            out.poll_for(Duration::from_millis(100));
            if second.is_ready() {
                Ok(())
            } else {
                Err(format!("published {next} lines"))
            }
        },
    );
    published += fx.publish(&lines[next..]).0;
    (second, published)
}

/// Publishes `lines` in six parts; after each of the first four, queues transient errors
/// for the next Produce, Fetch and OffsetCommit requests while the stages work through the
/// part (the publisher is idle then, so the stages' requests take most of them). Checks
/// that fetch errors reached the stages (librdkafka retries the others silently; its debug
/// log shows them: `Not leader for partition (actions Refresh,MsgNotPersisted)` on the
/// scored topic, `marking the coordinator dead: Not coordinator: OffsetCommitRequest
/// failed`). Returns the valid posts.
pub fn publish_with_faults(fx: &Fixture, lines: &[Vec<u8>]) -> usize {
    use RDKafkaRespErr::*;
    let cluster = fx.broker.cluster();
    let produce = [
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
    ];
    // A fetch that times out is reported to the stage (`earshot_errors_total{error_code=
    // "consume"}`), which makes the fault visible; the others are retried inside the client.
    let fetch = [
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
    ];
    let commit = [
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
    ];
    let consume_errors = || -> u64 {
        ["analyze", "route", "process"]
            .iter()
            .map(|stage| {
                fx.metrics
                    .errors
                    .with_label_values(&[stage, "consume"])
                    .get()
            })
            .sum()
    };
    let published = fx.publish_in_chunks(lines, 6, |i| {
        if i < 4 {
            cluster.request_errors(RDKafkaApiKey::Produce, &produce);
            cluster.request_errors(RDKafkaApiKey::Fetch, &fetch);
            cluster.request_errors(RDKafkaApiKey::OffsetCommit, &commit);
        }
        std::thread::sleep(Duration::from_millis(1500));
    });
    assert!(
        consume_errors() > 0,
        "the injected fetch errors reached the stages"
    );
    published
}

/// Analyze that triggers its own shutdown after `left` records.
pub struct StopAfter<P> {
    pub inner: P,
    pub left: u64,
    pub shutdown: Shutdown,
}

impl<P: Processor> Processor for StopAfter<P> {
    fn process(&mut self, input: &Input<'_>, out: &mut Vec<Output>) -> Result<(), Reject> {
        let result = self.inner.process(input, out);
        self.left = self.left.saturating_sub(1);
        if self.left == 0 {
            self.shutdown.trigger();
        }
        result
    }
}
