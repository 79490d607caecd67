//! State that survives a restart: a router writes its state as changelog records, a fresh
//! router restores them, and routing goes on as if nothing had happened.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use earshot_model::{IncidentChange, Intent, ScoredPost};
use earshot_route::{ConfigFile, RouteOutput, Router, Shard, StateRecord};

use crate::support::{in_thread, post, router, utc};

const CONFIG: &str = r#"
[[queue]]
id = "care"
sla = { P1 = "15m", P2 = "1h", P3 = "4h" }

[[queue]]
id = "outage"
sla = { P1 = "15m", P2 = "30m" }

[[rule]]
id = "outage"
intent = "outage"
queue = "outage"
priority = "P2"

[[rule]]
id = "complaint"
intent = "complaint"
watchlist = "hoshizora"
queue = "care"
priority = "P3"
tags = ["complaint"]

[folding]
window = "2h"
max_open = 1000

[spike]
bucket = "5m"
window = "15m"
half_life = "6h"
sensitivity = 4.0
min_count = 20
cooldown = "1h"
intents = ["outage"]
"#;

/// A changelog: every record written, compacted per shard and key the way Kafka does it.
#[derive(Default)]
struct Changelog(BTreeMap<(Shard, String), Vec<u8>>);

impl Changelog {
    fn write(&mut self, records: Vec<StateRecord>) {
        for r in records {
            match r.value {
                Some(v) => self.0.insert((r.shard, r.key), v),
                None => self.0.remove(&(r.shard, r.key)),
            };
        }
    }

    fn restore_into(&self, router: &mut Router, shard: Shard) -> earshot_route::Restored {
        router.restore_shard(
            shard,
            self.0
                .iter()
                .filter(|((s, _), _)| *s == shard)
                .map(|((_, k), v)| (k.as_str(), v.as_slice())),
        )
    }
}

fn fresh(config: &str) -> Router {
    let mut r = router(config);
    r.track_state();
    r.own_shard(Shard(0), "partition-0");
    r
}

/// What identifies an output: tickets by id, revision and post; incidents by id, revision
/// and change; unrouted posts by id.
fn ids(outputs: &[RouteOutput]) -> Vec<String> {
    outputs
        .iter()
        .map(|o| match o {
            RouteOutput::Ticket(t) => format!(
                "ticket {} r{} {} {} {:?}",
                t.ticket_id, t.revision, t.post.id, t.queue, t.due_at
            ),
            RouteOutput::Incident(i) => format!(
                "incident {} r{} {:?} count {} peak {}",
                i.incident_id, i.revision, i.change, i.count, i.peak_count
            ),
            RouteOutput::Unrouted(u) => format!("unrouted {}", u.post.id),
        })
        .collect()
}

/// A day of traffic: quiet outage reports and conversations with follow-ups, then a burst
/// of outage reports (a spike), then quiet again.
fn day() -> Vec<(ScoredPost, DateTime<Utc>)> {
    let start = utc(2026, 11, 20, 0, 0);
    let mut posts = Vec::new();
    let mut n = 0;
    let mut next = |watch: &[&str], intent: Intent, thread: Option<&str>, author: String| {
        n += 1;
        let p = post(&format!("p{n}"), &author, watch, &[intent], -0.5);
        match thread {
            Some(c) => in_thread(p, c),
            None => p,
        }
    };
    for minute in 0..(18 * 60) {
        let at = start + Duration::minutes(minute);
        if minute % 20 == 0 {
            posts.push((
                next(&["hoshizora"], Intent::Outage, None, format!("q{minute}")),
                at,
            ));
        }
        if minute % 7 == 0 {
            let thread = format!("c{}", minute / 35);
            // Follow-ups name no product: they fold because their conversation is open.
            let watch: &[&str] = if minute % 35 == 0 {
                &["hoshizora"]
            } else {
                &[]
            };
            posts.push((
                next(
                    watch,
                    Intent::Complaint,
                    Some(&thread),
                    format!("a{minute}"),
                ),
                at,
            ));
        }
        if (600..630).contains(&minute) {
            for i in 0..3 {
                posts.push((
                    next(
                        &["hoshizora"],
                        Intent::Outage,
                        None,
                        format!("b{minute}-{i}"),
                    ),
                    at,
                ));
            }
        }
    }
    posts
}

#[test]
fn a_router_restored_from_its_changelog_routes_as_if_it_never_stopped() {
    let posts = day();
    let mut uninterrupted = router(CONFIG);
    let mut expected = Vec::new();
    for (p, at) in &posts {
        expected.extend(ids(&uninterrupted.route(p, *at)));
    }
    assert!(
        expected.iter().any(|o| o.contains("Opened")),
        "the burst opens an incident"
    );
    assert!(
        expected.iter().any(|o| o.contains(" r3 ")),
        "follow-ups fold"
    );

    // Killed and replaced every 500 posts: only what the changelog holds survives, and a
    // replacement replays nothing (as an exactly-once commit would leave it).
    let mut changelog = Changelog::default();
    let mut router = fresh(CONFIG);
    let mut got = Vec::new();
    let mut state = Vec::new();
    for (i, (p, at)) in posts.iter().enumerate() {
        if i > 0 && i % 500 == 0 {
            router = fresh(CONFIG);
            let restored = changelog.restore_into(&mut router, Shard(0));
            assert_eq!(restored.skipped, 0);
        }
        got.extend(ids(&router.route(p, *at)));
        router.take_state(&mut state);
        changelog.write(std::mem::take(&mut state));
    }
    assert_eq!(expected.len(), got.len());
    for (i, (want, got)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(want, got, "output {i}");
    }
}

#[test]
fn a_redelivered_post_changes_nothing_after_a_restore() {
    let mut changelog = Changelog::default();
    let mut r = fresh(CONFIG);
    let first = in_thread(
        post("1", "u", &["hoshizora"], &[Intent::Complaint], -0.5),
        "t",
    );
    let reply = in_thread(post("2", "u", &[], &[Intent::Complaint], -0.5), "t");
    let t0 = utc(2026, 11, 20, 9, 0);
    assert_eq!(r.route(&first, t0).len(), 1);
    assert_eq!(r.route(&reply, t0 + Duration::minutes(1)).len(), 1);
    let mut state = Vec::new();
    r.take_state(&mut state);
    changelog.write(state);

    let mut restored = fresh(CONFIG);
    changelog.restore_into(&mut restored, Shard(0));
    for p in [&first, &reply] {
        assert!(
            restored.route(p, t0 + Duration::minutes(2)).is_empty(),
            "post {} again",
            p.post.id
        );
    }
    let next = in_thread(post("3", "u", &[], &[Intent::Complaint], -0.5), "t");
    let out = restored.route(&next, t0 + Duration::minutes(3));
    let RouteOutput::Ticket(ticket) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!((ticket.revision, ticket.post_count), (3, 3));
    assert_eq!(ticket.post_ids, ["1", "2", "3"]);
}

/// Outage reports open no ticket here: they are counted towards a spike and go unrouted.
const NO_OUTAGE_RULE: &str = r#"
[[queue]]
id = "care"
sla = { P1 = "15m", P2 = "1h", P3 = "4h" }

[[rule]]
id = "complaint"
intent = "complaint"
watchlist = "hoshizora"
queue = "care"
priority = "P3"

[spike]
bucket = "5m"
window = "15m"
half_life = "6h"
sensitivity = 4.0
min_count = 20
cooldown = "1h"
intents = ["outage"]
"#;

#[test]
fn a_redelivered_unrouted_post_is_not_counted_again_after_a_restore() {
    let counted = |r: &Router| -> u64 { r.spike_counts().totals().map(|(_, n)| n).sum() };
    let report = |id: &str| post(id, id, &["hoshizora"], &[Intent::Outage], -0.5);
    let mut changelog = Changelog::default();
    let mut r = fresh(NO_OUTAGE_RULE);
    let t0 = utc(2026, 11, 20, 9, 0);
    let posts: Vec<ScoredPost> = (0..5).map(|i| report(&format!("o{i}"))).collect();
    for p in &posts {
        let out = r.route(p, t0);
        assert!(matches!(out[..], [RouteOutput::Unrouted(_)]), "{out:?}");
    }
    assert_eq!(counted(&r), 5);
    let mut state = Vec::new();
    r.take_state(&mut state);
    changelog.write(std::mem::take(&mut state));

    // The replacement gets the posts since the last commit again, a bucket later (the live
    // pipeline counts by the wall clock): routed again, counted once.
    let mut restored = fresh(NO_OUTAGE_RULE);
    let done = changelog.restore_into(&mut restored, Shard(0));
    assert_eq!((done.skipped, done.seen), (0, 1), "{done:?}");
    let later = t0 + Duration::minutes(6);
    for p in &posts {
        let out = restored.route(p, later);
        assert!(matches!(out[..], [RouteOutput::Unrouted(_)]), "{out:?}");
    }
    assert_eq!(counted(&restored), 5);
    restored.route(&report("o5"), later);
    assert_eq!(counted(&restored), 6, "a new post counts");
    restored.take_state(&mut state);
    changelog.write(std::mem::take(&mut state));

    // Once a bucket leaves the spike window its record leaves the changelog.
    restored.tick(t0 + Duration::minutes(16));
    restored.take_state(&mut state);
    changelog.write(std::mem::take(&mut state));
    let seen: Vec<&str> = changelog
        .0
        .keys()
        .filter(|(_, k)| k.starts_with("p/"))
        .map(|(_, k)| k.as_str())
        .collect();
    assert_eq!(seen, [format!("p/{}/0", later.timestamp() / 300 * 300)]);
}

#[test]
fn expired_conversations_leave_tombstones_and_dropped_shards_leave_nothing() {
    let mut r = fresh(CONFIG);
    r.own_shard(Shard(1), "partition-1");
    let t0 = utc(2026, 11, 20, 9, 0);
    let a = in_thread(
        post("1", "u", &["hoshizora"], &[Intent::Complaint], -0.5),
        "a",
    );
    let b = in_thread(
        post("2", "v", &["hoshizora"], &[Intent::Complaint], -0.5),
        "b",
    );
    let mut out = Vec::new();
    r.route_owned_in(Shard(0), a, t0, &mut out);
    r.route_owned_in(Shard(1), b.clone(), t0, &mut out);
    let mut state = Vec::new();
    r.take_state(&mut state);
    let tickets: Vec<(Shard, bool)> = state
        .iter()
        .filter(|s| s.key.starts_with("t/"))
        .map(|s| (s.shard, s.value.is_some()))
        .collect();
    assert_eq!(tickets, [(Shard(0), true), (Shard(1), true)]);

    // Shard 1 moves away: nothing is written for it, and its conversation is gone here.
    r.drop_shard(Shard(1));
    state.clear();
    r.take_state(&mut state);
    assert!(state.iter().all(|s| s.shard == Shard(0)), "{state:?}");
    assert_eq!(r.stats().folding.open, 1);

    // Past the folding window the conversation of shard 0 expires: a tombstone.
    r.tick(t0 + Duration::hours(3));
    state.clear();
    r.take_state(&mut state);
    let tombstones: Vec<&StateRecord> = state
        .iter()
        .filter(|s| s.key.starts_with("t/") && s.value.is_none())
        .collect();
    assert_eq!(tombstones.len(), 1, "{state:?}");
    assert_eq!(tombstones[0].shard, Shard(0));
}

#[test]
fn an_incident_open_before_a_restore_stays_one_incident() {
    let mut changelog = Changelog::default();
    let mut r = fresh(CONFIG);
    let mut state = Vec::new();
    let start = utc(2026, 11, 20, 0, 0);
    let mut n = 0;
    let mut opened = Vec::new();
    let mut route = |r: &mut Router, at: DateTime<Utc>, burst: bool| {
        let posts = if burst { 4 } else { 1 };
        let mut out = Vec::new();
        for _ in 0..posts {
            n += 1;
            out.extend(r.route(
                &post(
                    &n.to_string(),
                    &format!("u{n}"),
                    &["hoshizora"],
                    &[Intent::Outage],
                    -0.5,
                ),
                at,
            ));
        }
        out
    };
    // Quiet for hours, then a burst that opens an incident.
    let mut t = start;
    while t < start + Duration::hours(6) {
        route(&mut r, t, false);
        t += Duration::minutes(20);
    }
    let mut burst_out = Vec::new();
    for _ in 0..15 {
        burst_out.extend(route(&mut r, t, true));
        t += Duration::minutes(1);
    }
    opened.extend(
        burst_out
            .iter()
            .filter_map(RouteOutput::as_incident)
            .filter(|i| i.change == IncidentChange::Opened)
            .map(|i| i.incident_id.clone()),
    );
    assert_eq!(opened.len(), 1, "the burst opened one incident");
    r.take_state(&mut state);
    changelog.write(std::mem::take(&mut state));

    // A replacement restores the state while the burst goes on.
    let mut r = fresh(CONFIG);
    changelog.restore_into(&mut r, Shard(0));
    let mut after = Vec::new();
    for _ in 0..15 {
        after.extend(route(&mut r, t, true));
        t += Duration::minutes(1);
    }
    for _ in 0..12 {
        after.extend(route(&mut r, t, false));
        t += Duration::minutes(10);
    }
    let incidents: Vec<_> = after.iter().filter_map(RouteOutput::as_incident).collect();
    assert!(
        !incidents.is_empty(),
        "the incident goes on after the restore"
    );
    assert!(
        incidents
            .iter()
            .all(|i| i.incident_id == opened[0] && i.change != IncidentChange::Opened),
        "{incidents:#?}"
    );
    assert!(
        incidents.iter().any(|i| i.change == IncidentChange::Closed),
        "it closes once the volume is back to normal"
    );
}

#[test]
fn a_reload_keeps_open_tickets_even_of_a_rule_that_is_gone() {
    let mut r = fresh(CONFIG);
    let t0 = utc(2026, 11, 20, 9, 0);
    let first = in_thread(
        post("1", "u", &["hoshizora"], &[Intent::Complaint], -0.5),
        "t",
    );
    let opened = r.route(&first, t0);
    let RouteOutput::Ticket(opened) = &opened[0] else {
        panic!()
    };
    let without_complaints = CONFIG.replace(
        "[[rule]]\nid = \"complaint\"\nintent = \"complaint\"\nwatchlist = \"hoshizora\"\nqueue = \"care\"\npriority = \"P3\"\ntags = [\"complaint\"]\n",
        "",
    );
    assert_ne!(without_complaints, CONFIG);
    let (new, _) = earshot_route::RouteConfig::load(
        &[ConfigFile {
            name: "new.toml",
            text: &without_complaints,
        }],
        None,
    )
    .map(|l| (l.config, l.warnings))
    .unwrap();
    r.reconfigure(new);

    // The rule is gone: a new conversation's complaint is unrouted…
    let other = in_thread(
        post("9", "w", &["hoshizora"], &[Intent::Complaint], -0.5),
        "o",
    );
    assert!(matches!(r.route(&other, t0)[0], RouteOutput::Unrouted(_)));
    // …but the open ticket goes on: same id, next revision, its rule, queue and tags.
    let reply = in_thread(post("2", "u", &[], &[Intent::Complaint], -0.5), "t");
    let out = r.route(&reply, t0 + Duration::minutes(5));
    let RouteOutput::Ticket(revised) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(revised.ticket_id, opened.ticket_id);
    assert_eq!(revised.revision, 2);
    assert_eq!((&*revised.rule_id, &*revised.queue), ("complaint", "care"));
    assert_eq!(revised.tags, opened.tags);
    assert_eq!(revised.due_at, opened.due_at);

    // And it is written by name, so a restore under the new configuration keeps it too.
    let mut state = Vec::new();
    r.take_state(&mut state);
    let mut changelog = Changelog::default();
    changelog.write(state);
    let mut restored = fresh(&without_complaints);
    assert_eq!(changelog.restore_into(&mut restored, Shard(0)).tickets, 1);
    let more = in_thread(post("3", "u", &[], &[Intent::Complaint], -0.5), "t");
    let out = restored.route(&more, t0 + Duration::minutes(6));
    let RouteOutput::Ticket(again) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!((again.revision, &*again.rule_id), (3, "complaint"));
}
