//! X (Twitter): Account Activity webhooks (v1.1 tweet objects and direct messages) and the
//! API v2 filtered stream (one JSON object per line).
//!
//! Ids: `x:<tweet id>`, `x:dm:<event id>`; conversation `x:<conversation_id>` (v2 only: v1.1
//! tweets have none, so they fold by author) or `x:dm:<other user>`; reply-to
//! `x:<replied-to id>`. Text is the long form when there is one (`extended_tweet.full_text`,
//! `note_tweet.text`). Tweets and messages by the subscribed account itself are skipped.

use chrono::{DateTime, Utc};
use earshot_model::{Author, Engagement, Post};
use serde::Deserialize;
use serde_json::Value;

use super::{
    checked, decode, from_millis, from_rfc3339, missing, prefixed, Item, NumOrText, Rejected, Skip,
};

// ------------------------------------------------------------------ Account Activity (v1.1)

#[derive(Debug, Deserialize)]
struct Activity {
    #[serde(default)]
    for_user_id: NumOrText,
    #[serde(default)]
    tweet_create_events: Vec<Value>,
    #[serde(default)]
    direct_message_events: Vec<Value>,
    #[serde(default)]
    users: std::collections::HashMap<String, V1User>,
    #[serde(flatten)]
    other: std::collections::HashMap<String, Value>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct V1User {
    #[serde(default)]
    id_str: Option<String>,
    #[serde(default)]
    id: NumOrText,
    #[serde(default)]
    screen_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    followers_count: u64,
    #[serde(default)]
    verified: bool,
}

impl V1User {
    fn id(&self) -> String {
        self.id_str
            .clone()
            .or_else(|| self.id.text())
            .unwrap_or_default()
    }

    fn author(&self) -> Author {
        Author {
            id: self.id(),
            handle: self.screen_name.clone(),
            name: self.name.clone(),
            followers: self.followers_count,
            verified: self.verified,
        }
    }
}

#[derive(Debug, Deserialize)]
struct V1Tweet {
    #[serde(default)]
    id_str: Option<String>,
    #[serde(default)]
    id: NumOrText,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    full_text: Option<String>,
    #[serde(default)]
    extended_tweet: Option<Extended>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    user: Option<V1User>,
    #[serde(default)]
    in_reply_to_status_id_str: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    retweeted_status: Option<Value>,
    #[serde(default)]
    favorite_count: u64,
    #[serde(default)]
    retweet_count: u64,
    #[serde(default)]
    reply_count: u64,
}

#[derive(Debug, Deserialize)]
struct Extended {
    full_text: String,
}

#[derive(Debug, Deserialize)]
struct DmEvent {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    id: NumOrText,
    #[serde(default)]
    created_timestamp: NumOrText,
    #[serde(default)]
    message_create: Option<MessageCreate>,
}

#[derive(Debug, Deserialize)]
struct MessageCreate {
    #[serde(default)]
    sender_id: NumOrText,
    #[serde(default)]
    message_data: Option<MessageData>,
}

#[derive(Debug, Deserialize)]
struct MessageData {
    #[serde(default)]
    text: String,
}

/// Normalises one Account Activity webhook body.
pub fn parse_activity(body: &[u8], now: DateTime<Utc>) -> Vec<Item> {
    let a = match serde_json::from_slice::<Activity>(body) {
        Ok(a) => a,
        Err(e) => return vec![Item::Reject(Rejected::body(&e, body))],
    };
    let owner = a.for_user_id.text().unwrap_or_default();
    let mut items: Vec<Item> = a
        .tweet_create_events
        .iter()
        .map(|t| v1_tweet(t, &owner, now))
        .collect();
    items.extend(
        a.direct_message_events
            .iter()
            .map(|d| dm(d, &a.users, &owner, now)),
    );
    // Likes, follows, typing indicators, read receipts: events, not posts.
    let others: usize = a
        .other
        .iter()
        .filter(|(k, _)| k.ends_with("_events"))
        .map(|(_, v)| v.as_array().map_or(1, Vec::len))
        .sum();
    items.extend(std::iter::repeat_n(Item::Skip(Skip::NotAPost), others));
    items
}

/// v1.1 `created_at`: `Mon May 19 14:01:46 +0000 2025`.
fn v1_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%a %b %d %H:%M:%S %z %Y")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn v1_tweet(raw: &Value, owner: &str, now: DateTime<Utc>) -> Item {
    let t: V1Tweet = match decode(raw) {
        Ok(t) => t,
        Err(item) => return item,
    };
    let Some(id) = t.id_str.clone().or_else(|| t.id.text()) else {
        return missing("id_str", raw);
    };
    let user = t.user.clone().unwrap_or_default();
    if !owner.is_empty() && user.id() == owner {
        return Item::Skip(Skip::OwnPost);
    }
    let Some(text) = t
        .extended_tweet
        .map(|e| e.full_text)
        .or(t.full_text)
        .or(t.text)
    else {
        return missing("text", raw);
    };
    let url = if user.screen_name.is_empty() {
        format!("https://x.com/i/web/status/{id}")
    } else {
        format!("https://x.com/{}/status/{id}", user.screen_name)
    };
    let post = Post {
        id: prefixed("x", &id),
        platform: "x".into(),
        url: Some(url),
        author: user.author(),
        conversation_id: None,
        in_reply_to: t.in_reply_to_status_id_str.map(|r| prefixed("x", &r)),
        is_repost: t.retweeted_status.is_some(),
        text,
        lang: t.lang.filter(|l| l != "und"),
        created_at: t.created_at.as_deref().and_then(v1_time),
        engagement: Engagement {
            likes: t.favorite_count,
            reposts: t.retweet_count,
            replies: t.reply_count,
        },
        received_at: Some(now),
    };
    checked(post, raw)
}

fn dm(
    raw: &Value,
    users: &std::collections::HashMap<String, V1User>,
    owner: &str,
    now: DateTime<Utc>,
) -> Item {
    let d: DmEvent = match decode(raw) {
        Ok(d) => d,
        Err(item) => return item,
    };
    if d.kind != "message_create" {
        return Item::Skip(Skip::NotAPost);
    }
    let Some(id) = d.id.text() else {
        return missing("id", raw);
    };
    let Some(create) = d.message_create else {
        return missing("message_create", raw);
    };
    let Some(sender) = create.sender_id.text() else {
        return missing("message_create.sender_id", raw);
    };
    if sender == owner {
        return Item::Skip(Skip::OwnPost);
    }
    let text = create.message_data.map(|m| m.text).unwrap_or_default();
    if text.is_empty() {
        return Item::Skip(Skip::NotText);
    }
    let author = users.get(&sender).map_or_else(
        || Author {
            id: sender.clone(),
            ..Author::default()
        },
        V1User::author,
    );
    let post = Post {
        id: format!("x:dm:{id}"),
        platform: "x".into(),
        author,
        conversation_id: Some(format!("x:dm:{sender}")),
        text,
        created_at: d.created_timestamp.as_i64().and_then(from_millis),
        received_at: Some(now),
        ..Post::default()
    };
    checked(post, raw)
}

// ------------------------------------------------------------------ v2 filtered stream

#[derive(Debug, Deserialize)]
struct StreamObject {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    includes: Includes,
    #[serde(default)]
    errors: Vec<Problem>,
}

#[derive(Debug, Default, Deserialize)]
struct Includes {
    #[serde(default)]
    users: Vec<V2User>,
}

#[derive(Debug, Deserialize)]
struct V2User {
    id: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    verified: bool,
    #[serde(default)]
    verified_type: Option<String>,
    #[serde(default)]
    public_metrics: UserMetrics,
}

#[derive(Debug, Default, Deserialize)]
struct UserMetrics {
    #[serde(default)]
    followers_count: u64,
}

#[derive(Debug, Deserialize)]
struct V2Tweet {
    id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    note_tweet: Option<NoteTweet>,
    #[serde(default)]
    author_id: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    // The OpenAPI schema also spells it `referenced_posts`.
    #[serde(default, alias = "referenced_posts")]
    referenced_tweets: Vec<Reference>,
    #[serde(default)]
    public_metrics: TweetMetrics,
}

#[derive(Debug, Deserialize)]
struct NoteTweet {
    text: String,
}

#[derive(Debug, Deserialize)]
struct Reference {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Debug, Default, Deserialize)]
struct TweetMetrics {
    #[serde(default)]
    like_count: u64,
    #[serde(default)]
    retweet_count: u64,
    #[serde(default)]
    reply_count: u64,
}

/// An error object of the stream (`{"errors": [...]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Problem {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl Problem {
    /// X closes the connection after this one (`operational-disconnect`): reconnect.
    pub fn is_disconnect(&self) -> bool {
        self.kind.ends_with("operational-disconnect")
            || self.title.eq_ignore_ascii_case("operational-disconnect")
    }
}

/// One line of the filtered stream: the post it carried (if any) and the errors it reported.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamLine {
    pub item: Option<Item>,
    pub errors: Vec<Problem>,
}

/// Normalises one non-blank line of the filtered stream.
pub fn parse_stream_line(line: &[u8], now: DateTime<Utc>) -> StreamLine {
    let object = match serde_json::from_slice::<StreamObject>(line) {
        Ok(o) => o,
        Err(e) => {
            return StreamLine {
                item: Some(Item::Reject(Rejected::body(&e, line))),
                errors: Vec::new(),
            }
        }
    };
    let item = object.data.as_ref().map(|data| {
        let t: V2Tweet = match decode(data) {
            Ok(t) => t,
            Err(item) => return item,
        };
        v2_tweet(t, &object.includes, data, now)
    });
    StreamLine {
        item,
        errors: object.errors,
    }
}

fn v2_tweet(t: V2Tweet, includes: &Includes, raw: &Value, now: DateTime<Utc>) -> Item {
    let user = t
        .author_id
        .as_deref()
        .and_then(|a| includes.users.iter().find(|u| u.id == a));
    let author = match user {
        Some(u) => Author {
            id: u.id.clone(),
            handle: u.username.clone(),
            name: u.name.clone(),
            followers: u.public_metrics.followers_count,
            verified: u.verified || u.verified_type.as_deref().is_some_and(|v| v != "none"),
        },
        None => Author {
            id: t.author_id.clone().unwrap_or_default(),
            ..Author::default()
        },
    };
    let reference = |kind: &str| {
        t.referenced_tweets
            .iter()
            .find(|r| r.kind == kind)
            .map(|r| prefixed("x", &r.id))
    };
    let post = Post {
        url: Some(format!("https://x.com/i/web/status/{}", t.id)),
        id: prefixed("x", &t.id),
        platform: "x".into(),
        author,
        conversation_id: t.conversation_id.as_deref().map(|c| prefixed("x", c)),
        in_reply_to: reference("replied_to"),
        is_repost: reference("retweeted").is_some(),
        text: t.note_tweet.map_or(t.text, |n| n.text),
        lang: t.lang.filter(|l| l != "und"),
        created_at: t.created_at.as_deref().and_then(from_rfc3339),
        engagement: Engagement {
            likes: t.public_metrics.like_count,
            reposts: t.public_metrics.retweet_count,
            replies: t.public_metrics.reply_count,
        },
        received_at: Some(now),
    };
    checked(post, raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::from_secs;

    fn now() -> DateTime<Utc> {
        from_secs(1_790_000_000).unwrap_or_default()
    }

    #[test]
    fn activity_tweets_and_messages() {
        let body = r#"{"for_user_id":"100","tweet_create_events":[
            {"created_at":"Mon May 19 14:01:46 +0000 2025","id":1900,"id_str":"1900",
             "text":"@hoshizora 圏外…","truncated":true,
             "extended_tweet":{"full_text":"@hoshizora 圏外が直らない、どうなってるの"},
             "in_reply_to_status_id_str":"1899","lang":"ja",
             "user":{"id":7,"id_str":"7","name":"Ken","screen_name":"ken","followers_count":1200,"verified":false},
             "favorite_count":2,"retweet_count":1,"reply_count":0},
            {"created_at":"Mon May 19 14:02:00 +0000 2025","id_str":"1901","text":"We're on it",
             "user":{"id_str":"100","screen_name":"hoshizora"}}],
            "direct_message_events":[
            {"type":"message_create","id":"555","created_timestamp":"1790000000123",
             "message_create":{"target":{"recipient_id":"100"},"sender_id":"8",
             "message_data":{"text":"請求が二重です","entities":{}}}},
            {"type":"message_create","id":"556","created_timestamp":"1790000000200",
             "message_create":{"target":{"recipient_id":"8"},"sender_id":"100",
             "message_data":{"text":"DM us"}}}],
            "users":{"8":{"id":"8","name":"Mio","screen_name":"mio","followers_count":5,"verified":true},
                     "100":{"id":"100","name":"Hoshizora","screen_name":"hoshizora"}}}"#;
        let items = parse_activity(body.as_bytes(), now());
        assert_eq!(items.len(), 4);
        let Item::Post(t) = &items[0] else {
            panic!("{items:?}")
        };
        assert_eq!(t.id, "x:1900");
        assert_eq!(t.text, "@hoshizora 圏外が直らない、どうなってるの");
        assert_eq!(t.in_reply_to.as_deref(), Some("x:1899"));
        assert_eq!(t.author.handle, "ken");
        assert_eq!(t.author.followers, 1200);
        assert_eq!(t.url.as_deref(), Some("https://x.com/ken/status/1900"));
        assert_eq!(
            t.created_at.map(|c| c.to_rfc3339()),
            Some("2025-05-19T14:01:46+00:00".into())
        );
        assert_eq!(t.engagement.likes, 2);
        assert_eq!(items[1], Item::Skip(Skip::OwnPost));
        let Item::Post(d) = &items[2] else {
            panic!("{items:?}")
        };
        assert_eq!(d.id, "x:dm:555");
        assert_eq!(d.author.handle, "mio");
        assert!(d.author.verified);
        assert_eq!(d.conversation_id.as_deref(), Some("x:dm:8"));
        assert_eq!(
            d.created_at.map(|c| c.timestamp_millis()),
            Some(1_790_000_000_123)
        );
        assert_eq!(items[3], Item::Skip(Skip::OwnPost));
    }

    #[test]
    fn other_activity_events_are_skipped() {
        let body = r#"{"for_user_id":"1","favorite_events":[{"id":"a"},{"id":"b"}],
            "follow_events":[{"type":"follow"}]}"#;
        assert_eq!(
            parse_activity(body.as_bytes(), now()),
            vec![Item::Skip(Skip::NotAPost); 3]
        );
    }

    #[test]
    fn stream_line_with_includes_and_note_tweet() {
        let line = r#"{"data":{"id":"2001","text":"short…","note_tweet":{"text":"the whole long text about 星空モバイル"},
            "author_id":"42","conversation_id":"1990","created_at":"2026-11-20T09:00:00.000Z","lang":"ja",
            "referenced_tweets":[{"type":"replied_to","id":"1999"}],
            "public_metrics":{"retweet_count":3,"reply_count":1,"like_count":9,"quote_count":0}},
            "includes":{"users":[{"id":"42","name":"Aki","username":"aki","verified":false,
              "verified_type":"blue","public_metrics":{"followers_count":5400}}]},
            "matching_rules":[{"id":"r1","tag":"earshot:hoshizora"}]}"#;
        let parsed = parse_stream_line(line.as_bytes(), now());
        assert!(parsed.errors.is_empty());
        let Some(Item::Post(p)) = parsed.item else {
            panic!("{parsed:?}")
        };
        assert_eq!(p.id, "x:2001");
        assert_eq!(p.text, "the whole long text about 星空モバイル");
        assert_eq!(p.author.handle, "aki");
        assert_eq!(p.author.followers, 5400);
        assert!(p.author.verified);
        assert_eq!(p.conversation_id.as_deref(), Some("x:1990"));
        assert_eq!(p.in_reply_to.as_deref(), Some("x:1999"));
        assert_eq!(p.engagement.likes, 9);
        assert_eq!(p.url.as_deref(), Some("https://x.com/i/web/status/2001"));
    }

    #[test]
    fn referenced_posts_spelling_and_retweets() {
        let line = r#"{"data":{"id":"5","text":"RT x","author_id":"1",
            "referenced_posts":[{"type":"retweeted","id":"4"}]}}"#;
        let Some(Item::Post(p)) = parse_stream_line(line.as_bytes(), now()).item else {
            panic!()
        };
        assert!(p.is_repost);
        assert_eq!(p.author.id, "1");
        assert_eq!(p.in_reply_to, None);
    }

    #[test]
    fn stream_errors_and_disconnects() {
        let line = r#"{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect",
            "detail":"This stream has been disconnected upstream for operational reasons.",
            "type":"https://api.twitter.com/2/problems/operational-disconnect"}]}"#;
        let parsed = parse_stream_line(line.as_bytes(), now());
        assert_eq!(parsed.item, None);
        assert!(parsed.errors[0].is_disconnect());
        let partial = r#"{"data":{"id":"6","text":"t"},"errors":[{"title":"Not Found Error","type":"https://api.twitter.com/2/problems/resource-not-found"}]}"#;
        let parsed = parse_stream_line(partial.as_bytes(), now());
        assert!(matches!(parsed.item, Some(Item::Post(_))));
        assert!(!parsed.errors[0].is_disconnect());
        let garbage = parse_stream_line(b"{\"data\":{\"text\":1}}", now());
        assert!(matches!(garbage.item, Some(Item::Reject(r)) if r.code == "invalid_event"));
    }
}
