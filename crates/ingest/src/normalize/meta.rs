//! Meta Graph API webhooks (Facebook Pages, Instagram, Messenger):
//! `{object, entry: [{id, time, changes: [{field, value}], messaging: [...]}]}`. One POST may
//! carry many entries, each with many changes; each change or message is one event here.
//!
//! * Facebook `feed` (and `mention`) changes: comments and posts become posts, id
//!   `facebook:<comment_id>` or `facebook:<post_id>`, conversation the page post
//!   (`facebook:<post_id>`), reply-to the parent comment or the post. `verb: remove` is a
//!   delete, `edited` an edit; reactions and likes are not posts.
//! * Instagram `comments` / `live_comments`: id `instagram:<id>`, conversation the media,
//!   reply-to the parent comment or the media, the commenter's `username` as handle.
//!   Instagram `mentions` carry only ids (the text must be fetched from the Graph API), so they
//!   go to the dead-letter topic with code `needs_graph_api` rather than vanish.
//! * `messaging` (Messenger and Instagram direct messages): id `<platform>:<mid>`, conversation
//!   the thread with the sender (`<platform>:dm:<sender id>`); echoes of the page's own
//!   messages are skipped.
//!
//! Anything the page or account itself wrote (`from.id` equal to the entry id) is skipped.
//! Meta sends no language and no follower counts.

use chrono::{DateTime, Utc};
use earshot_model::{Author, Post};
use serde::Deserialize;
use serde_json::Value;

use super::{
    checked, decode, from_millis, from_rfc3339, from_secs, missing, prefixed, Item, NumOrText,
    Rejected, Skip,
};

#[derive(Debug, Deserialize)]
struct Body {
    #[serde(default)]
    object: String,
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    id: NumOrText,
    #[serde(default)]
    time: NumOrText,
    #[serde(default)]
    changes: Vec<Value>,
    #[serde(default)]
    messaging: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Change {
    field: String,
    #[serde(default)]
    value: Value,
}

#[derive(Debug, Default, Deserialize)]
struct From {
    #[serde(default)]
    id: NumOrText,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

/// A Facebook `feed` or `mention` value.
#[derive(Debug, Deserialize)]
struct FeedValue {
    #[serde(default)]
    item: String,
    #[serde(default)]
    verb: String,
    #[serde(default)]
    post_id: Option<String>,
    #[serde(default)]
    comment_id: Option<String>,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    from: Option<From>,
    #[serde(default)]
    sender_id: NumOrText,
    #[serde(default)]
    sender_name: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    created_time: NumOrText,
    #[serde(default)]
    post: Option<FeedPost>,
    #[serde(default)]
    permalink_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FeedPost {
    #[serde(default)]
    permalink_url: Option<String>,
}

/// An Instagram `comments` value.
#[derive(Debug, Deserialize)]
struct IgComment {
    #[serde(default)]
    id: NumOrText,
    #[serde(default)]
    from: Option<From>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    media: Option<IgMedia>,
    #[serde(default)]
    parent_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IgMedia {
    #[serde(default)]
    id: NumOrText,
}

#[derive(Debug, Deserialize)]
struct Messaging {
    #[serde(default)]
    sender: Option<From>,
    #[serde(default)]
    timestamp: NumOrText,
    #[serde(default)]
    message: Option<MessageBody>,
}

#[derive(Debug, Deserialize)]
struct MessageBody {
    #[serde(default)]
    mid: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    is_echo: bool,
    #[serde(default)]
    reply_to: Option<ReplyTo>,
}

#[derive(Debug, Deserialize)]
struct ReplyTo {
    #[serde(default)]
    mid: Option<String>,
}

/// Normalises one webhook body. A body that is not `{object, entry: [...]}` is one dead
/// letter.
pub fn parse(body: &[u8], now: DateTime<Utc>) -> Vec<Item> {
    let b = match serde_json::from_slice::<Body>(body) {
        Ok(b) => b,
        Err(e) => return vec![Item::Reject(Rejected::body(&e, body))],
    };
    let platform = match b.object.as_str() {
        "page" => "facebook",
        "instagram" => "instagram",
        _ => {
            let events: usize = b
                .entry
                .iter()
                .map(|e| e.changes.len() + e.messaging.len())
                .sum();
            return vec![Item::Skip(Skip::NotAPost); events];
        }
    };
    let mut items = Vec::new();
    for entry in &b.entry {
        let owner = entry.id.text().unwrap_or_default();
        let time = entry.time.as_i64().and_then(unix_time);
        for raw in &entry.changes {
            items.push(change(raw, platform, &owner, time, now));
        }
        for raw in &entry.messaging {
            items.push(message(raw, platform, &owner, now));
        }
    }
    items
}

/// Meta sends `time` and `created_time` in seconds, Instagram sometimes in milliseconds.
fn unix_time(n: i64) -> Option<DateTime<Utc>> {
    if n > 100_000_000_000 {
        from_millis(n)
    } else {
        from_secs(n)
    }
}

/// `created_time` as a number, or as Graph API text (`2026-11-20T09:00:00+0000`).
fn created_time(t: &NumOrText) -> Option<DateTime<Utc>> {
    match t {
        NumOrText::Text(s) if s.contains('T') => from_rfc3339(s).or_else(|| {
            DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
                .ok()
                .map(|d| d.with_timezone(&Utc))
        }),
        other => other.as_i64().and_then(unix_time),
    }
}

fn change(
    raw: &Value,
    platform: &str,
    owner: &str,
    time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Item {
    let c: Change = match decode(raw) {
        Ok(c) => c,
        Err(item) => return item,
    };
    match (platform, c.field.as_str()) {
        ("facebook", "feed" | "mention") => feed(&c.value, owner, now),
        ("instagram", "comments" | "live_comments") => ig_comment(&c.value, owner, time, now),
        ("instagram", "mentions") => Item::Reject(Rejected::event(
            "needs_graph_api",
            "an Instagram mention carries only media and comment ids; its text must be fetched from the Graph API",
            raw,
        )),
        _ => Item::Skip(Skip::NotAPost),
    }
}

fn feed(raw: &Value, owner: &str, now: DateTime<Utc>) -> Item {
    let v: FeedValue = match decode(raw) {
        Ok(v) => v,
        Err(item) => return item,
    };
    match v.verb.as_str() {
        "remove" | "hide" => return Item::Skip(Skip::Deleted),
        "edited" | "edit" => return Item::Skip(Skip::Edited),
        _ => {}
    }
    if !matches!(
        v.item.as_str(),
        "comment" | "post" | "status" | "photo" | "video" | "share" | ""
    ) {
        return Item::Skip(Skip::NotAPost);
    }
    let (author_id, author_name) = match &v.from {
        Some(f) => (f.id.text(), f.name.clone()),
        None => (v.sender_id.text(), v.sender_name.clone()),
    };
    let author_id = author_id.unwrap_or_default();
    if !owner.is_empty() && author_id == owner {
        return Item::Skip(Skip::OwnPost);
    }
    let Some(post_id) = v.post_id.as_deref().filter(|s| !s.is_empty()) else {
        return missing("post_id", raw);
    };
    let id = match (v.item.as_str(), v.comment_id.as_deref()) {
        ("comment", Some(c)) if !c.is_empty() => c,
        ("comment", _) => return missing("comment_id", raw),
        _ => post_id,
    };
    let Some(text) = v.message.filter(|m| !m.is_empty()) else {
        return Item::Skip(Skip::NotText);
    };
    let in_reply_to = if id == post_id {
        None
    } else {
        Some(prefixed(
            "facebook",
            v.parent_id.as_deref().unwrap_or(post_id),
        ))
    };
    let post = Post {
        id: prefixed("facebook", id),
        platform: "facebook".into(),
        url: v
            .permalink_url
            .or_else(|| v.post.and_then(|p| p.permalink_url))
            .filter(|_| id == post_id),
        author: Author {
            id: author_id,
            name: author_name.unwrap_or_default(),
            ..Author::default()
        },
        conversation_id: Some(prefixed("facebook", post_id)),
        in_reply_to,
        text,
        created_at: created_time(&v.created_time),
        received_at: Some(now),
        ..Post::default()
    };
    checked(post, raw)
}

fn ig_comment(raw: &Value, owner: &str, time: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Item {
    let v: IgComment = match decode(raw) {
        Ok(v) => v,
        Err(item) => return item,
    };
    let Some(id) = v.id.text() else {
        return missing("id", raw);
    };
    let from = v.from.unwrap_or_default();
    let author_id = from.id.text().unwrap_or_default();
    if !owner.is_empty() && author_id == owner {
        return Item::Skip(Skip::OwnPost);
    }
    let Some(text) = v.text.filter(|t| !t.is_empty()) else {
        return missing("text", raw);
    };
    let media = v.media.and_then(|m| m.id.text());
    let post = Post {
        id: prefixed("instagram", &id),
        platform: "instagram".into(),
        author: Author {
            id: author_id,
            handle: from.username.unwrap_or_default(),
            ..Author::default()
        },
        conversation_id: media.as_deref().map(|m| prefixed("instagram", m)),
        in_reply_to: v
            .parent_id
            .as_deref()
            .or(media.as_deref())
            .map(|p| prefixed("instagram", p)),
        text,
        created_at: time,
        received_at: Some(now),
        ..Post::default()
    };
    checked(post, raw)
}

fn message(raw: &Value, platform: &str, owner: &str, now: DateTime<Utc>) -> Item {
    let m: Messaging = match decode(raw) {
        Ok(m) => m,
        Err(item) => return item,
    };
    let Some(body) = m.message else {
        // Reads, deliveries, reactions, postbacks.
        return Item::Skip(Skip::NotAPost);
    };
    let sender = m.sender.and_then(|s| s.id.text()).unwrap_or_default();
    if body.is_echo || (!owner.is_empty() && sender == owner) {
        return Item::Skip(Skip::OwnPost);
    }
    let Some(text) = body.text.filter(|t| !t.is_empty()) else {
        return Item::Skip(Skip::NotText);
    };
    let Some(mid) = body.mid.filter(|m| !m.is_empty()) else {
        return missing("message.mid", raw);
    };
    if sender.is_empty() {
        return missing("sender.id", raw);
    }
    let post = Post {
        id: prefixed(platform, &mid),
        platform: platform.into(),
        author: Author {
            id: sender.clone(),
            ..Author::default()
        },
        conversation_id: Some(format!("{platform}:dm:{sender}")),
        in_reply_to: body
            .reply_to
            .and_then(|r| r.mid)
            .map(|r| prefixed(platform, &r)),
        text,
        created_at: m.timestamp.as_i64().and_then(unix_time),
        received_at: Some(now),
        ..Post::default()
    };
    checked(post, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        from_secs(1_790_000_000).unwrap_or_default()
    }

    fn posts(items: &[Item]) -> Vec<&Post> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Post(p) => Some(&**p),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn page_feed_comment_and_post_in_one_delivery() {
        let body = r#"{"object":"page","entry":[{"id":"PAGE1","time":1790000000,"changes":[
            {"field":"feed","value":{"item":"comment","verb":"add","post_id":"PAGE1_77",
              "comment_id":"77_901","parent_id":"PAGE1_77","from":{"id":"U5","name":"山田"},
              "message":"SR-300\u3001\u570f\u5916\u3067\u3059","created_time":1790000001}},
            {"field":"feed","value":{"item":"status","verb":"add","post_id":"PAGE1_78",
              "from":{"id":"U6","name":"Ann"},"message":"Is the app down?",
              "created_time":"2026-11-20T09:00:00+0000","permalink_url":"https://www.facebook.com/PAGE1/posts/78"}}]},
            {"id":"PAGE1","time":1790000002,"changes":[
            {"field":"feed","value":{"item":"comment","verb":"add","post_id":"PAGE1_77",
              "comment_id":"77_902","parent_id":"77_901","from":{"id":"U7","name":"B"},
              "message":"same here","created_time":1790000003}}]}]}"#;
        let items = parse(body.as_bytes(), now());
        let p = posts(&items);
        assert_eq!(p.len(), 3, "{items:?}");
        assert_eq!(p[0].id, "facebook:77_901");
        assert_eq!(p[0].text, "SR-300、圏外です");
        assert_eq!(p[0].author.name, "山田");
        assert_eq!(p[0].conversation_id.as_deref(), Some("facebook:PAGE1_77"));
        assert_eq!(p[0].in_reply_to.as_deref(), Some("facebook:PAGE1_77"));
        assert_eq!(p[0].created_at, from_secs(1_790_000_001));
        assert_eq!(p[1].id, "facebook:PAGE1_78");
        assert_eq!(p[1].in_reply_to, None);
        assert_eq!(
            p[1].url.as_deref(),
            Some("https://www.facebook.com/PAGE1/posts/78")
        );
        assert_eq!(
            p[1].created_at.map(|t| t.to_rfc3339()),
            Some("2026-11-20T09:00:00+00:00".to_string())
        );
        assert_eq!(p[2].in_reply_to.as_deref(), Some("facebook:77_901"));
    }

    #[test]
    fn removals_edits_reactions_and_the_pages_own_comments_are_skipped() {
        let body = r#"{"object":"page","entry":[{"id":"PAGE1","time":1,"changes":[
            {"field":"feed","value":{"item":"comment","verb":"remove","post_id":"P_1","comment_id":"1_2"}},
            {"field":"feed","value":{"item":"comment","verb":"edited","post_id":"P_1","comment_id":"1_3","message":"x"}},
            {"field":"feed","value":{"item":"reaction","verb":"add","post_id":"P_1","reaction_type":"like"}},
            {"field":"feed","value":{"item":"comment","verb":"add","post_id":"P_1","comment_id":"1_4","from":{"id":"PAGE1"},"message":"thanks"}},
            {"field":"feed","value":{"item":"photo","verb":"add","post_id":"P_2","from":{"id":"U"}}},
            {"field":"ratings","value":{}}]}]}"#;
        let skips: Vec<Item> = parse(body.as_bytes(), now());
        assert_eq!(
            skips,
            [
                Skip::Deleted,
                Skip::Edited,
                Skip::NotAPost,
                Skip::OwnPost,
                Skip::NotText,
                Skip::NotAPost
            ]
            .map(Item::Skip)
        );
    }

    #[test]
    fn instagram_comments_mentions_and_messages() {
        let body = r#"{"object":"instagram","entry":[{"id":"IG1","time":1790000000,"changes":[
            {"field":"comments","value":{"id":"c1","from":{"id":"u1","username":"hana"},
              "text":"届かない","media":{"id":"m1","media_product_type":"FEED"}}},
            {"field":"comments","value":{"id":"c2","from":{"id":"u2","username":"k"},
              "text":"me too","media":{"id":"m1"},"parent_id":"c1"}},
            {"field":"mentions","value":{"media_id":"m9","comment_id":"c9"}}],
            "messaging":[
            {"sender":{"id":"u3"},"recipient":{"id":"IG1"},"timestamp":1790000000500,
              "message":{"mid":"mid.1","text":"help","reply_to":{"mid":"mid.0"}}},
            {"sender":{"id":"IG1"},"recipient":{"id":"u3"},"timestamp":1790000000600,
              "message":{"mid":"mid.2","text":"sure","is_echo":true}},
            {"sender":{"id":"u3"},"recipient":{"id":"IG1"},"timestamp":1,"read":{"mid":"mid.2"}}]}]}"#;
        let items = parse(body.as_bytes(), now());
        let p = posts(&items);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].id, "instagram:c1");
        assert_eq!(p[0].author.handle, "hana");
        assert_eq!(p[0].conversation_id.as_deref(), Some("instagram:m1"));
        assert_eq!(p[0].in_reply_to.as_deref(), Some("instagram:m1"));
        assert_eq!(p[0].created_at, from_secs(1_790_000_000));
        assert_eq!(p[1].in_reply_to.as_deref(), Some("instagram:c1"));
        assert_eq!(p[2].id, "instagram:mid.1");
        assert_eq!(p[2].conversation_id.as_deref(), Some("instagram:dm:u3"));
        assert_eq!(p[2].in_reply_to.as_deref(), Some("instagram:mid.0"));
        assert_eq!(
            p[2].created_at.map(|t| t.timestamp_millis()),
            Some(1_790_000_000_500)
        );
        assert!(matches!(&items[2], Item::Reject(r) if r.code == "needs_graph_api"));
        assert_eq!(items[4], Item::Skip(Skip::OwnPost));
        assert_eq!(items[5], Item::Skip(Skip::NotAPost));
    }

    #[test]
    fn broken_changes_are_dead_letters() {
        let body = r#"{"object":"page","entry":[{"id":"P","changes":[
            {"field":"feed","value":{"item":"comment","verb":"add","comment_id":"1","message":"x"}},
            {"value":{}},
            {"field":"feed","value":{"item":"comment","verb":"add","post_id":"P_1","message":"x"}}]}]}"#;
        let items = parse(body.as_bytes(), now());
        assert_eq!(
            crate::normalize::kinds(&items),
            ["missing_field", "invalid_event", "missing_field"]
        );
        assert!(matches!(&parse(b"{}", now())[0], Item::Reject(r) if r.code == "invalid_payload"));
    }
}
