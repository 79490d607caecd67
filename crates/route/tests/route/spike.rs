//! Spike detection on synthetic streams, incidents on tickets, and mergeable counts.

use chrono::{DateTime, Duration, Utc};
use earshot_model::{Incident, IncidentChange, IncidentStatus, Intent};
use earshot_route::{CountKey, RouteOutput, Router, SpikeCounts};
use proptest::prelude::*;

use crate::support::{post, router, utc};

const CONFIG: &str = r#"
[[queue]]
id = "outage"
sla = { P1 = "15m", P2 = "30m" }

[lists]
vip = ["@star"]

[[rule]]
id = "vip-outage"
author_in = "vip"
intent = "outage"
queue = "outage"
priority = "P1"

[[rule]]
id = "outage"
intent = "outage"
queue = "outage"
priority = "P2"
fold_into_incident = true

[spike]
bucket = "5m"
window = "15m"
half_life = "6h"
sensitivity = 4.0
min_count = 20
cooldown = "1h"
intents = ["outage"]
"#;

fn outage(n: u64, author: &str) -> earshot_model::ScoredPost {
    post(
        &n.to_string(),
        author,
        &["hoshizora"],
        &[Intent::Outage],
        -0.6,
    )
}

/// Feeds `count` posts evenly spread over `span` from `start`, ticking every minute.
fn feed(
    r: &mut Router,
    start: DateTime<Utc>,
    span: Duration,
    count: u64,
    next_id: &mut u64,
    out: &mut Vec<RouteOutput>,
) {
    let step = span / i32::try_from(count.max(1)).unwrap();
    for i in 0..count {
        *next_id += 1;
        let at = start + step * i32::try_from(i).unwrap();
        out.extend(r.route(&outage(*next_id, &format!("u{next_id}")), at));
    }
    let mut t = start;
    while t < start + span {
        out.extend(r.tick(t));
        t += Duration::minutes(1);
    }
}

fn incidents(out: &[RouteOutput]) -> Vec<&Incident> {
    out.iter().filter_map(RouteOutput::as_incident).collect()
}

fn opened(out: &[RouteOutput]) -> usize {
    incidents(out)
        .iter()
        .filter(|i| i.change == IncidentChange::Opened)
        .count()
}

/// One post every 20 minutes for a day, starting at `day`.
fn quiet_day(r: &mut Router, day: DateTime<Utc>, id: &mut u64, out: &mut Vec<RouteOutput>) {
    feed(r, day, Duration::hours(24), 72, id, out);
}

#[test]
fn a_quiet_day_then_a_burst_opens_exactly_one_incident() {
    let mut r = router(CONFIG);
    let (mut id, mut out) = (0, Vec::new());
    let day = utc(2026, 11, 19, 0, 0);
    quiet_day(&mut r, day, &mut id, &mut out);
    assert_eq!(incidents(&out).len(), 0);
    let quiet_tickets = out.iter().filter(|o| o.kind() == "ticket").count();
    assert_eq!(quiet_tickets, 72);

    // 300 reports in 10 minutes, then quiet again for three hours.
    out.clear();
    let burst = day + Duration::hours(24);
    feed(&mut r, burst, Duration::minutes(10), 300, &mut id, &mut out);
    // A VIP's report during the incident still gets a ticket, carrying the incident id.
    id += 1;
    let vip = r.route(&outage(id, "star"), burst + Duration::minutes(10));
    feed(
        &mut r,
        burst + Duration::minutes(10),
        Duration::hours(3),
        9,
        &mut id,
        &mut out,
    );

    let all = incidents(&out);
    assert_eq!(opened(&out), 1, "{all:#?}");
    let open = all[0];
    assert_eq!(
        (open.watchlist.as_str(), open.intent, open.status),
        ("hoshizora", Intent::Outage, IncidentStatus::Open)
    );
    assert!(open.count >= 20 && open.baseline.mean < 2.0, "{open:#?}");
    assert!(!open.sample_post_ids.is_empty() && open.sample_post_ids.len() <= 10);
    assert_eq!(open.top_terms[0].term, "圏外");
    let closed: Vec<_> = all
        .iter()
        .filter(|i| i.change == IncidentChange::Closed)
        .collect();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].incident_id, open.incident_id);
    assert!(closed[0].revision > open.revision);
    assert!(closed[0].total_count >= 280, "{:#?}", closed[0]);
    assert!(closed[0].closed_at.unwrap() < burst + Duration::minutes(40));

    // Folded reports emitted no tickets; the incident counted them.
    let burst_tickets = out.iter().filter(|o| o.kind() == "ticket").count();
    assert!(
        burst_tickets < 30,
        "{burst_tickets} tickets during the burst"
    );
    assert!(closed[0].folded_count >= 270);
    let vip_ticket = vip
        .iter()
        .find_map(RouteOutput::as_ticket)
        .expect("vip ticket");
    assert_eq!(
        vip_ticket.incident_id.as_deref(),
        Some(open.incident_id.as_str())
    );
    assert_eq!(closed[0].ticket_count, 1);
    assert_eq!(r.stats().incidents_opened, 1);
}

#[test]
fn steady_growth_opens_nothing() {
    let mut r = router(CONFIG);
    let (mut id, mut out) = (0, Vec::new());
    let start = utc(2026, 11, 19, 0, 0);
    // From 1 to 60 posts per 5 minutes over a day: 12 times the volume, no spike.
    for b in 0..288u64 {
        let count = 1 + 59 * b / 287;
        feed(
            &mut r,
            start + Duration::minutes(5 * b as i64),
            Duration::minutes(5),
            count,
            &mut id,
            &mut out,
        );
    }
    assert_eq!(incidents(&out).len(), 0, "{:#?}", incidents(&out).first());
    assert!(id > 8000);
}

#[test]
fn the_cooldown_stops_an_immediate_reopening() {
    let mut r = router(CONFIG);
    let (mut id, mut out) = (0, Vec::new());
    let day = utc(2026, 11, 19, 0, 0);
    quiet_day(&mut r, day, &mut id, &mut out);
    let t = day + Duration::hours(24);
    feed(&mut r, t, Duration::minutes(5), 100, &mut id, &mut out);
    feed(
        &mut r,
        t + Duration::minutes(5),
        Duration::minutes(25),
        1,
        &mut id,
        &mut out,
    );
    // A second burst within the hour after closing: no second incident.
    feed(
        &mut r,
        t + Duration::minutes(30),
        Duration::minutes(5),
        100,
        &mut id,
        &mut out,
    );
    assert_eq!(opened(&out), 1);
    // Two hours later it may open again.
    feed(
        &mut r,
        t + Duration::minutes(35),
        Duration::hours(2),
        6,
        &mut id,
        &mut out,
    );
    feed(
        &mut r,
        t + Duration::minutes(155),
        Duration::minutes(5),
        100,
        &mut id,
        &mut out,
    );
    assert_eq!(opened(&out), 2);
}

#[test]
fn replicas_that_each_see_half_agree_after_merging_counts() {
    let config = CONFIG.replace("min_count = 20", "min_count = 30");
    let (mut a, mut b) = (router(&config), router(&config));
    a.set_replica_id("route-a");
    b.set_replica_id("route-b");
    let (mut id, mut out_a, mut out_b) = (0, Vec::new(), Vec::new());
    let day = utc(2026, 11, 19, 0, 0);
    quiet_day(&mut a, day, &mut id, &mut out_a);
    quiet_day(&mut b, day, &mut id, &mut out_b);
    let t = day + Duration::hours(24);
    feed(&mut a, t, Duration::minutes(4), 20, &mut id, &mut out_a);
    feed(&mut b, t, Duration::minutes(4), 20, &mut id, &mut out_b);
    assert_eq!(
        opened(&out_a) + opened(&out_b),
        0,
        "20 each is under the minimum of 30"
    );

    let now = t + Duration::minutes(4);
    let (counts_a, counts_b) = (a.spike_counts(), b.spike_counts());
    let from_a = a.merge_spike_counts(&counts_b, now).unwrap();
    let from_b = b.merge_spike_counts(&counts_a, now).unwrap();
    let (ia, ib) = (incidents(&from_a), incidents(&from_b));
    assert_eq!((ia.len(), ib.len()), (1, 1));
    assert_eq!(ia[0].incident_id, ib[0].incident_id);
    assert_eq!(ia[0].count, 40);
    // Merging the same counts again changes nothing.
    assert!(incidents(&a.merge_spike_counts(&counts_b, now).unwrap()).is_empty());
}

#[test]
fn counts_serialise_as_a_flat_list() {
    let mut c = SpikeCounts::new(Duration::minutes(5));
    let key = CountKey {
        watchlist: "sorapay".into(),
        intent: Intent::Outage,
        bucket_start: utc(2026, 11, 20, 0, 0),
    };
    c.record("route-a", key.clone(), 7);
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["bucket_seconds"], 300);
    assert_eq!(json["counts"][0]["replica"], "route-a");
    assert_eq!(json["counts"][0]["count"], 7);
    let back: SpikeCounts = serde_json::from_value(json).unwrap();
    assert_eq!(back.total(&key), 7);
    assert!(
        !c.clone().merge(&SpikeCounts::new(Duration::minutes(1)))
            || SpikeCounts::new(Duration::minutes(1)).is_empty()
    );
}

fn counts(entries: &[(u8, u8, u64)]) -> SpikeCounts {
    let mut c = SpikeCounts::new(Duration::minutes(5));
    for &(replica, bucket, n) in entries {
        let key = CountKey {
            watchlist: "hoshizora".into(),
            intent: Intent::Outage,
            bucket_start: utc(2026, 11, 20, 0, 0) + Duration::minutes(5 * i64::from(bucket % 4)),
        };
        c.record(&format!("r{}", replica % 3), key, n);
    }
    c
}

proptest! {
    #[test]
    fn merging_is_commutative_associative_and_idempotent(
        x in prop::collection::vec((0u8..3, 0u8..4, 0u64..100), 0..12),
        y in prop::collection::vec((0u8..3, 0u8..4, 0u64..100), 0..12),
        z in prop::collection::vec((0u8..3, 0u8..4, 0u64..100), 0..12),
    ) {
        let (a, b, c) = (counts(&x), counts(&y), counts(&z));
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        prop_assert_eq!(&ab, &ba);
        let mut ab_c = ab.clone();
        ab_c.merge(&c);
        let mut bc = b.clone();
        bc.merge(&c);
        let mut a_bc = a.clone();
        a_bc.merge(&bc);
        prop_assert_eq!(&ab_c, &a_bc);
        let mut again = ab_c.clone();
        again.merge(&b);
        prop_assert_eq!(&again, &ab_c);
    }
}

#[test]
fn a_long_silence_forgets_old_buckets() {
    let mut r = router(CONFIG);
    let (mut id, mut out) = (0, Vec::new());
    let day = utc(2026, 1, 1, 0, 0);
    quiet_day(&mut r, day, &mut id, &mut out);
    // Four months later (beyond the 10,000 boundaries walked one by one), a trickle of
    // reports must not add up with counts from January.
    let later = day + Duration::days(120);
    feed(&mut r, later, Duration::minutes(10), 10, &mut id, &mut out);
    assert_eq!(opened(&out), 0);
    let counts = r.spike_counts();
    assert_eq!(counts.totals().map(|(_, n)| n).sum::<u64>(), 10);
}
