//! Local fake platforms speaking the documented formats on loopback ports: Bluesky Jetstream
//! (WebSocket, `cursor` query), Mastodon (SSE streaming and the REST timeline with `min_id`)
//! and the X filtered stream (chunked JSON lines, keep-alives, the rules endpoint). Payloads
//! are written here, modelled on the platforms' documentation. Each fake records what the
//! client asked for, so tests can check cursors, tokens and rule changes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response as WsResponse};
use tokio_tungstenite::tungstenite::Message;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn json_response(value: &Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

// ------------------------------------------------------------------------------ Jetstream

/// A Jetstream event creating a post: `(time_us, json)`.
pub fn jetstream_post(time_us: u64, n: usize) -> (u64, String) {
    let event = json!({
        "did": format!("did:plc:user{}", n % 7),
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": format!("3l{n}"), "operation": "create", "collection": "app.bsky.feed.post",
            "rkey": format!("3k{n:05}"), "cid": format!("bafy{n}"),
            "record": {"$type": "app.bsky.feed.post", "text": format!("星空モバイル post {n}"),
                       "langs": ["ja"], "createdAt": "2026-11-20T09:00:00.000Z"}
        }
    });
    (time_us, event.to_string())
}

/// The post id Earshot gives [`jetstream_post`] `n`.
pub fn jetstream_post_id(n: usize) -> String {
    format!(
        "bsky:at://did:plc:user{}/app.bsky.feed.post/3k{n:05}",
        n % 7
    )
}

/// A fake Jetstream: serves `events` (ascending `time_us`) from the requested cursor.
pub struct FakeJetstream {
    pub url: String,
    /// The `cursor` of each connection, in order (`None`: live).
    pub cursors: Arc<Mutex<Vec<Option<u64>>>>,
    /// How many events each next connection sends before the server cuts it.
    pub cuts: Arc<Mutex<VecDeque<usize>>>,
}

impl FakeJetstream {
    pub fn start(rt: &Runtime, events: Vec<(u64, String)>, pace: Duration) -> FakeJetstream {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binding");
        let url = format!("ws://{}/subscribe", listener.local_addr().expect("address"));
        let cursors = Arc::new(Mutex::new(Vec::new()));
        let cuts = Arc::new(Mutex::new(VecDeque::new()));
        let events = Arc::new(events);
        let (c, k) = (cursors.clone(), cuts.clone());
        rt.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (cursors, cuts, events) = (c.clone(), k.clone(), events.clone());
                tokio::spawn(async move {
                    let mut cursor = None;
                    // The error type is tungstenite's, not ours to shrink.
                    #[allow(clippy::result_large_err)]
                    let callback = |request: &Request, response: WsResponse| {
                        cursor = query_param(request.uri(), "cursor").and_then(|c| c.parse().ok());
                        Ok(response)
                    };
                    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await
                    else {
                        return;
                    };
                    lock(&cursors).push(cursor);
                    let cut = lock(&cuts).pop_front();
                    let start = cursor.map_or(0, |c| events.partition_point(|(t, _)| *t < c));
                    for (sent, (_, json)) in events[start..].iter().enumerate() {
                        if cut == Some(sent) {
                            // An abrupt end: no close frame.
                            return;
                        }
                        if ws.send(Message::text(json.clone())).await.is_err() {
                            return;
                        }
                        if !pace.is_zero() {
                            tokio::time::sleep(pace).await;
                        }
                    }
                    // Caught up: stay open like the live stream, until the client leaves.
                    while let Some(Ok(_)) = ws.next().await {}
                });
            }
        });
        FakeJetstream { url, cursors, cuts }
    }
}

// ------------------------------------------------------------------------------ Mastodon

#[derive(Default)]
struct MastodonState {
    /// Statuses, oldest first.
    statuses: Vec<Value>,
    subscribers: Vec<mpsc::UnboundedSender<Bytes>>,
    /// Authorization headers seen, and the `min_id` of every timeline request.
    authorizations: Vec<String>,
    min_ids: Vec<String>,
    streams_opened: usize,
}

/// A status as Mastodon's API returns it.
pub fn mastodon_status(n: u64) -> Value {
    let id = (113_000_000_000_000_000 + n).to_string();
    json!({
        "id": id,
        "uri": format!("https://m.example/users/u{n}/statuses/{id}"),
        "url": format!("https://m.example/@u{n}/{id}"),
        "created_at": "2026-11-20T09:00:00.000Z",
        "account": {"id": format!("{}", 100 + n % 5), "username": format!("u{}", n % 5),
                    "acct": format!("u{}", n % 5), "display_name": "U", "followers_count": n,
                    "bot": false},
        "content": format!("<p>ソラペイ &amp; 星空モバイル <a href=\"https://m.example/tags/x\">#<span>x</span></a> {n}</p>"),
        "language": "ja", "in_reply_to_id": null, "replies_count": 0, "reblogs_count": 0,
        "favourites_count": 1, "reblog": null
    })
}

pub fn mastodon_post_id(n: u64) -> String {
    let id = 113_000_000_000_000_000 + n;
    format!("mastodon:https://m.example/users/u{n}/statuses/{id}")
}

/// A fake Mastodon instance: the public stream (SSE) and the public timeline (REST).
#[derive(Clone)]
pub struct FakeMastodon {
    pub base_url: String,
    state: Arc<Mutex<MastodonState>>,
}

impl FakeMastodon {
    pub fn start(rt: &Runtime) -> FakeMastodon {
        let state = Arc::new(Mutex::new(MastodonState::default()));
        let app = Router::new()
            .route("/api/v1/streaming/public", get(mastodon_stream))
            .route("/api/v1/timelines/public", get(mastodon_timeline))
            .with_state(state.clone());
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binding");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        rt.spawn(async move { axum::serve(listener, app).await });
        FakeMastodon { base_url, state }
    }

    /// A new status: on the timeline, and to every connected stream.
    pub fn publish(&self, status: Value) {
        let mut s = lock(&self.state);
        let event = format!("event: update\ndata: {status}\n\n");
        s.subscribers
            .retain(|tx| tx.send(Bytes::from(event.clone())).is_ok());
        s.statuses.push(status);
    }

    /// A new status on the timeline that no open stream delivers (it reached the instance
    /// while the client's stream was broken).
    pub fn publish_quietly(&self, status: Value) {
        lock(&self.state).statuses.push(status);
    }

    /// Ends every open stream (as a proxy or a restart of the instance would).
    pub fn cut(&self) {
        lock(&self.state).subscribers.clear();
    }

    pub fn connected(&self) -> usize {
        lock(&self.state).subscribers.len()
    }

    pub fn streams_opened(&self) -> usize {
        lock(&self.state).streams_opened
    }

    pub fn min_ids(&self) -> Vec<String> {
        lock(&self.state).min_ids.clone()
    }

    pub fn authorizations(&self) -> Vec<String> {
        lock(&self.state).authorizations.clone()
    }
}

async fn mastodon_stream(
    State(state): State<Arc<Mutex<MastodonState>>>,
    headers: HeaderMap,
) -> Response {
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    {
        let mut s = lock(&state);
        s.authorizations.push(
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
        );
        s.streams_opened += 1;
        let _ = tx.send(Bytes::from_static(b":)\n\n"));
        s.subscribers.push(tx);
    }
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<Bytes, std::io::Error>(chunk), rx))
    });
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(body),
    )
        .into_response()
}

async fn mastodon_timeline(State(state): State<Arc<Mutex<MastodonState>>>, uri: Uri) -> Response {
    let min_id: u64 = query_param(&uri, "min_id")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let limit: usize = query_param(&uri, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20);
    let mut s = lock(&state);
    s.min_ids.push(min_id.to_string());
    // The statuses right after min_id, newest first, as Mastodon answers.
    let mut page: Vec<Value> = s
        .statuses
        .iter()
        .filter(|st| {
            st["id"]
                .as_str()
                .and_then(|i| i.parse::<u64>().ok())
                .is_some_and(|i| i > min_id)
        })
        .take(limit)
        .cloned()
        .collect();
    page.reverse();
    json_response(&Value::Array(page))
}

// ------------------------------------------------------------------------------ X stream

#[derive(Default)]
struct XState {
    rules: Vec<Value>,
    rule_requests: Vec<Value>,
    /// The query of each stream connection.
    connections: Vec<String>,
    bearer: Vec<String>,
    current: Option<mpsc::UnboundedSender<Bytes>>,
    next_rule_id: u64,
}

/// A filtered-stream post line with its author in `includes.users`.
pub fn x_post_line(n: u64) -> String {
    json!({
        "data": {"id": format!("{}", 1_900_000 + n), "text": format!("星空モバイル 圏外 {n}"),
                 "author_id": format!("{}", 700 + n % 3), "conversation_id": format!("{}", 1_900_000 + n),
                 "created_at": "2026-11-20T09:00:00.000Z", "lang": "ja",
                 "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": n, "quote_count": 0}},
        "includes": {"users": [{"id": format!("{}", 700 + n % 3), "name": "N", "username": format!("user{}", n % 3),
                                "verified": false, "verified_type": "none",
                                "public_metrics": {"followers_count": 10 * n}}]},
        "matching_rules": [{"id": "1", "tag": "earshot:hoshizora"}]
    })
    .to_string()
}

pub fn x_post_id(n: u64) -> String {
    format!("x:{}", 1_900_000 + n)
}

/// A fake X API: the filtered stream and its rules endpoint.
#[derive(Clone)]
pub struct FakeX {
    pub url: String,
    state: Arc<Mutex<XState>>,
}

impl FakeX {
    /// Starts with `rules` (`(value, tag)`) already on the stream.
    pub fn start(rt: &Runtime, rules: &[(&str, &str)]) -> FakeX {
        let mut initial = XState::default();
        for (value, tag) in rules {
            initial.next_rule_id += 1;
            initial
                .rules
                .push(json!({"id": initial.next_rule_id.to_string(), "value": value, "tag": tag}));
        }
        let state = Arc::new(Mutex::new(initial));
        let app = Router::new()
            .route("/2/tweets/search/stream", get(x_stream))
            .route(
                "/2/tweets/search/stream/rules",
                get(x_rules).post(x_change_rules),
            )
            .with_state(state.clone());
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binding");
        let url = format!(
            "http://{}/2/tweets/search/stream",
            listener.local_addr().expect("address")
        );
        rt.spawn(async move { axum::serve(listener, app).await });
        FakeX { url, state }
    }

    /// Sends a line (a post, an error object, or "" for a keep-alive) on the open connection.
    pub fn send(&self, line: &str) -> bool {
        let s = lock(&self.state);
        s.current
            .as_ref()
            .is_some_and(|tx| tx.send(Bytes::from(format!("{line}\r\n"))).is_ok())
    }

    pub fn connections(&self) -> Vec<String> {
        lock(&self.state).connections.clone()
    }

    pub fn rules(&self) -> Vec<Value> {
        lock(&self.state).rules.clone()
    }

    pub fn rule_requests(&self) -> Vec<Value> {
        lock(&self.state).rule_requests.clone()
    }

    pub fn bearer(&self) -> Vec<String> {
        lock(&self.state).bearer.clone()
    }
}

async fn x_stream(
    State(state): State<Arc<Mutex<XState>>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    {
        let mut s = lock(&state);
        s.connections
            .push(uri.query().unwrap_or_default().to_string());
        s.bearer.push(
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
        );
        s.current = Some(tx);
    }
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<Bytes, std::io::Error>(chunk), rx))
    });
    (
        [("content-type", "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

async fn x_rules(State(state): State<Arc<Mutex<XState>>>) -> Response {
    let rules = lock(&state).rules.clone();
    json_response(&json!({"data": rules, "meta": {"sent": "2026-11-20T09:00:00Z"}}))
}

async fn x_change_rules(State(state): State<Arc<Mutex<XState>>>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut s = lock(&state);
    s.rule_requests.push(request.clone());
    if let Some(ids) = request["delete"]["ids"].as_array() {
        s.rules.retain(|r| !ids.contains(&r["id"]));
    }
    if let Some(add) = request["add"].as_array() {
        for rule in add {
            s.next_rule_id += 1;
            let id = s.next_rule_id.to_string();
            s.rules
                .push(json!({"id": id, "value": rule["value"], "tag": rule["tag"]}));
        }
    }
    json_response(&json!({"meta": {"summary": {}}}))
}
