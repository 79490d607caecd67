//! What the ingest tests share: the webhook server on a loopback port (the same router and
//! serve loop `earshot ingest serve` runs), a signing platform client that retries like the
//! platforms do, stream contexts, and readers of the raw and dead-letter topics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use earshot_ingest::settings::{
    GenericSettings, IngestSettings, LineSettings, MetaSettings, XWebhookSettings,
};
use earshot_ingest::signature::{sign, Scheme};
use earshot_ingest::stream::StreamContext;
use earshot_ingest::webhook::{self, Webhooks};
use earshot_ingest::{IngestMetrics, KafkaSink, Secret};
use earshot_kafka::{Health, Shutdown};
use earshot_model::Post;
use earshot_pipeline::KafkaConfig;
use tokio::runtime::Runtime;

use crate::harness::{Collector, Fixture, Record};

pub const LINE_SECRET: &str = "line-channel-secret";
pub const META_SECRET: &str = "meta-app-secret";
pub const META_TOKEN: &str = "meta-verify-token";
pub const X_SECRET: &str = "x-consumer-secret";
pub const GENERIC_SECRET: &str = "relay-secret";

/// Every webhook source configured with the secrets above.
pub fn ingest_settings() -> IngestSettings {
    IngestSettings {
        line: Some(LineSettings {
            channel_secret: Some(Secret::new(LINE_SECRET)),
            channel_secret_file: None,
        }),
        meta: Some(MetaSettings {
            app_secret: Some(Secret::new(META_SECRET)),
            verify_token: Some(Secret::new(META_TOKEN)),
            ..MetaSettings::default()
        }),
        x: Some(XWebhookSettings {
            consumer_secret: Some(Secret::new(X_SECRET)),
            consumer_secret_file: None,
        }),
        generic: Some(GenericSettings {
            secret: Some(Secret::new(GENERIC_SECRET)),
            ..GenericSettings::default()
        }),
        ..IngestSettings::default()
    }
}

pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building a runtime")
}

/// A webhook server replica on a loopback port, with its own producer and metrics.
pub struct Server {
    pub base: String,
    pub metrics: IngestMetrics,
    pub health: Arc<Health>,
    shutdown: Shutdown,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub fn start(rt: &Runtime, kafka: &KafkaConfig, ingest: &IngestSettings) -> Server {
        let hooks = Webhooks::from_settings(ingest, |p| p.to_path_buf()).expect("webhook settings");
        let metrics = IngestMetrics::unregistered();
        let health = Health::new();
        let shutdown = Shutdown::new();
        let sink = Arc::new(
            KafkaSink::new(kafka, ingest.recent_ids, metrics.clone(), health.clone())
                .expect("creating the sink"),
        );
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binding a port");
        let addr: SocketAddr = listener.local_addr().expect("local address");
        let router = webhook::router(hooks, sink, metrics.clone());
        let handle = rt.spawn(webhook::serve(
            listener,
            router,
            health.clone(),
            shutdown.clone(),
        ));
        Server {
            base: format!("http://{addr}"),
            metrics,
            health,
            shutdown,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn requests(&self, source: &str, outcome: &str) -> u64 {
        self.metrics
            .requests
            .with_label_values(&[source, outcome])
            .get()
    }

    pub fn stop(self, rt: &Runtime) {
        self.shutdown.trigger();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), self.handle)
                .await
                .expect("the server stops")
                .expect("the server task")
                .expect("serving");
        });
    }
}

/// A platform's HTTP client: sends a request and returns the status and body.
pub struct Platform {
    client: reqwest::Client,
}

impl Platform {
    pub fn new() -> Platform {
        Platform {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
        }
    }

    pub fn post(
        &self,
        rt: &Runtime,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> (u16, String) {
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        rt.block_on(async {
            let response = request.send().await.expect("sending a webhook");
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        })
    }

    pub fn get(&self, rt: &Runtime, url: &str) -> (u16, String) {
        rt.block_on(async {
            let response = self.client.get(url).send().await.expect("sending a GET");
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        })
    }

    /// What LINE does: POST with `x-line-signature`.
    pub fn line(&self, rt: &Runtime, server: &Server, body: &[u8]) -> (u16, String) {
        let signature = sign(LINE_SECRET.as_bytes(), body, Scheme::LINE);
        self.post(
            rt,
            &server.url("/webhooks/line"),
            &[("x-line-signature", signature)],
            body,
        )
    }

    /// Posts like a platform that retries on any non-2xx: until a 2xx, at most `attempts`
    /// times, a short pause between tries. Returns every status seen.
    pub fn line_until_accepted(
        &self,
        rt: &Runtime,
        server: &Server,
        body: &[u8],
        attempts: usize,
    ) -> Vec<u16> {
        let mut statuses = Vec::new();
        for _ in 0..attempts {
            let (status, _) = self.line(rt, server, body);
            statuses.push(status);
            if (200..300).contains(&status) {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        statuses
    }
}

/// A stream context publishing through a new sink to the fixture's broker.
pub fn stream_context(kafka: &KafkaConfig) -> StreamContext {
    let metrics = IngestMetrics::unregistered();
    let health = Health::new();
    let sink = KafkaSink::new(kafka, 100_000, metrics.clone(), health.clone()).expect("sink");
    StreamContext {
        sink: Arc::new(sink),
        metrics,
        health,
        shutdown: Shutdown::new(),
        batch_events: 50,
        batch_wait: Duration::from_millis(50),
    }
}

/// A LINE webhook body with text messages `(webhookEventId, userId, text, timestamp ms)`.
pub fn line_body(messages: &[(&str, &str, &str, i64)], redelivery: bool) -> Vec<u8> {
    let events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(i, (event, user, text, ts))| {
            serde_json::json!({
                "type": "message", "mode": "active", "timestamp": ts,
                "source": {"type": "user", "userId": user},
                "webhookEventId": event,
                "deliveryContext": {"isRedelivery": redelivery},
                "replyToken": format!("reply-{i}"),
                "message": {"id": format!("m{i}"), "type": "text", "text": text, "quoteToken": "q"}
            })
        })
        .collect();
    // LINE sends UTF-8 as is (no \u escapes).
    serde_json::to_vec(&serde_json::json!({"destination": "Ubot", "events": events}))
        .expect("a LINE body")
}

/// A reader of the raw and dead-letter topics from their beginning.
pub fn reader(fx: &Fixture) -> Collector {
    let t = fx.topics();
    fx.collector(&[t.raw.clone(), t.dlq.clone()])
}

/// The posts on the raw topic.
pub fn raw_posts(fx: &Fixture, out: &Collector) -> Vec<(Record, Post)> {
    out.on(&fx.topics().raw)
        .map(|r| {
            let post = Post::from_json(&r.payload).expect("a valid post on the raw topic");
            (r.clone(), post)
        })
        .collect()
}

/// Reads until `done` holds for what was read, failing after `within` with `what`.
pub fn read_until(
    out: &mut Collector,
    within: Duration,
    what: &str,
    mut done: impl FnMut(&Collector) -> bool,
) {
    let started = Instant::now();
    loop {
        if done(out) {
            return;
        }
        assert!(
            started.elapsed() < within,
            "timed out after {within:?} waiting for {what}; {} record(s) read",
            out.records.len()
        );
        out.poll_for(Duration::from_millis(200));
    }
}

/// Waits until `condition` holds, failing after `within` with `what`.
pub fn wait_until(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
