//! Bluesky Jetstream events: `{did, time_us, kind, commit: {operation, collection, rkey,
//! cid, record}}`, one per WebSocket text message.
//!
//! Created `app.bsky.feed.post` records become posts: id `bsky:at://<did>/app.bsky.feed.post/<rkey>`,
//! conversation the thread's root (`bsky:<reply.root.uri>`, or the post itself), reply-to the
//! parent, language the first of `langs`, URL `https://bsky.app/profile/<did>/post/<rkey>`.
//! Updates, deletes, other collections and identity/account events are skipped. Jetstream
//! carries neither handle nor follower count. Every event's `time_us` is the resume cursor.

use chrono::{DateTime, Utc};
use earshot_model::{Author, Post};
use serde::Deserialize;
use serde_json::Value;

use super::{checked, decode, from_rfc3339, prefixed, Item, Rejected, Skip};

const POST_COLLECTION: &str = "app.bsky.feed.post";

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(default)]
    did: String,
    #[serde(default)]
    time_us: Option<u64>,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    commit: Option<Commit>,
}

#[derive(Debug, Deserialize)]
struct Commit {
    #[serde(default)]
    operation: String,
    #[serde(default)]
    collection: String,
    #[serde(default)]
    rkey: String,
    #[serde(default)]
    record: Option<Record>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    langs: Vec<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    reply: Option<Reply>,
}

#[derive(Debug, Deserialize)]
struct Reply {
    root: Ref,
    parent: Ref,
}

#[derive(Debug, Deserialize)]
struct Ref {
    uri: String,
}

/// One Jetstream message: its cursor (`time_us`, when readable) and what it became.
pub fn parse_event(message: &[u8], now: DateTime<Utc>) -> (Option<u64>, Item) {
    let raw: Value = match serde_json::from_slice(message) {
        Ok(v) => v,
        Err(e) => return (None, Item::Reject(Rejected::body(&e, message))),
    };
    let e: Event = match decode(&raw) {
        Ok(e) => e,
        Err(item) => return (None, item),
    };
    (e.time_us, event(e, &raw, now))
}

fn event(e: Event, raw: &Value, now: DateTime<Utc>) -> Item {
    let Some(commit) = e.commit.filter(|_| e.kind == "commit") else {
        return Item::Skip(Skip::NotAPost);
    };
    if commit.collection != POST_COLLECTION {
        return Item::Skip(Skip::NotAPost);
    }
    match commit.operation.as_str() {
        "create" => {}
        "update" => return Item::Skip(Skip::Edited),
        "delete" => return Item::Skip(Skip::Deleted),
        _ => return Item::Skip(Skip::NotAPost),
    }
    if e.did.is_empty() || commit.rkey.is_empty() {
        return super::missing("did/commit.rkey", raw);
    }
    let Some(record) = commit.record else {
        return super::missing("commit.record", raw);
    };
    let Some(text) = record.text else {
        return super::missing("commit.record.text", raw);
    };
    let uri = format!("at://{}/{POST_COLLECTION}/{}", e.did, commit.rkey);
    let (root, parent) = match &record.reply {
        Some(r) => (r.root.uri.as_str(), Some(r.parent.uri.as_str())),
        None => (uri.as_str(), None),
    };
    let created = record
        .created_at
        .as_deref()
        .and_then(from_rfc3339)
        .or_else(|| e.time_us.and_then(from_micros));
    let post = Post {
        id: prefixed("bsky", &uri),
        platform: "bluesky".into(),
        url: Some(format!(
            "https://bsky.app/profile/{}/post/{}",
            e.did, commit.rkey
        )),
        author: Author {
            id: e.did.clone(),
            ..Author::default()
        },
        conversation_id: Some(prefixed("bsky", root)),
        in_reply_to: parent.map(|p| prefixed("bsky", p)),
        text,
        lang: record.langs.into_iter().next(),
        created_at: created,
        received_at: Some(now),
        ..Post::default()
    };
    checked(post, raw)
}

/// A `time_us` cursor as a time.
pub fn from_micros(us: u64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(i64::try_from(us).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        from_micros(1_790_000_000_000_000).unwrap_or_default()
    }

    #[test]
    fn a_reply_post() {
        let msg = r#"{"did":"did:plc:abc","time_us":1790000000123456,"kind":"commit",
            "commit":{"rev":"3l","operation":"create","collection":"app.bsky.feed.post","rkey":"3kq",
            "cid":"bafy","record":{"$type":"app.bsky.feed.post","text":"星空モバイル落ちてる？",
            "langs":["ja"],"createdAt":"2026-11-20T09:00:00.000Z",
            "reply":{"root":{"uri":"at://did:plc:r/app.bsky.feed.post/1","cid":"c1"},
                     "parent":{"uri":"at://did:plc:p/app.bsky.feed.post/2","cid":"c2"}}}}}"#;
        let (cursor, item) = parse_event(msg.as_bytes(), now());
        assert_eq!(cursor, Some(1_790_000_000_123_456));
        let Item::Post(p) = item else {
            panic!("{item:?}")
        };
        assert_eq!(p.id, "bsky:at://did:plc:abc/app.bsky.feed.post/3kq");
        assert_eq!(p.platform, "bluesky");
        assert_eq!(
            p.conversation_id.as_deref(),
            Some("bsky:at://did:plc:r/app.bsky.feed.post/1")
        );
        assert_eq!(
            p.in_reply_to.as_deref(),
            Some("bsky:at://did:plc:p/app.bsky.feed.post/2")
        );
        assert_eq!(p.lang.as_deref(), Some("ja"));
        assert_eq!(
            p.url.as_deref(),
            Some("https://bsky.app/profile/did:plc:abc/post/3kq")
        );
        assert_eq!(p.author.id, "did:plc:abc");
    }

    #[test]
    fn a_root_post_is_its_own_conversation() {
        let msg = r#"{"did":"did:plc:a","time_us":5,"kind":"commit","commit":{"operation":"create",
            "collection":"app.bsky.feed.post","rkey":"k","record":{"text":"hi"}}}"#;
        let (_, Item::Post(p)) = parse_event(msg.as_bytes(), now()) else {
            panic!()
        };
        assert_eq!(p.conversation_id.as_deref(), Some(p.id.as_str()));
        assert_eq!(p.created_at, from_micros(5));
    }

    #[test]
    fn everything_else_is_skipped_with_its_cursor() {
        for (msg, skip) in [
            (
                r#"{"did":"d","time_us":7,"kind":"identity","identity":{"did":"d","handle":"h"}}"#,
                Skip::NotAPost,
            ),
            (
                r#"{"did":"d","time_us":7,"kind":"account","account":{"active":true}}"#,
                Skip::NotAPost,
            ),
            (
                r#"{"did":"d","time_us":7,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.like","rkey":"k"}}"#,
                Skip::NotAPost,
            ),
            (
                r#"{"did":"d","time_us":7,"kind":"commit","commit":{"operation":"delete","collection":"app.bsky.feed.post","rkey":"k"}}"#,
                Skip::Deleted,
            ),
            (
                r#"{"did":"d","time_us":7,"kind":"commit","commit":{"operation":"update","collection":"app.bsky.feed.post","rkey":"k","record":{"text":"x"}}}"#,
                Skip::Edited,
            ),
        ] {
            assert_eq!(
                parse_event(msg.as_bytes(), now()),
                (Some(7), Item::Skip(skip)),
                "{msg}"
            );
        }
    }

    #[test]
    fn broken_events_are_dead_letters() {
        let (cursor, item) = parse_event(b"{oops", now());
        assert_eq!(cursor, None);
        assert!(matches!(item, Item::Reject(r) if r.code == "invalid_json"));
        let msg = r#"{"did":"d","time_us":9,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"k"}}"#;
        let (cursor, item) = parse_event(msg.as_bytes(), now());
        assert_eq!(cursor, Some(9));
        assert!(matches!(item, Item::Reject(r) if r.code == "missing_field"));
    }
}
