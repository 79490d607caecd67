//! The generic webhook: Earshot's own [`Post`] JSON, for in-house tools and review-site
//! relays. A body is one post (an object), many (an array), or JSON lines. Ids are used as
//! given: the sender owns them, and must keep them stable across retries.

use chrono::{DateTime, Utc};
use earshot_model::Post;
use serde_json::Value;

use super::{Item, Rejected};

/// Normalises one body; posts without a platform get `default_platform`.
pub fn parse(body: &[u8], default_platform: &str, now: DateTime<Utc>) -> Vec<Item> {
    let values: Vec<Result<Value, Rejected>> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(values)) => values.into_iter().map(Ok).collect(),
        Ok(value) => vec![Ok(value)],
        Err(_) => body
            .split(|&b| b == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .map(|line| serde_json::from_slice(line).map_err(|e| Rejected::body(&e, line)))
            .collect(),
    };
    values
        .into_iter()
        .map(|v| match v {
            Ok(value) => post(&value, default_platform, now),
            Err(rejected) => Item::Reject(rejected),
        })
        .collect()
}

fn post(value: &Value, default_platform: &str, now: DateTime<Utc>) -> Item {
    if !value.is_object() {
        return Item::Reject(Rejected::event(
            "invalid_post",
            "a post must be a JSON object",
            value,
        ));
    }
    let mut post: Post = match super::decode(value) {
        Ok(p) => p,
        Err(item) => return item,
    };
    if post.platform.is_empty() {
        post.platform = default_platform.to_string();
    }
    post.received_at.get_or_insert(now);
    super::checked(post, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::from_secs;

    fn now() -> DateTime<Utc> {
        from_secs(1_790_000_000).unwrap_or_default()
    }

    fn kinds(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Item::Post(p) => format!("post {} {}", p.id, p.platform),
                Item::Reject(r) => format!("reject {}", r.code),
                Item::Skip(s) => s.as_str().to_string(),
            })
            .collect()
    }

    #[test]
    fn object_array_and_lines() {
        let one = r#"{"id":"r1","text":"最悪のサポート","platform":"review"}"#.as_bytes();
        assert_eq!(kinds(&parse(one, "relay", now())), ["post r1 review"]);
        let many = br#"[{"id":"r1","text":"a"},{"id":"","text":"b"},3]"#;
        assert_eq!(
            kinds(&parse(many, "relay", now())),
            [
                "post r1 relay",
                "reject missing_field",
                "reject invalid_post"
            ]
        );
        let lines = b"{\"id\":\"a\",\"text\":\"x\"}\n\n{bad\n{\"id\":\"b\",\"text\":\"y\"}\n";
        assert_eq!(
            kinds(&parse(lines, "relay", now())),
            ["post a relay", "reject invalid_json", "post b relay"]
        );
        let Item::Post(p) = &parse(one, "relay", now())[0] else {
            unreachable!()
        };
        assert_eq!(p.received_at, Some(now()));
    }
}
