//! Reading a scored post: the post's fields and `analysis` side by side in one object.
//!
//! [`ScoredPost`] writes its post with `#[serde(flatten)]`; reading that way would buffer
//! every field into serde's intermediate tree, then read the post again from the tree, which
//! costs more than reading the post itself. Here the same fields are spelled out, with
//! [`Post`]'s defaults and time reader: the values read and the errors are the same (a test
//! compares both readers).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::{Analysis, Author, Engagement, Post, ScoredPost};

/// [`Post`]'s fields, then `analysis`. Unknown fields are ignored, as [`Post`] ignores them.
#[derive(Deserialize)]
pub(crate) struct ScoredPostFields {
    id: String,
    #[serde(default)]
    platform: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    author: Author,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    in_reply_to: Option<String>,
    #[serde(default)]
    is_repost: bool,
    text: String,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default, deserialize_with = "crate::time::deserialize_option")]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    engagement: Engagement,
    #[serde(default, deserialize_with = "crate::time::deserialize_option")]
    received_at: Option<DateTime<Utc>>,
    analysis: Analysis,
}

impl From<ScoredPostFields> for ScoredPost {
    fn from(fields: ScoredPostFields) -> ScoredPost {
        let ScoredPostFields {
            id,
            platform,
            url,
            author,
            conversation_id,
            in_reply_to,
            is_repost,
            text,
            lang,
            created_at,
            engagement,
            received_at,
            analysis,
        } = fields;
        ScoredPost {
            post: Post {
                id,
                platform,
                url,
                author,
                conversation_id,
                in_reply_to,
                is_repost,
                text,
                lang,
                created_at,
                engagement,
                received_at,
            },
            analysis,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `ScoredPost` read before: the post flattened.
    #[derive(Debug, Deserialize)]
    struct Flattened {
        #[serde(flatten)]
        post: Post,
        analysis: Analysis,
    }

    fn read_alike(json: &str) {
        let fast = serde_json::from_str::<ScoredPost>(json);
        let flattened = serde_json::from_str::<Flattened>(json);
        match (fast, flattened) {
            (Ok(fast), Ok(flat)) => {
                assert_eq!(fast.post, flat.post, "{json}");
                assert_eq!(fast.analysis, flat.analysis, "{json}");
            }
            (Err(fast), Err(flat)) => {
                // Both fail; flatten reports where the object ends, not where the bad value is.
                let words = |e: &serde_json::Error| {
                    let text = e.to_string();
                    text.split(" at line ")
                        .next()
                        .unwrap_or_default()
                        .to_string()
                };
                assert_eq!(words(&fast), words(&flat), "{json}");
            }
            (fast, flat) => panic!("{json}: {fast:?} but flattened {flat:?}"),
        }
    }

    #[test]
    fn reads_what_the_flattened_post_read() {
        let analysis = r#""analysis":{"lang":"ja","sentiment":{"score":-0.5,"label":"negative"},"intents":["complaint"],"urgency":0.25,"influence":0.1,"watch":[{"id":"w","terms":[{"term":"星空","start":0,"end":6}]}],"flags":["scam"],"model":{"name":"m","sentiment":{"negative":0.5,"neutral":0.25,"positive":0.25},"intents":{"complaint":0.9,"question":0.0,"request":0.0,"outage":0.0,"praise":0.0},"flags":{"scam":0.1,"spam":0.0}}}"#;
        let posts = [
            r#""id":"1","text":"hi""#,
            r#""id":"1","platform":"x","url":"https://x.com/a","author":{"id":"u","handle":"h","name":"名","followers":12,"verified":true},"conversation_id":"c","in_reply_to":null,"is_repost":false,"text":"繋がらない\n\"!\"","lang":"ja","created_at":"2026-11-15T15:00:26Z","engagement":{"likes":1,"reposts":2,"replies":3},"received_at":"2026-11-15T15:00:27.5+09:00""#,
            r#""id":"1","text":"hi","unknown":{"nested":[1,2]},"author":{"id":"u","extra":1}"#,
            r#""id":"1","text":"hi","created_at":null,"received_at":null,"url":null"#,
            r#""text":"no id""#,
            r#""id":"1""#,
            r#""id":"1","text":"hi","created_at":"yesterday""#,
            r#""id":"1","text":"hi","created_at":5"#,
            r#""id":"1","text":"hi","author":{"followers":-1}"#,
            r#""id":"1","text":"hi","is_repost":"yes""#,
            r#""id":1,"text":"hi""#,
        ];
        for post in posts {
            read_alike(&format!("{{{post},{analysis}}}"));
            read_alike(&format!("{{{analysis},{post}}}"));
        }
        // Without its analysis. (With `id` missing too, the flattened reader named the
        // analysis first, this one names `id`: either way the record is refused.)
        read_alike(&format!("{{{}}}", posts[1]));
        read_alike(r#"{"id":"1","text":"hi","analysis":{"lang":"en"}}"#);
    }
}
