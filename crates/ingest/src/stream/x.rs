//! The X API v2 filtered stream: one long HTTP response, one JSON object per line, a blank
//! line as keep-alive at least every 20 s.
//!
//! At start the stream's rules are brought in line with the configured ones (only rules
//! tagged `earshot:…` are touched, so rules other tools manage survive). The client
//! reconnects when 20 s pass without a byte, on an `operational-disconnect` error object,
//! and on any network or HTTP error, with X's backoff. X keeps no cursor for this stream;
//! with `backfill_minutes` (Pro/Enterprise) a reconnect asks for the minutes it missed.

use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;
use tracing::{info, warn};

use super::framing::Lines;
use super::{read_deadline, Backoff, Batch, Failure, StreamContext, StreamError};
use crate::normalize::x::parse_stream_line;
use crate::settings::{Secret, XRule};
use crate::Source;

const SOURCE: Source = Source::XStream;
/// Tag prefix of the rules Earshot manages.
pub const RULE_TAG_PREFIX: &str = "earshot:";
/// The longest rule X accepts on the lowest paid access level.
pub const MAX_RULE_LENGTH: usize = 512;
const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

const TWEET_FIELDS: &str = "created_at,lang,conversation_id,in_reply_to_user_id,referenced_tweets,public_metrics,author_id,note_tweet";
const EXPANSIONS: &str = "author_id,referenced_tweets.id";
const USER_FIELDS: &str = "username,name,public_metrics,verified,verified_type";

/// What the client needs to know.
#[derive(Debug, Clone)]
pub struct XStreamConfig {
    /// `https://api.x.com/2/tweets/search/stream`.
    pub url: String,
    pub bearer_token: Secret,
    /// The rules to keep (tags without the prefix get it); none: leave the rules alone.
    pub rules: Vec<XRule>,
    pub backfill_minutes: u32,
    pub keepalive: Duration,
}

/// A rule as the rules endpoint lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExistingRule {
    pub id: String,
    pub value: String,
    #[serde(default)]
    pub tag: String,
}

/// Which rules to delete and which to add so that the managed rules are exactly `wanted`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulePlan {
    pub delete: Vec<String>,
    pub add: Vec<XRule>,
}

/// Plans the rule changes: managed rules (tag `earshot:…`) not wanted are deleted, wanted
/// rules not present (same value and tag) are added; other rules are left alone.
pub fn plan_rules(existing: &[ExistingRule], wanted: &[XRule]) -> RulePlan {
    let wanted: Vec<XRule> = wanted
        .iter()
        .map(|r| XRule {
            value: r.value.clone(),
            tag: if r.tag.starts_with(RULE_TAG_PREFIX) {
                r.tag.clone()
            } else {
                format!("{RULE_TAG_PREFIX}{}", r.tag)
            },
        })
        .collect();
    let delete = existing
        .iter()
        .filter(|e| e.tag.starts_with(RULE_TAG_PREFIX))
        .filter(|e| !wanted.iter().any(|w| w.value == e.value && w.tag == e.tag))
        .map(|e| e.id.clone())
        .collect();
    let add = wanted
        .into_iter()
        .filter(|w| {
            !existing
                .iter()
                .any(|e| e.value == w.value && e.tag == w.tag)
        })
        .collect();
    RulePlan { delete, add }
}

/// Rules matching any of `terms` for watchlist `id`: `("a" OR "b" …)`, split so that no rule
/// is longer than `max_len` (a term too long on its own is left out).
pub fn rules_for_terms(id: &str, terms: &[&str], max_len: usize) -> Vec<XRule> {
    let mut rules = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let render = |parts: &[String]| format!("({})", parts.join(" OR "));
    for term in terms {
        let quoted = format!("\"{}\"", term.replace('"', ""));
        if render(std::slice::from_ref(&quoted)).len() > max_len {
            continue;
        }
        current.push(quoted);
        if render(&current).len() > max_len {
            let last = current.pop().unwrap_or_default();
            rules.push(render(&current));
            current = vec![last];
        }
    }
    if !current.is_empty() {
        rules.push(render(&current));
    }
    let count = rules.len();
    rules
        .into_iter()
        .enumerate()
        .map(|(i, value)| XRule {
            value,
            tag: if count == 1 {
                format!("{RULE_TAG_PREFIX}{id}")
            } else {
                format!("{RULE_TAG_PREFIX}{id}#{}", i + 1)
            },
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
struct RulesList {
    #[serde(default)]
    data: Vec<ExistingRule>,
}

struct Client {
    http: reqwest::Client,
    config: XStreamConfig,
}

/// Syncs the rules, then streams until shutdown.
pub async fn run(config: XStreamConfig, ctx: StreamContext) -> Result<(), StreamError> {
    reqwest::Url::parse(&config.url)
        .map_err(|e| StreamError::Config(format!("x_stream url `{}`: {e}", config.url)))?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| StreamError::Config(e.to_string()))?;
    let client = Client { http, config };
    if !client.config.rules.is_empty() {
        client.sync_rules().await?;
    }
    let mut backoff = Backoff::new();
    let mut reconnecting = false;
    loop {
        ctx.beat();
        if ctx.shutdown.is_triggered() {
            return Ok(());
        }
        let failure = match client.open(reconnecting).await {
            Ok(response) => {
                ctx.connected(true);
                let (failure, got_data) = client.session(response, &ctx).await;
                if got_data {
                    backoff.reset();
                }
                failure
            }
            Err(failure) => Some(failure),
        };
        let Some((failure, reason)) = failure.map(|f| (f, f.as_str())) else {
            return Ok(());
        };
        reconnecting = true;
        let wait = backoff.next(failure);
        ctx.reconnect(SOURCE, reason, wait);
        if !ctx.pause(wait).await {
            return Ok(());
        }
    }
}

impl Client {
    fn rules_url(&self) -> String {
        format!("{}/rules", self.config.url.trim_end_matches('/'))
    }

    async fn sync_rules(&self) -> Result<(), StreamError> {
        let err = |e: String| StreamError::Rules(e);
        let response = self
            .http
            .get(self.rules_url())
            .bearer_auth(self.config.bearer_token.expose())
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        if !response.status().is_success() {
            return Err(err(format!("listing rules: HTTP {}", response.status())));
        }
        let existing: RulesList = json_or_empty(response).await.map_err(err)?;
        let plan = plan_rules(&existing.data, &self.config.rules);
        if !plan.delete.is_empty() {
            let body = serde_json::json!({ "delete": { "ids": plan.delete } });
            self.post_rules(&body).await?;
        }
        if !plan.add.is_empty() {
            let add: Vec<_> = plan
                .add
                .iter()
                .map(|r| serde_json::json!({ "value": r.value, "tag": r.tag }))
                .collect();
            self.post_rules(&serde_json::json!({ "add": add })).await?;
        }
        info!(
            deleted = plan.delete.len(),
            added = plan.add.len(),
            "Filtered stream rules in sync"
        );
        Ok(())
    }

    async fn post_rules(&self, body: &serde_json::Value) -> Result<(), StreamError> {
        let response = self
            .http
            .post(self.rules_url())
            .bearer_auth(self.config.bearer_token.expose())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| StreamError::Rules(e.to_string()))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(StreamError::Rules(format!(
                "HTTP {status}: {}",
                truncate(&text, 300)
            )));
        }
        // X reports invalid rules in a 200 answer's `errors`.
        let errors = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("errors").cloned())
            .filter(|e| e.as_array().is_some_and(|a| !a.is_empty()));
        match errors {
            Some(e) => Err(StreamError::Rules(truncate(&e.to_string(), 300))),
            None => Ok(()),
        }
    }

    async fn open(&self, reconnecting: bool) -> Result<reqwest::Response, Failure> {
        let mut url = reqwest::Url::parse(&self.config.url).map_err(|_| Failure::Http)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("tweet.fields", TWEET_FIELDS);
            q.append_pair("expansions", EXPANSIONS);
            q.append_pair("user.fields", USER_FIELDS);
            if reconnecting && self.config.backfill_minutes > 0 {
                q.append_pair(
                    "backfill_minutes",
                    &self.config.backfill_minutes.min(5).to_string(),
                );
            }
        }
        let response = self
            .http
            .get(url)
            .bearer_auth(self.config.bearer_token.expose())
            .send()
            .await
            .map_err(|e| {
                warn!(error = %e, "Could not connect to the filtered stream");
                Failure::Network
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(response)
        } else if status.as_u16() == 429 {
            warn!("The filtered stream answered 429 (too many connections or requests)");
            Err(Failure::RateLimited)
        } else {
            let text = response.text().await.unwrap_or_default();
            warn!(status = status.as_u16(), body = %truncate(&text, 300), "The filtered stream refused the connection");
            Err(Failure::Http)
        }
    }

    async fn session(
        &self,
        mut response: reqwest::Response,
        ctx: &StreamContext,
    ) -> (Option<Failure>, bool) {
        let mut lines = Lines::new(MAX_LINE_BYTES);
        let mut batch: Batch<()> = Batch::new();
        let mut got_data = false;
        let mut last_byte = std::time::Instant::now();
        let outcome = loop {
            ctx.beat();
            if ctx.shutdown.is_triggered() {
                break None;
            }
            let deadline = tokio::time::Instant::from_std(read_deadline(&batch, ctx));
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    last_byte = std::time::Instant::now();
                    let Ok(complete) = lines.push(&chunk) else {
                        warn!("A filtered stream line is larger than allowed; reconnecting");
                        break Some(Failure::Network);
                    };
                    let mut disconnect = false;
                    for line in complete
                        .iter()
                        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                    {
                        got_data = true;
                        let parsed = parse_stream_line(line, Utc::now());
                        for problem in &parsed.errors {
                            warn!(title = %problem.title, detail = %problem.detail, "Filtered stream error object");
                            disconnect |= problem.is_disconnect();
                        }
                        if let Some(item) = parsed.item {
                            batch.push(item, None);
                        }
                    }
                    if disconnect {
                        break Some(Failure::Network);
                    }
                }
                Ok(Ok(None)) => break Some(Failure::Network),
                Ok(Err(e)) => {
                    warn!(error = %e, "The filtered stream failed");
                    break Some(Failure::Network);
                }
                Err(_) if last_byte.elapsed() > self.config.keepalive => {
                    warn!(
                        seconds = self.config.keepalive.as_secs(),
                        "No keep-alive from the filtered stream"
                    );
                    break Some(Failure::Network);
                }
                Err(_) => {}
            }
            if batch.is_due(ctx) {
                let (items, _) = batch.take();
                if !ctx.publish(SOURCE, items).await {
                    return (None, got_data);
                }
            }
        };
        if !batch.is_empty() {
            let (items, _) = batch.take();
            if !ctx.publish(SOURCE, items).await {
                return (None, got_data);
            }
        }
        (outcome, got_data)
    }
}

/// Reads a JSON body, treating an empty one as the type's default.
async fn json_or_empty<T: serde::de::DeserializeOwned + Default>(
    response: reqwest::Response,
) -> Result<T, String> {
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(value: &str, tag: &str) -> XRule {
        XRule {
            value: value.into(),
            tag: tag.into(),
        }
    }

    fn existing(id: &str, value: &str, tag: &str) -> ExistingRule {
        ExistingRule {
            id: id.into(),
            value: value.into(),
            tag: tag.into(),
        }
    }

    #[test]
    fn only_managed_rules_change() {
        let have = [
            existing("1", "(\"a\")", "earshot:a"),
            existing("2", "(\"old\")", "earshot:b"),
            existing("3", "from:someone", "marketing"),
        ];
        let want = [rule("(\"a\")", "a"), rule("(\"new\")", "earshot:b")];
        assert_eq!(
            plan_rules(&have, &want),
            RulePlan {
                delete: vec!["2".into()],
                add: vec![rule("(\"new\")", "earshot:b")],
            }
        );
        assert_eq!(plan_rules(&have[..1], &want[..1]), RulePlan::default());
    }

    #[test]
    fn watchlist_terms_become_rules_within_the_length_limit() {
        let one = rules_for_terms("hoshizora", &["星空モバイル", "hoshizora mobile"], 512);
        assert_eq!(
            one,
            vec![rule(
                "(\"星空モバイル\" OR \"hoshizora mobile\")",
                "earshot:hoshizora"
            )]
        );
        let terms: Vec<String> = (0..40).map(|i| format!("term number {i}")).collect();
        let refs: Vec<&str> = terms.iter().map(String::as_str).collect();
        let many = rules_for_terms("w", &refs, 100);
        assert!(many.len() > 1);
        assert!(many.iter().all(|r| r.value.len() <= 100), "{many:?}");
        assert_eq!(many[0].tag, "earshot:w#1");
        let joined: String = many.iter().map(|r| r.value.clone()).collect();
        assert!(refs.iter().all(|t| joined.contains(t)));
        assert!(rules_for_terms("w", &[&"x".repeat(600)], 512).is_empty());
    }
}
