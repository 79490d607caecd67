//! Conversation folding: one ticket per conversation, revisions, escalation, expiry, bounds.

use chrono::Duration;
use earshot_model::{Intent, Priority, ReasonKind};
use earshot_route::ticket_id;

use crate::support::{in_thread, only_ticket, post, router, tokyo, utc};

const CONFIG: &str = r#"
[[calendar]]
id = "office"
time_zone = "Asia/Tokyo"
hours = { weekdays = "09:00-18:00" }
holidays = ["jp"]

[[queue]]
id = "care"
calendar = "office"
sla = { P1 = "15m", P2 = "1h", P3 = "4h" }

[[rule]]
id = "angry"
intent = "complaint"
sentiment = [-1.0, -0.6]
queue = "care"
priority = "P1"

[[rule]]
id = "complaint"
intent = "complaint"
queue = "care"
priority = "P3"

[[rule]]
id = "question"
intent = "question"
queue = "care"
priority = "P3"

[folding]
window = "24h"
max_age = "7d"
max_open = 3
"#;

#[test]
fn a_reply_updates_the_open_ticket_and_escalates() {
    let mut r = router(CONFIG);
    let first = in_thread(
        post("100", "u1", &["hoshizora"], &[Intent::Question], 0.0),
        "100",
    );
    let t1 = only_ticket(&r.route(&first, tokyo(2026, 11, 20, 10, 0))).clone();
    assert_eq!((t1.revision, t1.priority), (1, Priority::P3));
    assert_eq!(t1.due_at, Some(tokyo(2026, 11, 20, 14, 0)));
    assert_eq!(t1.ticket_id, ticket_id("question", "x:c:100", "100"));

    let reply = in_thread(
        post("101", "u1", &["hoshizora"], &[Intent::Complaint], -0.9),
        "100",
    );
    let t2 = only_ticket(&r.route(&reply, tokyo(2026, 11, 20, 11, 0))).clone();
    assert_eq!(t2.ticket_id, t1.ticket_id);
    assert_eq!((t2.revision, t2.priority), (2, Priority::P1));
    assert_eq!(t2.post_ids, ["100", "101"]);
    assert_eq!(t2.post.id, "101");
    assert_eq!(&*t2.rule_id, "question", "the rule that opened the ticket");
    assert_eq!(t2.created_at, t1.created_at);
    assert_eq!(
        t2.due_at,
        Some(tokyo(2026, 11, 20, 11, 15)),
        "P1 due earlier than the P3 due time"
    );
    assert!(t2.reasons.iter().any(|r| r.kind == ReasonKind::Escalation));
    assert!(t2.reasons.iter().any(|r| r.kind == ReasonKind::Fold));

    // A milder reply does not lower the priority or move the due time.
    let calm = in_thread(
        post("102", "u1", &["hoshizora"], &[Intent::Question], 0.1),
        "100",
    );
    let t3 = only_ticket(&r.route(&calm, tokyo(2026, 11, 20, 12, 0))).clone();
    assert_eq!(
        (t3.revision, t3.priority, t3.due_at),
        (3, Priority::P1, t2.due_at)
    );
    assert_eq!(r.stats().tickets_opened, 1);
    assert_eq!(r.stats().tickets_updated, 2);
}

#[test]
fn without_a_thread_the_same_author_and_watchlist_fold() {
    let mut r = router(CONFIG);
    let at = utc(2026, 11, 20, 1, 0);
    let a = only_ticket(&r.route(
        &post("1", "u9", &["sorapay"], &[Intent::Complaint], -0.2),
        at,
    ))
    .clone();
    let b = only_ticket(&r.route(
        &post("2", "u9", &["sorapay"], &[Intent::Complaint], -0.2),
        at,
    ))
    .clone();
    assert_eq!(
        (b.ticket_id.as_str(), b.revision),
        (a.ticket_id.as_str(), 2)
    );
    assert_eq!(a.conversation_key, "x:a:u9:sorapay");
    assert_eq!(a.conversation_id, None);
    let c = only_ticket(&r.route(
        &post("3", "u9", &["devices"], &[Intent::Complaint], -0.2),
        at,
    ))
    .clone();
    assert_ne!(
        c.ticket_id, a.ticket_id,
        "another watchlist is another conversation"
    );
}

#[test]
fn after_the_window_a_new_ticket_opens() {
    let mut r = router(CONFIG);
    let at = utc(2026, 11, 20, 1, 0);
    let a = only_ticket(&r.route(
        &in_thread(
            post("1", "u", &["hoshizora"], &[Intent::Question], 0.0),
            "c",
        ),
        at,
    ))
    .clone();
    let later = at + Duration::hours(25);
    let b = only_ticket(&r.route(
        &in_thread(
            post("2", "u", &["hoshizora"], &[Intent::Question], 0.0),
            "c",
        ),
        later,
    ))
    .clone();
    assert_ne!(a.ticket_id, b.ticket_id);
    assert_eq!(b.revision, 1);
    assert_eq!(r.stats().folding.expired, 1);
}

#[test]
fn tick_expires_state_without_posts() {
    let mut r = router(CONFIG);
    let at = utc(2026, 11, 20, 1, 0);
    r.route(
        &in_thread(
            post("1", "u", &["hoshizora"], &[Intent::Question], 0.0),
            "c",
        ),
        at,
    );
    assert_eq!(r.stats().folding.open, 1);
    assert!(r.tick(at + Duration::hours(23)).is_empty());
    assert_eq!(r.stats().folding.open, 1);
    r.tick(at + Duration::hours(24));
    assert_eq!(r.stats().folding.open, 0);
}

#[test]
fn redelivery_and_replay_give_the_same_ids() {
    let p = in_thread(
        post("1", "u", &["hoshizora"], &[Intent::Question], 0.0),
        "c",
    );
    let at = utc(2026, 11, 20, 1, 0);
    let mut live = router(CONFIG);
    let first = only_ticket(&live.route(&p, at)).clone();
    // At-least-once redelivery of the same post: no new revision.
    assert!(live.route(&p, at).is_empty());
    assert_eq!(live.stats().duplicates, 1);
    // A replay on a fresh router: the same ticket, byte for byte.
    let mut replay = router(CONFIG);
    let again = only_ticket(&replay.route(&p, at)).clone();
    assert_eq!(
        serde_json::to_string(&again).unwrap(),
        serde_json::to_string(&first).unwrap()
    );
}

#[test]
fn the_table_is_bounded_and_evicts_the_least_recently_active() {
    let mut r = router(CONFIG);
    let at = utc(2026, 11, 20, 1, 0);
    let thread =
        |id: &str, c: &str| in_thread(post(id, "u", &["hoshizora"], &[Intent::Question], 0.0), c);
    let a = only_ticket(&r.route(&thread("1", "a"), at)).clone();
    r.route(&thread("2", "b"), at);
    r.route(&thread("3", "c"), at);
    // Touch "a" so "b" is now the least recently active.
    r.route(&thread("4", "a"), at);
    r.route(&thread("5", "d"), at);
    let s = r.stats().folding;
    assert_eq!((s.open, s.evicted), (3, 1));
    assert_eq!(
        only_ticket(&r.route(&thread("6", "a"), at)).ticket_id,
        a.ticket_id
    );
    assert_eq!(
        only_ticket(&r.route(&thread("7", "b"), at)).revision,
        1,
        "b was evicted"
    );
}

#[test]
fn max_age_stops_folding_into_old_tickets() {
    let mut r = router(CONFIG);
    let mut at = utc(2026, 11, 2, 1, 0);
    let thread = |id: &str| {
        in_thread(
            post(id, "u", &["hoshizora"], &[Intent::Question], 0.0),
            "long",
        )
    };
    let first = only_ticket(&r.route(&thread("0"), at)).clone();
    // Active every 23 hours, so the 24-hour window never lapses; 7 days after opening it
    // stops taking posts all the same.
    for i in 1..=7 {
        at += Duration::hours(23);
        assert_eq!(
            only_ticket(&r.route(&thread(&i.to_string()), at)).ticket_id,
            first.ticket_id
        );
    }
    at += Duration::hours(23);
    assert_ne!(
        only_ticket(&r.route(&thread("8"), at)).ticket_id,
        first.ticket_id
    );
}

/// Memory for a million open conversations (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn memory_for_a_million_open_conversations() {
    let config = CONFIG.replace("max_open = 3", "max_open = 1000000");
    let mut r = router(&config);
    let at = utc(2026, 11, 20, 1, 0);
    let rss_before = rss_bytes();
    let mut p = post("0", "u", &["hoshizora"], &[Intent::Question], 0.0);
    for i in 0..1_000_000u64 {
        p.post.id = (1_800_000_000_000_000_000 + i).to_string();
        p.post.conversation_id = Some(p.post.id.clone());
        r.route(&p, at);
    }
    let rss_after = rss_bytes();
    let s = r.stats().folding;
    assert_eq!(s.open, 1_000_000);
    println!(
        "open={} estimated={} MB ({} B/entry), RSS growth={} MB ({} B/entry)",
        s.open,
        s.approx_bytes / 1_000_000,
        s.approx_bytes / s.open,
        rss_after.saturating_sub(rss_before) / 1_000_000,
        rss_after.saturating_sub(rss_before) / s.open as u64
    );
}

fn rss_bytes() -> u64 {
    // Linux only; 0 elsewhere (the estimate is still printed).
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

#[test]
fn a_follow_up_no_rule_takes_still_joins_its_conversation() {
    let mut r = router(CONFIG);
    let first = in_thread(
        post("300", "u3", &["hoshizora"], &[Intent::Complaint], -0.4),
        "300",
    );
    let t1 = only_ticket(&r.route(&first, tokyo(2026, 11, 20, 10, 0))).clone();

    // 「まだ繋がらない」: no watchlist, no intent a rule wants, but the same thread.
    let follow_up = in_thread(post("301", "u3", &[], &[Intent::Other], 0.0), "300");
    let t2 = only_ticket(&r.route(&follow_up, tokyo(2026, 11, 20, 11, 0))).clone();
    assert_eq!(t2.ticket_id, t1.ticket_id);
    assert_eq!(t2.revision, 2);
    assert_eq!(t2.post_ids, ["300", "301"]);
    assert!(t2.reasons.iter().any(|r| r.kind == ReasonKind::Fold));

    // The same kind of post outside any open conversation stays unrouted.
    let stray = in_thread(post("400", "u4", &[], &[Intent::Other], 0.0), "399");
    let outputs = r.route(&stray, tokyo(2026, 11, 20, 11, 5));
    assert!(matches!(
        outputs.as_slice(),
        [earshot_route::RouteOutput::Unrouted(_)]
    ));
}

/// A long thread: every post is redelivered after the ticket has listed more ids than
/// `max_post_ids`; not one redelivery changes the ticket.
#[test]
fn a_redelivery_changes_nothing_however_long_the_thread() {
    let config = format!("{CONFIG}max_post_ids = 3\n");
    let mut r = router(&config);
    let at = tokyo(2026, 11, 20, 10, 0);
    let thread = |id: u32| {
        in_thread(
            post(
                &id.to_string(),
                "u",
                &["hoshizora"],
                &[Intent::Question],
                0.0,
            ),
            "long",
        )
    };
    let mut last = None;
    for id in 0..10 {
        let t = only_ticket(&r.route(&thread(id), at)).clone();
        assert_eq!(t.revision, id + 1);
        last = Some(t);
    }
    let last = last.expect("ten revisions");
    assert_eq!(last.post_ids, ["0", "1", "2"], "the list stops at the cap");
    assert_eq!(last.post_count, 10);
    for id in (0..10).rev() {
        assert!(
            r.route(&thread(id), at + Duration::minutes(5)).is_empty(),
            "redelivered post {id} made an output"
        );
    }
    assert_eq!(r.stats().duplicates, 10);
    // The next new post is revision 11: the redeliveries left no trace.
    let next = only_ticket(&r.route(&thread(10), at + Duration::minutes(6))).clone();
    assert_eq!((next.ticket_id, next.revision), (last.ticket_id, 11));
}

/// A follow-up folded only because of its conversation, redelivered: nothing; and a
/// redelivered opener is not unrouted either.
#[test]
fn a_redelivered_follow_up_is_ignored() {
    let mut r = router(CONFIG);
    let first = in_thread(
        post("500", "u5", &["hoshizora"], &[Intent::Complaint], -0.4),
        "500",
    );
    let follow_up = in_thread(post("501", "u5", &[], &[Intent::Other], 0.0), "500");
    let at = tokyo(2026, 11, 20, 10, 0);
    only_ticket(&r.route(&first, at));
    assert_eq!(only_ticket(&r.route(&follow_up, at)).revision, 2);
    let counted = serde_json::to_string(&r.spike_counts()).expect("counts serialise");
    assert!(
        counted.contains("hoshizora"),
        "the opener was counted: {counted}"
    );
    assert!(r.route(&follow_up, at).is_empty());
    assert!(r.route(&first, at).is_empty());
    assert_eq!(r.stats().duplicates, 2);
    assert_eq!(
        serde_json::to_string(&r.spike_counts()).expect("counts serialise"),
        counted,
        "redeliveries are not counted again towards a spike"
    );
    assert_eq!(r.stats().tickets_updated, 1);
}
