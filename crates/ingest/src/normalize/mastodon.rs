//! Mastodon statuses, from the streaming API (`update` events) and the REST timelines used to
//! fill gaps after a reconnect.
//!
//! Id `mastodon:<uri>` (the status' global URI: the same however it reached the instance),
//! text the HTML `content` as plain text, author the account (`acct` as handle, its follower
//! count), counts from `favourites_count`, `reblogs_count`, `replies_count`. A boost
//! (`reblog` set) is a repost carrying the boosted status' text. Replies cannot be linked to
//! their parent's URI without another request, so Mastodon posts fold by author. The
//! instance-local `id` is the gap-fill cursor.

use chrono::{DateTime, Utc};
use earshot_model::{Author, Engagement, Post};
use serde::Deserialize;
use serde_json::Value;

use super::{checked, decode, from_rfc3339, html, prefixed, Item, Rejected};

#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    #[serde(default)]
    uri: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    account: Account,
    #[serde(default)]
    content: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    replies_count: u64,
    #[serde(default)]
    reblogs_count: u64,
    #[serde(default)]
    favourites_count: u64,
    #[serde(default)]
    reblog: Option<Box<Status>>,
}

#[derive(Debug, Default, Deserialize)]
struct Account {
    #[serde(default)]
    id: String,
    #[serde(default)]
    acct: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    followers_count: u64,
}

/// A status id as a cursor, ordered like the instance orders them (longer is newer; Mastodon
/// ids are decimal snowflakes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusId(pub String);

impl Ord for StatusId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.len(), &self.0).cmp(&(other.0.len(), &other.0))
    }
}

impl PartialOrd for StatusId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One status (a streaming `update` payload): its id and what it became.
pub fn parse_status(json: &[u8], now: DateTime<Utc>) -> (Option<StatusId>, Item) {
    match serde_json::from_slice::<Value>(json) {
        Ok(raw) => status(&raw, now),
        Err(e) => (None, Item::Reject(Rejected::body(&e, json))),
    }
}

/// A page of a REST timeline: each status with its id, oldest first.
pub fn parse_timeline(
    json: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<(Option<StatusId>, Item)>, Rejected> {
    let page: Vec<Value> = serde_json::from_slice(json).map_err(|e| Rejected::body(&e, json))?;
    let mut items: Vec<(Option<StatusId>, Item)> = page.iter().map(|s| status(s, now)).collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(items)
}

fn status(raw: &Value, now: DateTime<Utc>) -> (Option<StatusId>, Item) {
    let s: Status = match decode(raw) {
        Ok(s) => s,
        Err(item) => {
            let id = raw
                .get("id")
                .and_then(Value::as_str)
                .map(|i| StatusId(i.into()));
            return (id, item);
        }
    };
    let id = Some(StatusId(s.id.clone()));
    if s.uri.is_empty() {
        return (id, super::missing("uri", raw));
    }
    let (shown, is_repost) = match &s.reblog {
        Some(original) => (&**original, true),
        None => (&s, false),
    };
    let post = Post {
        id: prefixed("mastodon", &s.uri),
        platform: "mastodon".into(),
        url: s.url.clone().or_else(|| Some(s.uri.clone())),
        author: Author {
            id: s.account.id.clone(),
            handle: s.account.acct.clone(),
            name: s.account.display_name.clone(),
            followers: s.account.followers_count,
            verified: false,
        },
        is_repost,
        text: html::to_text(&shown.content),
        lang: shown.language.clone(),
        created_at: s.created_at.as_deref().and_then(from_rfc3339),
        engagement: Engagement {
            likes: shown.favourites_count,
            reposts: shown.reblogs_count,
            replies: shown.replies_count,
        },
        received_at: Some(now),
        ..Post::default()
    };
    (id, checked(post, raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::from_secs;

    fn now() -> DateTime<Utc> {
        from_secs(1_790_000_000).unwrap_or_default()
    }

    const STATUS: &str = r#"{"id":"113000000000000002","uri":"https://m.example/users/aki/statuses/113000000000000002",
        "url":"https://m.example/@aki/113000000000000002","created_at":"2026-11-20T09:00:00.000Z",
        "account":{"id":"109","username":"aki","acct":"aki","display_name":"Aki","followers_count":321,"bot":false},
        "content":"<p>星空モバイル&amp;ソラペイ、繋がらない</p>","language":"ja","in_reply_to_id":null,
        "replies_count":1,"reblogs_count":2,"favourites_count":3,"reblog":null}"#;

    #[test]
    fn a_status() {
        let (id, item) = parse_status(STATUS.as_bytes(), now());
        assert_eq!(id, Some(StatusId("113000000000000002".into())));
        let Item::Post(p) = item else {
            panic!("{item:?}")
        };
        assert_eq!(
            p.id,
            "mastodon:https://m.example/users/aki/statuses/113000000000000002"
        );
        assert_eq!(p.text, "星空モバイル&ソラペイ、繋がらない");
        assert_eq!(p.author.handle, "aki");
        assert_eq!(p.author.followers, 321);
        assert_eq!(p.lang.as_deref(), Some("ja"));
        assert_eq!(
            p.engagement,
            Engagement {
                likes: 3,
                reposts: 2,
                replies: 1
            }
        );
        assert!(!p.is_repost);
    }

    #[test]
    fn a_boost_carries_the_original_text() {
        let boost = format!(
            r#"{{"id":"113000000000000009","uri":"https://m.example/users/b/statuses/9/activity",
            "account":{{"id":"1","acct":"b@other.example"}},"content":"","reblog":{STATUS}}}"#
        );
        let (_, Item::Post(p)) = parse_status(boost.as_bytes(), now()) else {
            panic!()
        };
        assert!(p.is_repost);
        assert_eq!(p.text, "星空モバイル&ソラペイ、繋がらない");
        assert_eq!(p.author.handle, "b@other.example");
    }

    #[test]
    fn timeline_pages_come_oldest_first() {
        let page = r#"[{"id":"120","uri":"u120","content":"c"},{"id":"99","uri":"u99","content":"b"},
            {"id":"110","uri":"u110","content":"a"}]"#;
        let items = parse_timeline(page.as_bytes(), now()).unwrap_or_default();
        let ids: Vec<&str> = items
            .iter()
            .filter_map(|(id, _)| id.as_ref().map(|i| i.0.as_str()))
            .collect();
        assert_eq!(ids, ["99", "110", "120"]);
        assert!(parse_timeline(b"{}", now()).is_err());
    }

    #[test]
    fn broken_statuses_are_dead_letters_with_their_id() {
        let (id, item) = parse_status(br#"{"id":"5","content":"x"}"#, now());
        assert_eq!(id, Some(StatusId("5".into())));
        assert!(matches!(item, Item::Reject(r) if r.code == "missing_field"));
        let (id, item) = parse_status(br#"{"id":5}"#, now());
        assert_eq!(id, None);
        assert!(matches!(item, Item::Reject(r) if r.code == "invalid_event"));
    }
}
