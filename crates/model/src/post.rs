//! The platform-neutral post.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Posts with more text than this are refused: no platform allows it, and one huge record must
/// not stall a stage.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// One social-media post.
///
/// `id` and `text` are required; everything else defaults (empty strings, zero counts,
/// `None`). Unknown fields are ignored so that newer producers do not break older readers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// The platform's id of the post, unique within the platform.
    pub id: String,
    /// Where the post came from: `x`, `facebook`, `instagram`, `line`, `review`, … (lower case).
    #[serde(default)]
    pub platform: String,
    /// A link to the post, when the platform has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Who wrote it.
    #[serde(default)]
    pub author: Author,
    /// The thread the post belongs to (the root post's id on most platforms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The post this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// A repost (retweet, share) of someone else's post.
    #[serde(default)]
    pub is_repost: bool,
    /// The text as the author wrote it.
    pub text: String,
    /// The language the platform reported (BCP 47, e.g. `ja`, `en`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// When the author posted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// Likes, reposts and replies when the post was collected.
    #[serde(default)]
    pub engagement: Engagement,
    /// When Earshot received it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<Utc>>,
}

/// The author of a post.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Author {
    /// The platform's stable user id.
    pub id: String,
    /// The @handle, without the `@`.
    pub handle: String,
    /// The display name.
    pub name: String,
    /// Follower count when the post was collected.
    pub followers: u64,
    /// Whether the platform marks the account as verified.
    pub verified: bool,
}

/// Engagement counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Engagement {
    pub likes: u64,
    pub reposts: u64,
    pub replies: u64,
}

impl Post {
    /// Decodes one post from JSON and checks what the schema cannot: `id` and `text` are
    /// not empty and the text is not oversize.
    pub fn from_json(bytes: &[u8]) -> Result<Post, ModelError> {
        let post: Post = serde_json::from_slice(bytes)?;
        post.validate()?;
        Ok(post)
    }

    /// Checks the invariants every stage relies on.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.id.is_empty() {
            return Err(ModelError::EmptyField("id"));
        }
        if self.text.len() > MAX_TEXT_BYTES {
            return Err(ModelError::Oversize(self.text.len()));
        }
        Ok(())
    }

    /// The key that keeps one conversation in one partition: the conversation id, else the
    /// author id, else the post id.
    pub fn conversation_key(&self) -> &str {
        match (&self.conversation_id, self.author.id.as_str()) {
            (Some(c), _) if !c.is_empty() => c,
            (_, a) if !a.is_empty() => a,
            _ => &self.id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_id_and_text_are_required() {
        let post = Post::from_json(br#"{"id":"1","text":"hello"}"#).unwrap();
        assert_eq!(post.text, "hello");
        assert_eq!(post.platform, "");
        assert!(post.created_at.is_none());
        assert!(Post::from_json(br#"{"id":"1"}"#).is_err());
        assert!(Post::from_json(br#"{"text":"x"}"#).is_err());
    }

    #[test]
    fn empty_id_is_refused_with_a_code() {
        let err = Post::from_json(br#"{"id":"","text":"x"}"#).unwrap_err();
        assert_eq!(err.code(), "missing_field");
        let err = Post::from_json(b"{not json").unwrap_err();
        assert_eq!(err.code(), "invalid_json");
        let err = Post::from_json(br#"{"id":1,"text":"x"}"#).unwrap_err();
        assert_eq!(err.code(), "invalid_post");
    }

    #[test]
    fn oversize_text_is_refused() {
        let text = "a".repeat(MAX_TEXT_BYTES + 1);
        let json = serde_json::json!({"id": "1", "text": text}).to_string();
        assert_eq!(
            Post::from_json(json.as_bytes()).unwrap_err().code(),
            "oversize"
        );
    }

    #[test]
    fn full_post_round_trips() {
        let json = r#"{"id":"9","platform":"x","url":"https://x.com/a/status/9",
            "author":{"id":"u1","handle":"a","name":"A","followers":1200,"verified":true},
            "conversation_id":"9","in_reply_to":"8","is_repost":false,"text":"届かない",
            "lang":"ja","created_at":"2026-11-20T09:00:00Z",
            "engagement":{"likes":3,"reposts":1,"replies":0},"received_at":"2026-11-20T09:00:02Z"}"#;
        let post = Post::from_json(json.as_bytes()).unwrap();
        let again: Post = serde_json::from_str(&serde_json::to_string(&post).unwrap()).unwrap();
        assert_eq!(post, again);
        assert_eq!(post.conversation_key(), "9");
    }

    #[test]
    fn conversation_key_falls_back_to_author_then_post() {
        let mut post = Post {
            id: "p".into(),
            text: "t".into(),
            ..Post::default()
        };
        assert_eq!(post.conversation_key(), "p");
        post.author.id = "u".into();
        assert_eq!(post.conversation_key(), "u");
        post.conversation_id = Some("c".into());
        assert_eq!(post.conversation_key(), "c");
    }
}
