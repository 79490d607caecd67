//! Hot reload on the mock cluster: the stages follow a [`Reloader`] as `earshot run` wires
//! them, the test edits a copy of the example configuration and reloads.
//!
//! The new set adds a watchlist (posts about films, games and coffee become relevant: more
//! reach route) and a first rule that tags every ticket `reloaded`, so that what each stage
//! processed each record with can be read from its outputs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use earshot::config_set::{ConfigSet, Need};
use earshot::reload::{Outcome, ReloadMetrics, Reloader};
use earshot_analyze::{Analyzer, Scratch};
use earshot_model::{Post, ScoredPost};
use earshot_pipeline::{score, RouteClock, Routing};
use earshot_route::{RouteConfig, RouteOutput, Router, Shard};

use crate::expect::{assert_same_multiset, Expected, Routed};
use crate::harness::{
    example_lines, in_flight, received, stop, wait_for, Collector, Fixture, Stage,
};
use crate::scenario::{
    output_topics, route_outputs, wait_ready, wait_until_routed, QUIET, ROUTED_WITHIN,
};

const TAG_RULE: &str =
    "[[rule]]\nid = \"mark-reloaded\"\ntags = [\"reloaded\"]\ncontinue = true\n\n";
const LEISURE: &str = "\n[[watchlist]]\nid = \"leisure\"\nname = \"Films, games, coffee\"\n\n[watchlist.terms]\nwords = [\"映画\", \"ゲーム\", \"コーヒー\"]\n";
const BROKEN_RULE: &str = "\n[[rule]]\nid = \"broken\"\nwatchlist = \"no-such-list\"\nqueue = \"social_care\"\npriority = \"P3\"\n";

/// The example configuration in a folder of its own.
fn example_copy() -> tempfile::TempDir {
    let examples = earshot_e2e::repo_root().join("examples");
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "earshot.toml",
        "watchlists.toml",
        "lexicon.toml",
        "route.toml",
        "rules.toml",
    ] {
        std::fs::copy(examples.join(file), dir.path().join(file)).unwrap();
    }
    dir
}

/// Rewrites the copy with the new set: the tag rule first, the new watchlist last.
fn write_new_set(dir: &Path) {
    let rules = dir.join("rules.toml");
    let text = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(&rules, format!("{TAG_RULE}{text}")).unwrap();
    let watchlists = dir.join("watchlists.toml");
    let text = std::fs::read_to_string(&watchlists).unwrap();
    std::fs::write(&watchlists, format!("{text}{LEISURE}")).unwrap();
}

/// A reloader for the fixture's configuration and the stages following it.
fn start(fx: &Fixture, config: &Path, metrics: &ReloadMetrics) -> (Reloader, [Stage; 2]) {
    let set = ConfigSet::load(&fx.settings, Need::Router).unwrap();
    let reloader = Reloader::new(Some(config), Need::Router, set, metrics.clone());
    let stages = [
        fx.spawn_analyze_following(Some(reloader.subscribe())),
        fx.spawn_route_following(Some(reloader.subscribe())),
    ];
    (reloader, stages)
}

fn wait_for_version(stages: &[Stage], version: &str) {
    let refs: Vec<&Stage> = stages.iter().collect();
    wait_for(
        "the stages to swap the set in",
        ROUTED_WITHIN,
        &refs,
        || {
            std::thread::sleep(Duration::from_millis(50));
            let now: Vec<String> = stages.iter().filter_map(Stage::config_version).collect();
            if now.len() == stages.len() && now.iter().all(|v| v == version) {
                Ok(())
            } else {
                Err(format!("versions in force {now:?}, want {version}"))
            }
        },
    );
}

/// Ticket records read so far: (post id, revision, tags, ticket id).
fn tickets(fx: &Fixture, out: &Collector) -> Vec<(String, u32, Vec<String>, String)> {
    let topics: Vec<String> = fx.queues.iter().map(|q| fx.topics().tickets(q)).collect();
    out.records
        .iter()
        .filter(|r| topics.contains(&r.topic))
        .filter_map(|r| match serde_json::from_slice(&r.payload).unwrap() {
            RouteOutput::Ticket(t) => Some((
                t.post.id.clone(),
                t.revision,
                t.tags.iter().map(|t| t.to_string()).collect(),
                t.ticket_id.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_refused_reload_keeps_the_old_set_and_a_valid_one_routes_later_posts_by_the_new() {
    let dir = example_copy();
    let config = dir.path().join("earshot.toml");
    let fx = Fixture::start_from(&config, 1, 1, |_| {});
    let metrics = ReloadMetrics::unregistered();
    let (mut reloader, stages) = start(&fx, &config, &metrics);
    let first = reloader.current();
    let old = first.version.clone();
    // What the old set makes of `lines`, whatever the files hold by then.
    let expect_old = |lines: &[Vec<u8>]| {
        Expected::compute(
            &first.analyzer,
            Router::new(first.route.clone().unwrap()),
            lines,
        )
    };
    let mut out = fx.collector(&output_topics(&fx));
    let lines = example_lines("posts.jsonl");
    let (a, rest) = lines.split_at(900);
    let (b, c) = rest.split_at(900);

    fx.publish(a);
    wait_until_routed(&fx, &stages, &mut out, &expect_old(a));

    // A rule naming a watchlist that does not exist: refused with its place, nothing swapped.
    let rules = dir.path().join("rules.toml");
    let good_rules = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(&rules, format!("{good_rules}{BROKEN_RULE}")).unwrap();
    let Outcome::Refused { problems } = reloader.reload("test") else {
        panic!("the broken set was not refused")
    };
    let broken = format!("{good_rules}{BROKEN_RULE}");
    let line = 1 + broken
        .lines()
        .position(|l| l.contains("no-such-list"))
        .unwrap();
    assert!(
        problems.contains(&format!("rules.toml:{line}:13: error[unknown_watchlist]")),
        "{problems}"
    );
    assert_eq!(metrics.reloads.with_label_values(&["refused"]).get(), 1);
    assert_eq!(metrics.reloads.with_label_values(&["ok"]).get(), 0);
    assert_eq!(metrics.refused.get(), 1);

    // The old set goes on: a and b route exactly as without any reload.
    let ab = [a, b].concat();
    fx.publish(b);
    wait_until_routed(&fx, &stages, &mut out, &expect_old(&ab));
    for stage in &stages {
        assert_eq!(stage.config_version().as_deref(), Some(old.as_str()));
    }

    // A valid set: swapped in, and c routed by it.
    std::fs::write(&rules, &good_rules).unwrap();
    write_new_set(dir.path());
    let Outcome::Swapped { from, to } = reloader.reload("test") else {
        panic!("the new set was not swapped in")
    };
    assert_eq!(from, old);
    assert_eq!(metrics.reloads.with_label_values(&["ok"]).get(), 1);
    assert_eq!(metrics.refused.get(), 0);
    wait_for_version(&stages, &to);
    let new = reloader.current();
    let expected = Expected::compute_reloaded(
        (&first.analyzer, Router::new(first.route.clone().unwrap())),
        &ab,
        (&new.analyzer, new.route.clone().unwrap()),
        c,
    );
    let without = expect_old(&lines);
    assert!(
        expected.relevant.len() > without.relevant.len(),
        "the new watchlist makes posts relevant ({} vs {})",
        expected.relevant.len(),
        without.relevant.len()
    );
    fx.publish(c);
    wait_until_routed(&fx, &stages, &mut out, &expected);
    stop(&fx.shutdown, stages.into());

    // Exactly the outputs of a pipeline that swapped between b and c: nothing lost, nothing
    // twice, open tickets of a and b folded into across the swap.
    let routed = route_outputs(&fx, &out);
    assert_same_multiset("route outputs", &expected.routed, &routed);
    let in_c: std::collections::BTreeSet<String> = c
        .iter()
        .filter_map(|l| Post::from_json(l).ok().map(|p| p.id))
        .collect();
    let tickets = tickets(&fx, &out);
    for (post, revision, tags, _) in &tickets {
        let tagged = tags.iter().any(|t| t == "reloaded");
        if !in_c.contains(post) {
            assert!(!tagged, "{post} (before the reload) tagged");
        } else if *revision == 1 {
            assert!(tagged, "{post} (a new ticket after the reload) not tagged");
        }
    }
    // Conversations open before the swap went on in the same tickets after it.
    let opened_before: std::collections::BTreeSet<&str> = tickets
        .iter()
        .filter(|(post, revision, _, _)| *revision == 1 && !in_c.contains(post))
        .map(|(_, _, _, id)| id.as_str())
        .collect();
    let carried = tickets
        .iter()
        .filter(|(post, _, _, id)| in_c.contains(post) && opened_before.contains(id.as_str()))
        .count();
    eprintln!("{carried} ticket revisions after the reload continue tickets opened before it");
    assert!(carried > 0, "no conversation spans the reload");
    assert!(
        !out.on(&fx.topics().dlq).any(|_| true),
        "nothing dead-lettered"
    );
}

/// Whether each post is relevant under an analyzer.
fn relevance(analyzer: &Analyzer, posts: &[Post]) -> Vec<bool> {
    let mut scratch = Scratch::new();
    posts
        .iter()
        .map(|p| score(analyzer, &mut scratch, p.clone()).is_some())
        .collect()
}

/// Route's outputs for `scored` on the event clock, the configuration swapped before
/// input `k`.
fn routed_with_swap_at(
    old: &RouteConfig,
    new: &RouteConfig,
    scored: &[ScoredPost],
    k: usize,
) -> Vec<Routed> {
    let mut routing = Routing::new(Router::new(old.clone()), RouteClock::Event);
    let mut out = Vec::new();
    for (i, post) in scored.iter().enumerate() {
        if i == k {
            routing.router_mut().reconfigure(new.clone());
        }
        routing.route(Shard::default(), post.clone(), Utc::now(), &mut out);
    }
    if k >= scored.len() {
        routing.router_mut().reconfigure(new.clone());
    }
    out.iter().map(Routed::of).collect()
}

#[test]
fn a_reload_under_load_swaps_between_two_records_nothing_lost_nothing_duplicated() {
    let dir = example_copy();
    let config = dir.path().join("earshot.toml");
    let fx = Fixture::start_from(&config, 1, 1, |_| {});
    let metrics = ReloadMetrics::unregistered();
    let (mut reloader, stages) = start(&fx, &config, &metrics);
    let old_route = reloader.current().route.clone().unwrap();
    let scored_topic = fx.topics().scored.clone();
    let mut topics = output_topics(&fx);
    topics.push(scored_topic.clone());
    let mut out = fx.collector(&topics);
    let lines = example_lines("posts.jsonl");

    // The swap comes while the stages work through what is published.
    wait_ready(&stages.iter().collect::<Vec<_>>());
    let mut swapped = None;
    let published = fx.publish_in_chunks(&lines, 4, |i| {
        if i == 1 {
            write_new_set(dir.path());
            swapped = Some(reloader.reload("test"));
        }
    });
    let Some(Outcome::Swapped { to, .. }) = swapped else {
        panic!("not swapped: {swapped:?}")
    };
    let new: Arc<ConfigSet> = reloader.current();
    let new_route = new.route.clone().unwrap();

    // Everything through: analyze took every post, route every scored record.
    let refs: Vec<&Stage> = stages.iter().collect();
    wait_for("every post through", ROUTED_WITHIN, &refs, || {
        out.poll_for(Duration::from_millis(100));
        let scored = out.on(&scored_topic).count() as u64;
        let (analyzed, routed) = (
            received(&fx.metrics, "analyze"),
            received(&fx.metrics, "route"),
        );
        let idle = in_flight(&fx.metrics, "analyze") == 0 && in_flight(&fx.metrics, "route") == 0;
        if analyzed as usize >= published && routed >= scored && idle {
            Ok(())
        } else {
            Err(format!(
                "analyzed {analyzed}/{published}, routed {routed}/{scored}, idle {idle}"
            ))
        }
    });
    out.settle(QUIET, Duration::from_secs(10));
    wait_for_version(&stages, &to);
    stop(&fx.shutdown, stages.into());

    // Analyze: the posts before some record were scored with the old set, the rest with the
    // new one — each record by one whole set, none twice, none missing.
    let posts: Vec<Post> = lines
        .iter()
        .filter_map(|l| Post::from_json(l).ok())
        .collect();
    let (was, now) = (
        relevance(&fx.analyzer, &posts),
        relevance(&new.analyzer, &posts),
    );
    let scored: Vec<ScoredPost> = out
        .on(&scored_topic)
        .map(|r| serde_json::from_slice(&r.payload).unwrap())
        .collect();
    let ids: Vec<&str> = scored.iter().map(|s| s.post.id.as_str()).collect();
    let split = (0..=posts.len()).find(|&j| {
        let want = posts
            .iter()
            .enumerate()
            .filter(|&(i, _)| if i < j { was[i] } else { now[i] })
            .map(|(_, p)| p.id.as_str());
        want.eq(ids.iter().copied())
    });
    let Some(j) = split else {
        panic!(
            "the scored posts are no old-then-new split of the input ({} scored)",
            ids.len()
        )
    };
    assert!(
        (j..posts.len()).any(|i| now[i] && !was[i]),
        "the swap came after every post the new watchlist adds (at {j} of {})",
        posts.len()
    );
    eprintln!("analyze swapped before post {j} of {}", posts.len());
    assert!(j > 0, "analyze swapped before any post: not under load");

    // Route: the outputs of the old configuration up to one scored record and the new one
    // from there, exactly.
    let routed = route_outputs(&fx, &out);
    // New tickets are tagged under the new configuration and never under the old one: the
    // swap lies after the last untagged one and at or before the first tagged one.
    let index: std::collections::BTreeMap<&str, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let opened: Vec<(usize, bool)> = tickets(&fx, &out)
        .iter()
        .filter(|(_, revision, _, _)| *revision == 1)
        .map(|(post, _, tags, _)| (index[post.as_str()], tags.iter().any(|t| t == "reloaded")))
        .collect();
    let last_old = opened.iter().filter(|(_, t)| !t).map(|(i, _)| *i).max();
    let first_new = opened.iter().filter(|(_, t)| *t).map(|(i, _)| *i).min();
    let (lo, hi) = (
        last_old.map_or(0, |i| i + 1),
        first_new.unwrap_or(scored.len()),
    );
    assert!(
        lo <= hi,
        "a ticket opened under the old rules after one under the new"
    );
    let mut got = routed.clone();
    got.sort();
    let k = (lo..=hi)
        .find(|&k| {
            let mut want = routed_with_swap_at(&old_route, &new_route, &scored, k);
            want.sort();
            want == got
        })
        .unwrap_or_else(|| panic!("route's outputs are no old-then-new split at {lo}..={hi}"));
    eprintln!("route swapped before scored record {k} of {}", scored.len());
    assert!(
        k > 0 && k < scored.len(),
        "route swapped at {k}: not under load"
    );
    assert_eq!(metrics.reloads.with_label_values(&["ok"]).get(), 1);
}
