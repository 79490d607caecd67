//! Each rule condition and action, through `Router::route`.

use earshot_model::{Intent, Priority, ReasonKind, ScoredPost};
use earshot_route::{RouteOutput, Router};

use crate::support::{only_ticket, post, router, tickets, utc};

const QUEUES: &str = r#"
[[queue]]
id = "hit"
team = "team-hit"
sla = { P1 = "15m", P2 = "1h", P3 = "4h", P4 = "8h" }

[[queue]]
id = "other"
sla = { P1 = "15m", P2 = "1h", P3 = "4h", P4 = "8h" }

[lists]
vip = ["x:@star"]
blocklist = ["@bot"]
"#;

/// A router whose single rule has `conditions` and sends matches to queue `hit`.
fn one_rule(conditions: &str) -> Router {
    router(&format!(
        "{QUEUES}\n[[rule]]\nid = \"r\"\n{conditions}\nqueue = \"hit\"\npriority = \"P2\"\n"
    ))
}

fn hits(router: &mut Router, p: &ScoredPost) -> bool {
    let out = router.route(p, utc(2026, 11, 20, 3, 0));
    match &out[..] {
        [RouteOutput::Ticket(t)] => &*t.queue == "hit",
        [RouteOutput::Unrouted(_)] => false,
        other => panic!("{other:#?}"),
    }
}

fn base(id: &str) -> ScoredPost {
    post(
        id,
        &format!("author-{id}"),
        &["hoshizora"],
        &[Intent::Complaint],
        -0.5,
    )
}

#[test]
fn watchlist_condition() {
    let mut r = one_rule("watchlist = [\"sorapay\", \"hoshizora\"]");
    assert!(hits(&mut r, &base("1")));
    assert!(!hits(
        &mut r,
        &post("2", "a2", &["devices"], &[Intent::Complaint], -0.5)
    ));
    assert!(hits(
        &mut r,
        &post(
            "3",
            "a3",
            &["devices", "sorapay"],
            &[Intent::Complaint],
            -0.5
        )
    ));
}

#[test]
fn intent_condition() {
    let mut r = one_rule("intent = [\"outage\", \"question\"]");
    assert!(!hits(&mut r, &base("1")));
    assert!(hits(
        &mut r,
        &post(
            "2",
            "a2",
            &["hoshizora"],
            &[Intent::Complaint, Intent::Question],
            0.0
        )
    ));
}

#[test]
fn sentiment_range_is_inclusive() {
    let mut r = one_rule("sentiment = { min = -1.0, max = -0.5 }");
    assert!(hits(
        &mut r,
        &post("1", "a1", &["hoshizora"], &[Intent::Complaint], -0.5)
    ));
    assert!(!hits(
        &mut r,
        &post("2", "a2", &["hoshizora"], &[Intent::Complaint], -0.49)
    ));
    let mut r = one_rule("sentiment = [0.2, 1.0]");
    assert!(hits(
        &mut r,
        &post("3", "a3", &["hoshizora"], &[Intent::Praise], 0.9)
    ));
}

#[test]
fn urgency_and_influence_thresholds() {
    let mut r = one_rule("min_urgency = 0.7\nmin_influence = 0.5");
    let mut p = base("1");
    p.analysis.urgency = 0.7;
    p.analysis.influence = 0.5;
    assert!(hits(&mut r, &p));
    p.post.id = "2".into();
    p.post.author.id = "a2".into();
    p.analysis.influence = 0.49;
    assert!(!hits(&mut r, &p));
}

#[test]
fn platform_and_language() {
    let mut r = one_rule("platform = [\"line\", \"x\"]\nlang = \"ja\"");
    assert!(hits(&mut r, &base("1")));
    let mut p = base("2");
    p.post.platform = "facebook".into();
    assert!(!hits(&mut r, &p));
    let mut p = base("3");
    p.analysis.lang = "ja-JP".into();
    assert!(hits(&mut r, &p));
    p.post.id = "4".into();
    p.post.author.id = "a4".into();
    p.analysis.lang = "en".into();
    assert!(!hits(&mut r, &p));
}

#[test]
fn author_lists() {
    let mut r = one_rule("author_in = \"vip\"");
    assert!(!hits(&mut r, &base("1")));
    let vip = post("2", "star", &["hoshizora"], &[Intent::Complaint], -0.5);
    assert!(hits(&mut r, &vip));
    let mut r = one_rule("author_not_in = \"blocklist\"");
    assert!(hits(&mut r, &base("3")));
    let mut bot = post("4", "bot", &["hoshizora"], &[Intent::Complaint], -0.5);
    bot.post.platform = "instagram".into();
    assert!(!hits(&mut r, &bot));
}

#[test]
fn first_match_wins_and_unmatched_posts_are_unrouted() {
    let mut r = router(&format!(
        "{QUEUES}
[[rule]]
id = \"complaints\"
intent = \"complaint\"
queue = \"hit\"
priority = \"P3\"

[[rule]]
id = \"everything\"
queue = \"other\"
priority = \"P4\"
"
    ));
    let t = only_ticket(&r.route(&base("1"), utc(2026, 11, 20, 3, 0))).clone();
    assert_eq!(
        (&*t.queue, &*t.rule_id, t.priority),
        ("hit", "complaints", Priority::P3)
    );
    assert_eq!(t.team.as_deref(), Some("team-hit"));
    assert_eq!(t.reasons[0].kind, ReasonKind::Rule);
    assert!(
        t.reasons[0].detail.contains("intent complaint"),
        "{:?}",
        t.reasons
    );
    let praise = post("2", "a2", &["hoshizora"], &[Intent::Praise], 0.8);
    assert_eq!(
        &*only_ticket(&r.route(&praise, utc(2026, 11, 20, 3, 0))).queue,
        "other"
    );

    let mut strict = one_rule("intent = \"outage\"");
    let out = strict.route(&base("3"), utc(2026, 11, 20, 3, 0));
    let u = out[0].as_unrouted().expect("unrouted");
    assert_eq!(u.reason_code, "no_rule_matched");
    assert_eq!(u.post.id, "3");
    assert_eq!(strict.stats().unrouted, 1);
}

#[test]
fn continue_fans_out_and_modifiers_add_tags_team_and_a_priority_floor() {
    let mut r = router(&format!(
        "{QUEUES}
[[rule]]
id = \"vip\"
author_in = \"vip\"
tags = [\"vip\"]
team = \"vip-desk\"
priority = \"P1\"
continue = true

[[rule]]
id = \"copy\"
intent = \"complaint\"
queue = \"other\"
priority = \"P4\"
tags = [\"copy\"]
continue = true

[[rule]]
id = \"main\"
queue = \"hit\"
priority = \"P3\"
"
    ));
    let vip = post("1", "star", &["hoshizora"], &[Intent::Complaint], -0.5);
    let out = r.route(&vip, utc(2026, 11, 20, 3, 0));
    let t = tickets(&out);
    assert_eq!(t.len(), 2);
    assert_eq!((&*t[0].queue, t[0].priority), ("other", Priority::P1));
    assert_eq!(
        t[0].tags,
        [
            std::sync::Arc::<str>::from("copy"),
            std::sync::Arc::<str>::from("vip")
        ]
    );
    assert_eq!(t[0].team.as_deref(), Some("vip-desk"));
    assert_eq!((&*t[1].queue, t[1].priority), ("hit", Priority::P1));
    assert_ne!(t[0].ticket_id, t[1].ticket_id);
    assert!(t[1]
        .reasons
        .iter()
        .any(|r| r.kind == ReasonKind::Modifier && r.rule_id.as_deref() == Some("vip")));

    // Only a modifier matched: unrouted, and says so.
    let mut r = router(&format!(
        "{QUEUES}\n[[rule]]\nid = \"tag\"\ntags = [\"t\"]\ncontinue = true\n"
    ));
    let out = r.route(&base("2"), utc(2026, 11, 20, 3, 0));
    assert_eq!(out[0].as_unrouted().unwrap().reason_code, "modifiers_only");
}

#[test]
fn suppressed_posts_are_counted_not_emitted() {
    let mut r = router(&format!(
        "{QUEUES}\n[[rule]]\nid = \"bots\"\nauthor_in = \"blocklist\"\nsuppress = true\n[[rule]]\nid = \"all\"\nqueue = \"hit\"\npriority = \"P3\"\n"
    ));
    let bot = post("1", "bot", &["hoshizora"], &[Intent::Complaint], -0.5);
    assert!(r.route(&bot, utc(2026, 11, 20, 3, 0)).is_empty());
    assert_eq!(r.stats().suppressed, 1);
    assert_eq!(r.stats().unrouted, 0);
}

#[test]
fn the_example_rules_route_a_realistic_mix() {
    let mut r = crate::support::example_router();
    let at = crate::support::tokyo(2026, 11, 20, 10, 0);
    let mut angry = post("1", "u1", &["sorapay"], &[Intent::Complaint], -0.8);
    angry.analysis.urgency = 0.7;
    let t = only_ticket(&r.route(&angry, at)).clone();
    assert_eq!(
        (&*t.queue, t.priority, &*t.rule_id),
        ("billing", Priority::P1, "sorapay-angry")
    );
    assert_eq!(t.due_at, Some(crate::support::tokyo(2026, 11, 20, 10, 30)));
    let question = post("2", "u2", &["hoshizora_hikari"], &[Intent::Question], 0.0);
    assert_eq!(only_ticket(&r.route(&question, at)).queue, "support".into());
    let thanks = post("3", "u3", &["hoshizora"], &[Intent::Praise], 0.7);
    assert_eq!(only_ticket(&r.route(&thanks, at)).queue, "praise".into());
    let staff = post(
        "4",
        "hoshizora_help",
        &["hoshizora"],
        &[Intent::Complaint],
        -0.7,
    );
    assert!(r.route(&staff, at).is_empty());
    let news = post("5", "u5", &["hoshizora"], &[Intent::Other], 0.0);
    assert_eq!(r.route(&news, at)[0].kind(), "unrouted");
    // A press complaint: a VIP-desk copy and the owning team's ticket, both P1.
    let press = post(
        "6",
        "mobile_news_jp",
        &["hoshizora"],
        &[Intent::Complaint],
        -0.3,
    );
    let out = r.route(&press, at);
    let t = tickets(&out);
    assert_eq!(
        t.iter()
            .map(|t| (&*t.queue, t.priority))
            .collect::<Vec<_>>(),
        [("vip", Priority::P1), ("social_care", Priority::P1)]
    );
    assert!(t[1].tags.contains(&"press".into()));
    assert_eq!(t[1].team.as_deref(), Some("pr"));
}

#[test]
fn flag_condition() {
    use earshot_model::Flag;
    let mut r = one_rule("flag = \"scam\"");
    assert!(!hits(&mut r, &base("1")));
    let mut scam = base("2");
    scam.analysis.flags = vec![Flag::Scam];
    assert!(hits(&mut r, &scam));
    let mut spam = base("3");
    spam.analysis.flags = vec![Flag::Spam];
    assert!(!hits(&mut r, &spam));
    let mut both = one_rule("flag = [\"spam\", \"scam\"]");
    assert!(hits(&mut both, &spam));
}

#[test]
fn min_probability_condition() {
    use earshot_model::{IntentProbabilities, ModelOutput};
    let mut r = one_rule("min_probability = { complaint = 0.8, scam = 0.0 }");
    // Without a model's output, a reported intent counts as certain.
    assert!(hits(&mut r, &base("1")));
    let with = |id: &str, complaint: f64| {
        let mut p = base(id);
        p.analysis.model = Some(ModelOutput {
            intents: IntentProbabilities {
                complaint,
                ..IntentProbabilities::default()
            },
            ..ModelOutput::default()
        });
        p
    };
    assert!(hits(&mut r, &with("2", 0.85)));
    assert!(
        !hits(&mut r, &with("3", 0.6)),
        "the model is not sure enough"
    );
}

#[test]
fn flag_and_probability_conditions_are_checked() {
    let text = format!(
        "{QUEUES}\n[[rule]]\nid = \"r\"\nflag = \"phishing\"\nmin_probability = {{ complaint = 1.5, sarcasm = 0.5 }}\nqueue = \"hit\"\npriority = \"P2\"\n"
    );
    let error = Router::from_files(
        &[earshot_route::ConfigFile {
            name: "test.toml",
            text: &text,
        }],
        None,
    )
    .expect_err("refused")
    .to_string();
    for expected in [
        "unknown flag `phishing`",
        "min_probability.complaint",
        "unknown signal `sarcasm`",
    ] {
        assert!(error.contains(expected), "{expected} in {error}");
    }
}
