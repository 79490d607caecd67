//! Route's state in its changelog topic: handed from one route replica to another with its
//! partition, and what makes a redelivered post change nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use earshot::settings::{RouteClock, Shape};
use earshot_pipeline::Metrics;

use crate::expect::{assert_same_set, ticket_ids, ticket_revisions, unrouted_posts, Routed};
use crate::harness::{example_lines, in_flight, received, stop, wait_for, Fixture, Stage};
use crate::scenario::{output_topics, route_outputs, wait_ready, QUIET, ROUTED_WITHIN};

/// A replica of the stage that routes in `shape` (`earshot route`, or the fused `earshot
/// process`), with metrics and a shutdown of its own.
fn route_replica(
    fx: &Fixture,
    shape: Shape,
    metrics: &Metrics,
    shutdown: &earshot_kafka::Shutdown,
) -> Stage {
    route_replica_with(fx, &fx.settings.kafka, shape, metrics, shutdown)
}

/// [`route_replica`] with other Kafka settings (another consumer group).
fn route_replica_with(
    fx: &Fixture,
    kafka: &earshot_pipeline::KafkaConfig,
    shape: Shape,
    metrics: &Metrics,
    shutdown: &earshot_kafka::Shutdown,
) -> Stage {
    let limits = fx.settings.limits;
    Stage::Daemon(match shape {
        Shape::Split => earshot::daemon::spawn_route(
            kafka,
            limits,
            fx.router(),
            RouteClock::Event,
            metrics,
            shutdown,
            None,
        ),
        Shape::Fused => earshot::daemon::spawn_process(
            kafka,
            limits,
            fx.settings.analysis(fx.analyzer.clone()),
            fx.router(),
            earshot::daemon::Fused {
                clock: RouteClock::Event,
                tap_scored: false,
            },
            metrics,
            shutdown,
            None,
        ),
    })
}

/// The split shape's analyze stage, which runs throughout; the fused replicas analyze
/// themselves.
fn analyze_for(fx: &Fixture, shape: Shape) -> Vec<Stage> {
    match shape {
        Shape::Split => vec![fx.spawn_analyze()],
        Shape::Fused => Vec::new(),
    }
}

/// The stages `replica` works with: itself, after the split shape's analyze stage.
fn with<'a>(analyze: &'a [Stage], replica: &'a Stage) -> Vec<&'a Stage> {
    analyze.iter().chain(std::iter::once(replica)).collect()
}

/// What the routing replicas of `shape` must read of `expected`: the relevant posts (route),
/// or every post (the fused stage).
fn to_read(shape: Shape, expected: &crate::expect::Expected) -> usize {
    match shape {
        Shape::Split => expected.relevant.len(),
        Shape::Fused => expected.posts,
    }
}

/// Waits until route replicas with `metrics` took `posts` records between them and have
/// nothing in flight, and the collector saw `outputs` ticket and unrouted records.
fn wait_for_route(
    fx: &Fixture,
    stage: &str,
    what: &str,
    stages: &[&Stage],
    metrics: &[&Metrics],
    (posts, outputs): (usize, usize),
    out: &mut crate::harness::Collector,
) {
    let incidents = fx.topics().incidents.clone();
    let topics: BTreeSet<String> = fx.route_topics().into_iter().collect();
    wait_for(what, ROUTED_WITHIN, stages, || {
        out.poll_for(Duration::from_millis(100));
        let routed: u64 = metrics.iter().map(|m| received(m, stage)).sum();
        let busy = metrics.iter().any(|m| in_flight(m, stage) > 0)
            || in_flight(&fx.metrics, "analyze") > 0;
        let seen = out
            .records
            .iter()
            .filter(|r| topics.contains(&r.topic) && r.topic != incidents)
            .count();
        if routed as usize >= posts && seen >= outputs && !busy {
            Ok(())
        } else {
            Err(format!(
                "routed {routed}/{posts}, {seen}/{outputs} ticket and unrouted records, busy {busy}"
            ))
        }
    });
    out.settle(QUIET, Duration::from_secs(10));
}

in_both_shapes!(route_state_moves_with_its_partition_and_a_replay_changes_nothing);

/// Fused replicas with two scoring threads each: a rebalance arriving while a replica takes
/// records together stops the taking, the records taken are routed before the partitions
/// are handed over, and the state still moves with its partition.
#[test]
fn route_state_moves_with_its_partition_while_scoring_ahead() {
    crate::harness::with_analysis_threads(2, || {
        route_state_moves_with_its_partition_and_a_replay_changes_nothing(Shape::Fused)
    });
}

/// Replica a routes the first half of the posts; replica b joins and a stops, so b owns the
/// partition and restores its conversations, post ids and spike state from the changelog
/// before its first record. Together they make what one router makes offline: follow-ups
/// of conversations a opened fold into a's tickets with the next revisions (a fresh router
/// would open new tickets or leave them unrouted). Then the last posts come again (a replay):
/// no ticket gets a new revision. In both shapes: the fused stage keeps the same state by
/// raw partition.
fn route_state_moves_with_its_partition_and_a_replay_changes_nothing(shape: Shape) {
    let fx = Fixture::start(1, 1);
    let lines = example_lines("posts.jsonl");
    let expected = fx.expect(&lines);
    let half = lines.len() / 2;
    let first_half = fx.expect(&lines[..half]);
    let stage = shape.output_stage();

    let analyze = analyze_for(&fx, shape);
    let (first, second) = (Metrics::unregistered(), Metrics::unregistered());
    let (stop_a, stop_b) = (fx.new_shutdown(), fx.new_shutdown());
    let a = route_replica(&fx, shape, &first, &stop_a);
    wait_ready(&with(&analyze, &a));
    let mut out = fx.collector(&output_topics(&fx));
    fx.publish(&lines[..half]);
    wait_for_route(
        &fx,
        stage,
        "replica a to route the first half",
        &with(&analyze, &a),
        &[&first],
        (to_read(shape, &first_half), first_half.post_outputs()),
        &mut out,
    );

    let b = route_replica(&fx, shape, &second, &stop_b);
    // Whichever replica the group gives the partition to first, b owns it once a stops.
    stop(&stop_a, vec![a]);
    wait_ready(&[&b]);
    fx.publish(&lines[half..]);
    wait_for_route(
        &fx,
        stage,
        "replica b to route the second half",
        &with(&analyze, &b),
        &[&first, &second],
        (to_read(shape, &expected), expected.post_outputs()),
        &mut out,
    );
    let (by_a, by_b) = (received(&first, stage), received(&second, stage));
    eprintln!("{stage} replica a took {by_a} posts, b {by_b}");
    assert!(by_b > 0, "replica b routed posts after the handover");

    let routed = route_outputs(&fx, &out);
    let got = ticket_revisions(&routed);
    for (key, posts) in &got {
        assert_eq!(posts.len(), 1, "ticket {key:?} with other posts: {posts:?}");
    }
    assert_same_set(
        "(ticket id, revision) → post",
        &ticket_revisions(&expected.routed).into_iter().collect(),
        &got.into_iter().collect(),
    );
    assert_same_set(
        "ticket ids",
        &ticket_ids(&expected.routed),
        &ticket_ids(&routed),
    );
    assert_same_set(
        "unrouted posts",
        &unrouted_posts(&expected.routed),
        &unrouted_posts(&routed),
    );
    let redelivered = (by_a + by_b) as usize - to_read(shape, &expected);
    if redelivered == 0 {
        let incidents = |r: &[Routed]| -> BTreeSet<Routed> {
            r.iter()
                .filter(|r| matches!(r, Routed::Incident { .. }))
                .cloned()
                .collect()
        };
        assert_same_set(
            "incidents",
            &incidents(&expected.routed),
            &incidents(&routed),
        );
    }

    // A replay of the last posts (a platform retry, a re-ingest): every ticket post of them
    // is already folded into its open ticket, so no ticket record at all.
    let tickets_before = routed
        .iter()
        .filter(|r| matches!(r, Routed::Ticket { .. }))
        .count();
    let replay = &lines[lines.len() - 60..];
    let replayed = to_read(shape, &fx.expect(replay));
    fx.publish(replay);
    let total = to_read(shape, &expected) + redelivered + replayed;
    wait_for(
        "the replay through route",
        ROUTED_WITHIN,
        &with(&analyze, &b),
        || {
            out.poll_for(Duration::from_millis(100));
            let routed = received(&first, stage) + received(&second, stage);
            match routed as usize >= total && in_flight(&second, stage) == 0 {
                true => Ok(()),
                false => Err(format!("routed {routed}/{total}")),
            }
        },
    );
    out.settle(QUIET, Duration::from_secs(10));
    stop(&stop_b, vec![b]);
    stop(&fx.shutdown, analyze);
    let after = route_outputs(&fx, &out);
    let replayed_tickets: Vec<&Routed> = after
        .iter()
        .filter(|r| matches!(r, Routed::Ticket { .. }))
        .skip(tickets_before)
        .collect();
    assert!(
        replayed_tickets.is_empty(),
        "{} posts replayed made ticket records: {replayed_tickets:?}",
        replayed
    );
}

in_both_shapes!(a_restart_behind_the_state_changes_no_ticket);

/// The crash at-least-once allows: the state reached the changelog, the offsets behind it
/// were not committed yet. Replica a routes every post and stops; replica b joins another
/// consumer group, with no offsets (as if none had been committed), restores the state of
/// the end from the same changelog and reads every post again. Each of them is already in the state: b makes no ticket record at all. (A
/// post routed before its conversation's ticket opened, routed again against the restored
/// ticket, would otherwise fold into it as a revision nothing made before.)
fn a_restart_behind_the_state_changes_no_ticket(shape: Shape) {
    let fx = Fixture::start(1, 1);
    let lines = example_lines("posts.jsonl");
    let expected = fx.expect(&lines);
    let stage = shape.output_stage();
    let analyze = analyze_for(&fx, shape);
    let (first, second) = (Metrics::unregistered(), Metrics::unregistered());
    let (stop_a, stop_b) = (fx.new_shutdown(), fx.new_shutdown());
    let a = route_replica(&fx, shape, &first, &stop_a);
    wait_ready(&with(&analyze, &a));
    let mut out = fx.collector(&output_topics(&fx));
    fx.publish(&lines);
    let to_read = to_read(shape, &expected);
    wait_for_route(
        &fx,
        stage,
        "replica a to route every post",
        &with(&analyze, &a),
        &[&first],
        (to_read, expected.post_outputs()),
        &mut out,
    );
    stop(&stop_a, vec![a]);
    let before: Vec<Routed> = route_outputs(&fx, &out)
        .into_iter()
        .filter(|r| matches!(r, Routed::Ticket { .. }))
        .collect();

    let mut kafka = fx.settings.kafka.clone();
    kafka.groups.route.push_str("-uncommitted");
    kafka.groups.process.push_str("-uncommitted");
    let b = route_replica_with(&fx, &kafka, shape, &second, &stop_b);
    wait_ready(&with(&analyze, &b));
    wait_for(
        "replica b to read every post again",
        ROUTED_WITHIN,
        &with(&analyze, &b),
        || {
            out.poll_for(Duration::from_millis(100));
            let read = received(&second, stage) as usize;
            match read >= to_read && in_flight(&second, stage) == 0 {
                true => Ok(()),
                false => Err(format!("read {read}/{to_read}")),
            }
        },
    );
    out.settle(QUIET, Duration::from_secs(10));
    stop(&stop_b, vec![b]);
    stop(&fx.shutdown, analyze);
    let again: Vec<Routed> = route_outputs(&fx, &out)
        .into_iter()
        .filter(|r| matches!(r, Routed::Ticket { .. }))
        .skip(before.len())
        .collect();
    let new: Vec<&Routed> = again.iter().filter(|r| !before.contains(r)).collect();
    assert!(
        again.is_empty(),
        "{} ticket records after the restart behind the state, {} of them revisions replica a never made: {:?}",
        again.len(),
        new.len(),
        new.iter().take(5).collect::<Vec<_>>()
    );
    let replayed = second
        .posts_discarded
        .with_label_values(&["route", "replayed"])
        .get();
    assert!(
        replayed > 0,
        "replica b counted no post as replayed (earshot_posts_discarded_total{{reason=\"replayed\"}})"
    );
}
