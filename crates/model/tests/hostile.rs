//! Post decoding under hostile input (issue 9): a corpus of the cases found by hand, kept as
//! regression tests, and property tests over arbitrary bytes, arbitrary JSON and arbitrary
//! times that decoding never panics and that whatever it accepts keeps every invariant.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Utc};
use earshot_model::{Post, PostLimits};
use proptest::prelude::*;

/// (line, the code it must be refused with, or `None` when it is a valid post).
const CORPUS: &[(&str, Option<&str>)] = &[
    (r#"{"id":"1","text":"ok"}"#, None),
    (
        "\u{feff}{\"id\":\"bom\",\"text\":\"a leading byte order mark\"}",
        None,
    ),
    (r#"[{"id":"1","text":"x"}]"#, Some("invalid_post")),
    (
        r#"["p","x",null,{},null,null,false,"text",null,null,{},null]"#,
        Some("invalid_post"),
    ),
    (r#"  ["p"]"#, Some("invalid_post")),
    (r#"{"id":" ","text":"x"}"#, Some("missing_field")),
    (r#"{"id":"\t\n","text":"x"}"#, Some("missing_field")),
    (r#"{"id":"a\u0000b","text":"x"}"#, Some("invalid_field")),
    (
        r#"{"id":"a","author":{"id":"u\u0007"},"text":"x"}"#,
        Some("invalid_field"),
    ),
    (
        r#"{"id":"a","in_reply_to":"b\r","text":"x"}"#,
        Some("invalid_field"),
    ),
    (r#"{"id":1,"text":"x"}"#, Some("invalid_post")),
    (
        r#"{"id":"a","text":"x","engagement":{"likes":-1}}"#,
        Some("invalid_post"),
    ),
    (
        r#"{"id":"a","text":"x","created_at":"not a time"}"#,
        Some("invalid_post"),
    ),
    (r#"{"id":"a","text":"x""#, Some("invalid_json")),
    ("\u{feff}\u{feff}{}", Some("invalid_json")),
    ("", Some("invalid_json")),
    ("null", Some("invalid_post")),
];

#[test]
fn the_corpus_decodes_as_recorded() {
    for (line, want) in CORPUS {
        let got = Post::from_json(line.as_bytes()).err().map(|e| e.code());
        assert_eq!(got, *want, "{line:?}");
    }
}

#[test]
fn the_posts_of_issue_9_are_refused_by_size() {
    let unit = "星空モバイル 😡 #星空障害 @hoshizora_help http://x.y/ not good!!! 繋がらない。";
    let text = unit.repeat(65536 / unit.len());
    let name = "N".repeat(300_000);
    let post = format!(r#"{{"id":"p","text":"{text}","author":{{"id":"a","name":"{name}"}}}}"#);
    let err = Post::from_json(post.as_bytes()).unwrap_err();
    assert_eq!(err.code(), "oversize");
    assert!(err.to_string().starts_with("the record is 365"), "{err}");
    let limits = PostLimits {
        max_record_bytes: 1 << 20,
        ..PostLimits::default()
    };
    let err = Post::from_json_with(post.as_bytes(), &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "author.name is 300000 bytes, more than the limit of 4096"
    );
    let ok = format!(r#"{{"id":"p","text":"{text}"}}"#);
    assert!(
        Post::from_json(ok.as_bytes()).is_ok(),
        "64 KiB of text is allowed"
    );
}

/// Small limits, so that generated values cross them often.
fn limits() -> PostLimits {
    PostLimits {
        max_text_bytes: 40,
        max_field_bytes: 12,
        max_record_bytes: 400,
        max_future_seconds: 3600,
    }
}

fn json_string() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        "[a-z0-9 ]{0,16}".prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("\u{0}")),
        Just(serde_json::Value::from(" ")),
    ]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        json_string(),
        Just(serde_json::Value::from("9999-12-31T23:59:59Z")),
        Just(serde_json::Value::from("2026-11-20T09:00:00Z")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A post-shaped object: Post's own fields (any value), plus others.
fn post_like() -> impl Strategy<Value = serde_json::Value> {
    let field = prop_oneof![
        Just("id"),
        Just("text"),
        Just("platform"),
        Just("url"),
        Just("author"),
        Just("conversation_id"),
        Just("in_reply_to"),
        Just("is_repost"),
        Just("lang"),
        Just("created_at"),
        Just("received_at"),
        Just("engagement"),
        Just("extra"),
    ];
    prop::collection::vec((field, json_value()), 0..10).prop_map(|fields| {
        let mut object: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        object.entry("id").or_insert_with(|| "p".into());
        object.entry("text").or_insert_with(|| "t".into());
        serde_json::Value::Object(object)
    })
}

/// What every accepted post satisfies, whatever it came from.
fn check_accepted(bytes: &[u8]) -> Result<(), TestCaseError> {
    let limits = limits();
    let Ok(post) = Post::from_json_with(bytes, &limits) else {
        return Ok(());
    };
    prop_assert!(bytes.len() <= limits.max_record_bytes);
    prop_assert!(!post.id.trim().is_empty());
    prop_assert!(!post.id.chars().any(char::is_control));
    prop_assert!(post.text.len() <= limits.max_text_bytes);
    prop_assert!(post.author.name.len() <= limits.max_field_bytes);
    // What ingest republishes reads back the same.
    let again =
        Post::from_json_with(&serde_json::to_vec(&post).unwrap(), &PostLimits::default()).unwrap();
    prop_assert_eq!(&again, &post);
    let now: DateTime<Utc> = "2026-11-30T00:00:00Z".parse().unwrap();
    if post.check_time(now, &limits).is_ok() {
        for t in [post.created_at, post.received_at].into_iter().flatten() {
            prop_assert!(t <= now + chrono::Duration::hours(1));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check_accepted(&bytes)?;
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        check_accepted(value.to_string().as_bytes())?;
    }

    #[test]
    fn post_shaped_json_keeps_every_invariant(value in post_like()) {
        check_accepted(value.to_string().as_bytes())?;
    }
}
