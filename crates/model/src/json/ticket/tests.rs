//! The ticket writer against serde_json's own output.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::*;
use crate::{
    Author, Engagement, Flag, Intent, Post, Priority, Sentiment, WatchMatch, WatchTerm,
    TICKET_SCHEMA_VERSION,
};

fn time(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn same_as_serde(ticket: &Ticket) {
    let fast = ticket.to_json_vec();
    let reference = serde_json::to_vec(ticket).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&fast),
        String::from_utf8_lossy(&reference)
    );
}

/// Every optional field set and every list filled, with strings that need escaping
/// (quotes, backslashes, control characters, non-BMP emoji) and times off the short path.
fn everything() -> Ticket {
    let arc = |text: &str| Arc::<str>::from(text);
    let reason = |kind, rule_id: Option<&str>| TicketReason {
        kind,
        rule_id: rule_id.map(arc),
        detail: arc("rule `outage-p1` (rules.toml:12) matched: \"intent\" outage\u{1}😡"),
    };
    Ticket {
        schema_version: TICKET_SCHEMA_VERSION,
        ticket_id: "tkt_0123456789abcdef".into(),
        revision: u32::MAX,
        created_at: time("2026-11-15T15:00:26Z"),
        updated_at: time("2026-11-15T15:00:27.125Z"),
        queue: arc("support\\jp"),
        priority: Priority::P1,
        tags: vec![arc("outage"), arc("タグ\t\"q\""), arc("🚨")],
        team: Some(arc("network \"NOC\"")),
        due_at: Some(time("2026-11-16T00:30:00Z")),
        sla: Some(TicketSla {
            target_seconds: 1800,
            calendar: arc("jp\u{7}business"),
            time_zone: arc("Asia/Tokyo"),
            started_at: time("+12026-11-15T15:00:26Z"),
        }),
        rule_id: arc("outage-p1"),
        conversation_id: Some("conv\u{0}1".into()),
        conversation_key: "x:c:conv1".into(),
        incident_id: Some("inc_\u{1f}fedcba".into()),
        post: Post {
            id: "1\"2".into(),
            platform: "x".into(),
            url: Some("https://x.com/a/status/1".into()),
            author: Author {
                id: "u1".into(),
                handle: "hand\\le".into(),
                name: "名前\n".into(),
                followers: u64::MAX,
                verified: true,
            },
            conversation_id: Some("conv\u{0}1".into()),
            in_reply_to: Some("r1".into()),
            is_repost: true,
            text: "繋がらない \"now\"\t😡\u{2028}".into(),
            lang: Some("ja".into()),
            created_at: Some(time("2026-11-15T15:00:26Z")),
            engagement: Engagement {
                likes: 1,
                reposts: 2,
                replies: 3,
            },
            received_at: Some(time("2026-11-15T15:00:27.25Z")),
        },
        post_ids: vec!["1\"2".into(), "3".into(), "😡".into()],
        post_count: 7,
        analysis: TicketAnalysis {
            lang: "ja".into(),
            sentiment: Sentiment::from_score(-0.75),
            intents: vec![Intent::Complaint, Intent::Outage, Intent::Other],
            urgency: 1.0 / 3.0,
            influence: 0.125,
            watch: vec![
                WatchMatch {
                    id: "brand\"x\"".into(),
                    terms: vec![
                        WatchTerm {
                            term: "星空".into(),
                            start: 3,
                            end: 9,
                        },
                        WatchTerm {
                            term: "(?i)sora\\s*pay".into(),
                            start: 10,
                            end: 18,
                        },
                    ],
                },
                WatchMatch {
                    id: "empty".into(),
                    terms: Vec::new(),
                },
            ],
            flags: vec![Flag::Scam, Flag::Spam],
        },
        reasons: vec![
            reason(ReasonKind::Rule, Some("outage-p1")),
            reason(ReasonKind::Priority, None),
            reason(ReasonKind::Escalation, Some("esc")),
            reason(ReasonKind::Modifier, Some("vip")),
            reason(ReasonKind::Sla, None),
            reason(ReasonKind::Incident, None),
            reason(ReasonKind::Fold, None),
        ],
    }
}

#[test]
fn a_ticket_with_everything_is_written_as_serde_writes_it() {
    same_as_serde(&everything());
}

#[test]
fn a_ticket_with_nothing_optional_is_written_as_serde_writes_it() {
    let mut ticket = everything();
    ticket.team = None;
    ticket.due_at = None;
    ticket.sla = None;
    ticket.conversation_id = None;
    ticket.incident_id = None;
    ticket.tags.clear();
    ticket.post_ids.clear();
    ticket.reasons.clear();
    ticket.analysis.intents.clear();
    ticket.analysis.watch.clear();
    ticket.analysis.flags.clear();
    ticket.analysis.sentiment = Sentiment::default();
    ticket.post = Post {
        id: "1".into(),
        text: "hi".into(),
        ..Post::default()
    };
    for priority in Priority::ALL {
        ticket.priority = priority;
        same_as_serde(&ticket);
    }
}

#[test]
fn a_tagged_ticket_is_written_as_serde_writes_an_internally_tagged_variant() {
    #[derive(Serialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Tagged {
        Ticket(Box<Ticket>),
    }
    let ticket = everything();
    let mut out = b"prefix".to_vec();
    write_tagged_ticket(&ticket, "kind", "ticket", &mut out);
    let reference = serde_json::to_vec(&Tagged::Ticket(Box::new(ticket.clone()))).unwrap();
    assert_eq!(&out[..6], b"prefix");
    assert_eq!(
        String::from_utf8_lossy(&out[6..]),
        String::from_utf8_lossy(&reference)
    );
}
