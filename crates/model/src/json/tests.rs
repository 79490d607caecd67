//! The writer against serde_json's own output.

use super::*;
use crate::{
    Flag, FlagProbabilities, Intent, IntentProbabilities, Sentiment, SentimentProbabilities,
};

fn same_as_serde(scored: &ScoredPost) {
    let fast = scored.to_json_vec();
    let reference = serde_json::to_vec(scored).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&fast),
        String::from_utf8_lossy(&reference)
    );
}

fn float_json(value: f64) -> String {
    let mut out = Vec::new();
    Json { out: &mut out }.f64(value);
    String::from_utf8(out).unwrap()
}

#[test]
fn floats_are_written_as_serde_json_writes_them() {
    for n in -20_000i64..=20_000 {
        let value = n as f64 / 1000.0;
        assert_eq!(float_json(value), serde_json::to_string(&value).unwrap());
    }
    // A spread of magnitudes and digits: multiples of 0.001, halves, thirds, extremes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut values = vec![
        -0.0,
        0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        f64::MAX,
        1e-7,
        0.1 + 0.2,
        999_999_999.999,
        1e9,
        1e12,
        123_456_789_012.5,
        1.0 / 3.0,
    ];
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let digits = (x % 1_000_000_000_000_000) as f64;
        values.push(digits / 1000.0);
        values.push(-(digits % 1_000_000_000.0) / 1000.0);
        values.push(f64::from_bits(x));
        values.push((x % 100_000) as f64 / 7.0);
    }
    for value in values {
        assert_eq!(
            float_json(value),
            serde_json::to_string(&value).unwrap(),
            "{value:e}"
        );
    }
}

#[test]
fn strings_and_times_are_written_as_serde_json_writes_them() {
    let strings = [
        "",
        "plain",
        "星空モバイル 繋がらない😡",
        "a\"quote",
        "back\\slash",
        "tab\tand\nnewline\r",
        "\u{0}\u{1}\u{1f}\u{7f}",
        "exactly8",
        "sixteen bytes ok",
        "fifteen bytes\"",
        "ends in a control\u{8}",
        "\u{2028}\u{2029}</script>",
    ];
    for s in strings {
        let mut out = Vec::new();
        Json { out: &mut out }.str(s);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(s).unwrap()
        );
    }
    for time in crate::time::tricky_times() {
        let mut out = Vec::new();
        Json { out: &mut out }.time(&time);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&time).unwrap()
        );
    }
    let far = DateTime::<Utc>::MAX_UTC;
    let mut out = Vec::new();
    Json { out: &mut out }.time(&far);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        serde_json::to_string(&far).unwrap()
    );
}

/// Every optional field set and every list filled, with text that needs escaping.
fn everything() -> ScoredPost {
    let time = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
    let post = Post {
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
        conversation_id: Some("c1".into()),
        in_reply_to: Some("r1".into()),
        is_repost: true,
        text: "繋がらない \"now\"\t😡".into(),
        lang: Some("ja".into()),
        created_at: Some(time("2026-11-15T15:00:26Z")),
        engagement: Engagement {
            likes: 1,
            reposts: 2,
            replies: 3,
        },
        received_at: Some(time("2026-11-15T15:00:27.25Z")),
    };
    let hit = |kind, intent, notes: Vec<String>| Hit {
        term: "繋がらない".into(),
        kind,
        start: 0,
        end: 15,
        value: -2.5,
        contribution: -1.0 / 3.0,
        intent,
        notes,
    };
    let reason = |factor: &str| Reason {
        factor: factor.into(),
        contribution: 0.125,
        detail: "12,400 \"followers\"".into(),
    };
    let analysis = Analysis {
        lang: "ja".into(),
        sentiment: Sentiment::from_score(-0.75),
        intents: vec![Intent::Complaint, Intent::Outage, Intent::Other],
        urgency: 1.0,
        influence: 0.0,
        watch: vec![
            WatchMatch {
                id: "brand".into(),
                terms: vec![WatchTerm {
                    term: "星空".into(),
                    start: 3,
                    end: 9,
                }],
            },
            WatchMatch {
                id: "empty".into(),
                terms: Vec::new(),
            },
        ],
        hits: vec![
            hit(HitKind::Sentiment, None, vec!["negated by \"not\"".into()]),
            hit(HitKind::Negation, None, Vec::new()),
            hit(HitKind::Modifier, None, Vec::new()),
            hit(HitKind::Contrast, None, Vec::new()),
            hit(HitKind::Intent, Some(Intent::Question), Vec::new()),
            hit(HitKind::Urgency, None, Vec::new()),
        ],
        urgency_reasons: vec![reason("outage")],
        influence_reasons: vec![reason("followers"), reason("verified")],
        hashtags: vec!["ソラペイ".into()],
        mentions: vec!["support".into()],
        urls: vec!["https://ex.invalid/?a=\"b\"".into()],
        explanation_truncated: true,
        flags: vec![Flag::Scam, Flag::Spam],
        model: Some(ModelOutput {
            name: "earshot-default 2026.11".into(),
            sentiment: SentimentProbabilities {
                negative: 0.5,
                neutral: 0.25,
                positive: 0.25,
            },
            intents: IntentProbabilities {
                complaint: 0.9,
                question: 0.001,
                request: 1e-9,
                outage: 0.0,
                praise: f64::NAN,
            },
            flags: FlagProbabilities {
                scam: 0.123_456,
                spam: 0.002,
            },
            features: vec![
                ModelFeature {
                    decision: "negative".into(),
                    feature: "word \"refund\"".into(),
                    weight: 1.5,
                    start: Some(3),
                    end: Some(9),
                },
                ModelFeature {
                    decision: "complaint".into(),
                    feature: "lexicon: sarcasm".into(),
                    weight: -0.001,
                    start: None,
                    end: None,
                },
            ],
        }),
    };
    ScoredPost { post, analysis }
}

#[test]
fn a_scored_post_with_everything_is_written_as_serde_writes_it() {
    same_as_serde(&everything());
}

#[test]
fn a_minimal_scored_post_is_written_as_serde_writes_it() {
    let minimal = ScoredPost {
        post: Post {
            id: "1".into(),
            text: "hi".into(),
            ..Post::default()
        },
        analysis: Analysis::default(),
    };
    same_as_serde(&minimal);
    let mut post = everything();
    post.analysis.model = None;
    post.analysis.explanation_truncated = false;
    post.post.created_at = None;
    same_as_serde(&post);
}

#[test]
fn write_appends() {
    let scored = everything();
    let mut out = b"prefix".to_vec();
    scored.write_json(&mut out);
    assert_eq!(&out[..6], b"prefix");
    assert_eq!(&out[6..], serde_json::to_vec(&scored).unwrap());
}
