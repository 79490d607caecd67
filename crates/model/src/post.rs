//! The platform-neutral post.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Posts with more text than this are refused by default: no platform allows it, and one
/// huge record must not stall a stage.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// How large a post may be. Every stage that reads posts enforces the same limits, so that
/// what ingest accepted, analyze can score and route can turn into a ticket within Kafka's
/// message size (`[limits]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostLimits {
    /// Bytes of `text`.
    pub max_text_bytes: usize,
    /// Bytes of every other string field (ids, names, handles, url, lang).
    pub max_field_bytes: usize,
    /// Bytes of the whole JSON record (one line of a JSON-lines file).
    pub max_record_bytes: usize,
    /// How far in the future (by the reader's clock) `created_at` and `received_at` may
    /// be: a post dated 9999-12-31 would otherwise drag an event clock with it.
    pub max_future_seconds: u64,
}

impl Default for PostLimits {
    fn default() -> Self {
        PostLimits {
            max_text_bytes: MAX_TEXT_BYTES,
            max_field_bytes: 4 * 1024,
            max_record_bytes: 256 * 1024,
            max_future_seconds: 24 * 3600,
        }
    }
}

/// The UTF-8 byte order mark some editors write at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Refuses a record larger than `limits` allow.
fn check_record(size: usize, limits: &PostLimits) -> Result<(), ModelError> {
    if size > limits.max_record_bytes {
        return Err(ModelError::Oversize {
            what: "the record",
            size,
            limit: limits.max_record_bytes,
        });
    }
    Ok(())
}

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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::time::deserialize_option"
    )]
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub created_at: Option<DateTime<Utc>>,
    /// Likes, reposts and replies when the post was collected.
    #[serde(default)]
    pub engagement: Engagement,
    /// When Earshot received it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::time::deserialize_option"
    )]
    #[serde(serialize_with = "crate::time::serialize_option")]
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
    /// Decodes one post from JSON with the default [`PostLimits`].
    pub fn from_json(bytes: &[u8]) -> Result<Post, ModelError> {
        Post::from_json_with(bytes, &PostLimits::default())
    }

    /// Decodes one post from JSON and checks what the schema cannot: the record is a JSON
    /// object (not an array, which serde would read field by field), `id` is not blank,
    /// ids hold no control characters, and nothing is larger than `limits`. A leading UTF-8
    /// byte order mark is ignored.
    pub fn from_json_with(bytes: &[u8], limits: &PostLimits) -> Result<Post, ModelError> {
        match std::str::from_utf8(bytes) {
            // Checking the UTF-8 of the whole record at once is cheaper than serde_json's
            // checking string by string.
            Ok(text) => Post::from_json_str_with(text, limits),
            Err(_) => {
                check_record(bytes.len(), limits)?;
                let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
                if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
                    return Err(ModelError::NotAnObject);
                }
                // serde_json says where the bytes stop being UTF-8.
                let post: Post = serde_json::from_slice(bytes)?;
                post.validate_with(limits)?;
                Ok(post)
            }
        }
    }

    /// [`Post::from_json_with`] for a record already known to be UTF-8 (a stage that checked
    /// it to give its own reason), without checking it again.
    pub fn from_json_str_with(text: &str, limits: &PostLimits) -> Result<Post, ModelError> {
        check_record(text.len(), limits)?;
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        if text
            .trim_start_matches(|c: char| c.is_ascii_whitespace())
            .starts_with('[')
        {
            return Err(ModelError::NotAnObject);
        }
        let post: Post = serde_json::from_str(text)?;
        post.validate_with(limits)?;
        Ok(post)
    }

    /// Checks the invariants every stage relies on, with the default limits.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.validate_with(&PostLimits::default())
    }

    /// Checks the invariants every stage relies on.
    pub fn validate_with(&self, limits: &PostLimits) -> Result<(), ModelError> {
        if self.id.trim().is_empty() {
            return Err(ModelError::EmptyField("id"));
        }
        let ids = [
            ("id", Some(&self.id)),
            ("author.id", Some(&self.author.id)),
            ("conversation_id", self.conversation_id.as_ref()),
            ("in_reply_to", self.in_reply_to.as_ref()),
        ];
        for (name, value) in ids {
            if value.is_some_and(|v| v.chars().any(char::is_control)) {
                return Err(ModelError::ControlCharacter(name));
            }
        }
        if self.text.len() > limits.max_text_bytes {
            return Err(ModelError::Oversize {
                what: "text",
                size: self.text.len(),
                limit: limits.max_text_bytes,
            });
        }
        let fields = [
            ("id", Some(&self.id)),
            ("platform", Some(&self.platform)),
            ("url", self.url.as_ref()),
            ("author.id", Some(&self.author.id)),
            ("author.handle", Some(&self.author.handle)),
            ("author.name", Some(&self.author.name)),
            ("conversation_id", self.conversation_id.as_ref()),
            ("in_reply_to", self.in_reply_to.as_ref()),
            ("lang", self.lang.as_ref()),
        ];
        for (name, value) in fields {
            let size = value.map_or(0, String::len);
            if size > limits.max_field_bytes {
                return Err(ModelError::Oversize {
                    what: name,
                    size,
                    limit: limits.max_field_bytes,
                });
            }
        }
        Ok(())
    }

    /// Checks that the post's times are plausible at `now`: not before 1970, and not more
    /// than `limits.max_future_seconds` ahead (platform clocks differ a little; a post
    /// dated years ahead is a bug or an attack on the event clock).
    pub fn check_time(&self, now: DateTime<Utc>, limits: &PostLimits) -> Result<(), ModelError> {
        let latest = i64::try_from(limits.max_future_seconds)
            .ok()
            .and_then(chrono::Duration::try_seconds)
            .and_then(|ahead| now.checked_add_signed(ahead))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        for (field, time) in [
            ("created_at", self.created_at),
            ("received_at", self.received_at),
        ] {
            let Some(time) = time else { continue };
            if time > latest {
                return Err(ModelError::ImplausibleTime {
                    field,
                    time,
                    why: format!(
                        "more than {} s ahead of the clock ({})",
                        limits.max_future_seconds,
                        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                });
            }
            if time < DateTime::<Utc>::UNIX_EPOCH {
                return Err(ModelError::ImplausibleTime {
                    field,
                    time,
                    why: "before 1970".into(),
                });
            }
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
    fn arrays_blank_ids_and_control_characters_are_refused() {
        let array = r#"["p","x",null,{},null,null,false,"text",null,null,{},null]"#;
        assert!(
            serde_json::from_str::<Post>(array).is_ok(),
            "serde alone reads it"
        );
        assert_eq!(
            Post::from_json(array.as_bytes()).unwrap_err().code(),
            "invalid_post"
        );
        let code = |json: &str| Post::from_json(json.as_bytes()).map_err(|e| e.code());
        assert_eq!(code(r#"{"id":" ","text":"x"}"#), Err("missing_field"));
        assert_eq!(
            code(r#"{"id":"a\u0000b","text":"x"}"#),
            Err("invalid_field")
        );
        assert_eq!(
            code(r#"{"id":"a","text":"x","conversation_id":"c\n"}"#),
            Err("invalid_field")
        );
        assert!(code(r#"{"id":"a","text":"tab\tand\nnewline are fine in text"}"#).is_ok());
    }

    #[test]
    fn text_and_bytes_read_alike() {
        let limits = PostLimits {
            max_record_bytes: 60,
            ..PostLimits::default()
        };
        let records = [
            "{\"id\":\"1\",\"text\":\"x\"}",
            "\u{feff}{\"id\":\"1\",\"text\":\"x\"}",
            " \n[{\"id\":\"1\",\"text\":\"x\"}]",
            "\u{3000}[]",
            "{\"id\":\"1\",\"text\":\"x\",\"created_at\":\"2026-11-15T15:00:26Z\"}",
            "{\"id\":\"1\",\"text\":\"far too long for the limit of sixty bytes\"}",
            "{\"id\":\" \",\"text\":\"x\"}",
            "{\"id\":\"1\",",
            "",
        ];
        for record in records {
            let from_bytes = Post::from_json_with(record.as_bytes(), &limits);
            let from_text = Post::from_json_str_with(record, &limits);
            assert_eq!(
                format!("{from_bytes:?}"),
                format!("{from_text:?}"),
                "{record:?}"
            );
        }
        let broken = b"{\"id\":\"1\",\"text\":\"\xff\"}";
        let error = Post::from_json_with(broken, &limits)
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid unicode code point"), "{error}");
    }

    #[test]
    fn a_leading_byte_order_mark_is_ignored() {
        let post = Post::from_json("\u{feff}{\"id\":\"1\",\"text\":\"x\"}".as_bytes()).unwrap();
        assert_eq!(post.id, "1");
    }

    #[test]
    fn every_field_and_the_record_have_a_limit() {
        let limits = PostLimits {
            max_text_bytes: 10,
            max_field_bytes: 5,
            max_record_bytes: 100,
            ..PostLimits::default()
        };
        let check = |json: String| {
            Post::from_json_with(json.as_bytes(), &limits).map_err(|e| e.to_string())
        };
        assert!(check(r#"{"id":"1","text":"0123456789"}"#.into()).is_ok());
        assert_eq!(
            check(r#"{"id":"1","text":"0123456789A"}"#.into()),
            Err("text is 11 bytes, more than the limit of 10".into())
        );
        assert_eq!(
            check(r#"{"id":"1","text":"x","author":{"name":"NNNNNN"}}"#.into()),
            Err("author.name is 6 bytes, more than the limit of 5".into())
        );
        assert_eq!(
            check(format!(
                r#"{{"id":"1","text":"x","extra":"{}"}}"#,
                "e".repeat(100)
            )),
            Err("the record is 132 bytes, more than the limit of 100".into())
        );
    }

    #[test]
    fn far_future_and_ancient_times_are_refused() {
        let now: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
        let limits = PostLimits::default();
        let at = |t: &str| {
            let json = format!(r#"{{"id":"1","text":"x","created_at":"{t}"}}"#);
            Post::from_json(json.as_bytes())
                .unwrap()
                .check_time(now, &limits)
        };
        assert!(at("2026-11-30T12:00:00Z").is_ok());
        assert!(at("2026-12-01T11:59:59Z").is_ok(), "within a day ahead");
        let err = at("9999-12-31T23:59:59Z").unwrap_err();
        assert_eq!(err.code(), "implausible_time");
        assert!(
            err.to_string()
                .contains("created_at 9999-12-31T23:59:59Z is more than 86400 s ahead"),
            "{err}"
        );
        assert_eq!(
            at("1969-12-31T23:59:59Z").unwrap_err().code(),
            "implausible_time"
        );
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
