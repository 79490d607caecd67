//! LINE Messaging API webhooks: `{destination, events: [...]}`.
//!
//! Text message events become posts: id `line:<webhookEventId>` (the same on every
//! redelivery), author the sending user, conversation the chat (`line:user:<userId>` for a
//! one-to-one chat, `line:group:<groupId>`, `line:room:<roomId>`), reply-to the quoted message
//! (`line:message:<quotedMessageId>`: LINE names messages by message id, posts here by event
//! id). LINE gives no follower count, verified flag, language or public URL. An empty
//! `events` array is LINE's connectivity check. Other events (follow, join, postback, unsend)
//! are skipped; stickers and images are messages without text.

use chrono::{DateTime, Utc};
use earshot_model::{Author, Post};
use serde::Deserialize;
use serde_json::Value;

use super::{checked, decode, from_millis, missing, prefixed, Item, NumOrText, Rejected, Skip};

#[derive(Debug, Deserialize)]
struct Body {
    events: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    timestamp: NumOrText,
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    webhook_event_id: Option<String>,
    #[serde(default)]
    message: Option<Message>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Source {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    group_id: Option<String>,
    #[serde(default)]
    room_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    quoted_message_id: Option<String>,
}

/// Normalises one webhook body. A body that is not `{events: [...]}` is one dead letter.
pub fn parse(body: &[u8], now: DateTime<Utc>) -> Vec<Item> {
    match serde_json::from_slice::<Body>(body) {
        Ok(b) => b.events.iter().map(|e| event(e, now)).collect(),
        Err(e) => vec![Item::Reject(Rejected::body(&e, body))],
    }
}

fn event(raw: &Value, now: DateTime<Utc>) -> Item {
    let e: Event = match decode(raw) {
        Ok(e) => e,
        Err(item) => return item,
    };
    match e.kind.as_str() {
        "message" => {}
        "unsend" => return Item::Skip(Skip::Deleted),
        _ => return Item::Skip(Skip::NotAPost),
    }
    let Some(message) = &e.message else {
        return missing("message", raw);
    };
    if message.kind != "text" {
        return Item::Skip(Skip::NotText);
    }
    let Some(event_id) = e.webhook_event_id.as_deref().filter(|s| !s.is_empty()) else {
        return missing("webhookEventId", raw);
    };
    let Some(text) = &message.text else {
        return missing("message.text", raw);
    };
    let source = e.source.as_ref();
    let user = source.and_then(|s| s.user_id.clone()).unwrap_or_default();
    let conversation = source.and_then(|s| match s.kind.as_str() {
        "group" => s.group_id.as_deref().map(|g| format!("line:group:{g}")),
        "room" => s.room_id.as_deref().map(|r| format!("line:room:{r}")),
        _ => s.user_id.as_deref().map(|u| format!("line:user:{u}")),
    });
    let post = Post {
        id: prefixed("line", event_id),
        platform: "line".into(),
        author: Author {
            id: user,
            ..Author::default()
        },
        conversation_id: conversation,
        in_reply_to: message
            .quoted_message_id
            .as_deref()
            .map(|m| format!("line:message:{m}")),
        text: text.clone(),
        created_at: e.timestamp.as_i64().and_then(from_millis),
        received_at: Some(now),
        ..Post::default()
    };
    checked(post, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        from_millis(1_790_000_000_000).unwrap_or_default()
    }

    fn post(item: &Item) -> &Post {
        match item {
            Item::Post(p) => p,
            other => panic!("expected a post, got {other:?}"),
        }
    }

    #[test]
    fn text_message_in_a_group_with_a_quote() {
        let body = r#"{"destination":"Ubot","events":[{"type":"message","mode":"active",
            "timestamp":1790000000123,"source":{"type":"group","groupId":"Cg1","userId":"Uu1"},
            "webhookEventId":"01HXAMPLEULID0000000000001","deliveryContext":{"isRedelivery":true},
            "replyToken":"r","message":{"id":"m2","type":"text","text":"まだ繋がらない😡",
            "quoteToken":"q","quotedMessageId":"m1"}}]}"#;
        let items = parse(body.as_bytes(), now());
        assert_eq!(items.len(), 1);
        let p = post(&items[0]);
        assert_eq!(p.id, "line:01HXAMPLEULID0000000000001");
        assert_eq!(p.platform, "line");
        assert_eq!(p.author.id, "Uu1");
        assert_eq!(p.conversation_id.as_deref(), Some("line:group:Cg1"));
        assert_eq!(p.in_reply_to.as_deref(), Some("line:message:m1"));
        assert_eq!(p.text, "まだ繋がらない😡");
        assert_eq!(
            p.created_at.map(|t| t.timestamp_millis()),
            Some(1_790_000_000_123)
        );
        assert_eq!(p.received_at, Some(now()));
        assert_eq!(p.conversation_key(), "line:group:Cg1");
    }

    #[test]
    fn one_to_one_chat_is_the_users_conversation() {
        let body = r#"{"events":[{"type":"message","timestamp":1,"webhookEventId":"E1",
            "source":{"type":"user","userId":"U9"},"message":{"id":"1","type":"text","text":"hi"}}]}"#;
        let p = post(&parse(body.as_bytes(), now())[0]).clone();
        assert_eq!(p.conversation_id.as_deref(), Some("line:user:U9"));
        assert_eq!(p.in_reply_to, None);
    }

    #[test]
    fn empty_events_is_the_connectivity_check() {
        assert!(parse(br#"{"destination":"U1","events":[]}"#, now()).is_empty());
    }

    #[test]
    fn other_events_are_skipped_not_rejected() {
        let body = r#"{"events":[
            {"type":"follow","timestamp":1,"webhookEventId":"E1","source":{"type":"user","userId":"U"}},
            {"type":"unsend","timestamp":1,"webhookEventId":"E2","source":{"type":"user","userId":"U"},"unsend":{"messageId":"1"}},
            {"type":"message","timestamp":1,"webhookEventId":"E3","source":{"type":"user","userId":"U"},
             "message":{"id":"1","type":"sticker","packageId":"1","stickerId":"2"}}]}"#;
        assert_eq!(
            parse(body.as_bytes(), now()),
            vec![
                Item::Skip(Skip::NotAPost),
                Item::Skip(Skip::Deleted),
                Item::Skip(Skip::NotText)
            ]
        );
    }

    #[test]
    fn broken_events_are_dead_letters_and_the_rest_still_posts() {
        let body = r#"{"events":[
            {"type":"message","timestamp":1,"source":{"type":"user","userId":"U"},"message":{"id":"1","type":"text","text":"no id"}},
            {"timestamp":1},
            {"type":"message","timestamp":1,"webhookEventId":"E3","source":{"type":"user","userId":"U"},"message":{"id":"1","type":"text","text":"ok"}}]}"#;
        let items = parse(body.as_bytes(), now());
        assert_eq!(
            crate::normalize::kinds(&items),
            ["missing_field", "invalid_event", "post"]
        );
        let Item::Reject(r) = &items[0] else {
            unreachable!()
        };
        assert!(r.reason.contains("webhookEventId"), "{}", r.reason);
        assert!(String::from_utf8_lossy(&r.payload).contains("no id"));
    }

    #[test]
    fn a_body_that_is_not_the_envelope_is_one_dead_letter() {
        for body in [&b"not json"[..], br#"{"events":"x"}"#, b"[]"] {
            let items = parse(body, now());
            assert_eq!(items.len(), 1);
            let Item::Reject(r) = &items[0] else {
                panic!("{items:?}")
            };
            assert_eq!(r.payload, body);
        }
    }

    #[test]
    fn oversize_text_is_a_dead_letter() {
        let text = "あ".repeat(earshot_model::MAX_TEXT_BYTES);
        let body = serde_json::json!({"events": [{"type": "message", "timestamp": 1,
            "webhookEventId": "E", "source": {"type": "user", "userId": "U"},
            "message": {"id": "1", "type": "text", "text": text}}]});
        let items = parse(body.to_string().as_bytes(), now());
        assert!(matches!(&items[0], Item::Reject(r) if r.code == "oversize"));
    }
}
