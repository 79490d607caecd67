//! The webhook server: verify, persist, then answer.
//!
//! | route | platform |
//! |---|---|
//! | `POST /webhooks/line` | LINE Messaging API (`x-line-signature`) |
//! | `GET, POST /webhooks/meta` | Meta verification handshake; Pages, Instagram, Messenger (`X-Hub-Signature-256`) |
//! | `GET, POST /webhooks/x` | X Account Activity CRC; events (`x-twitter-webhooks-signature`) |
//! | `POST /webhooks/generic` | Earshot post JSON (configurable header, `sha256=<hex>`) |
//!
//! Every POST: bodies over the limit are refused with 413 before they are read; the signature
//! is checked over the raw bytes in constant time (401, nothing published, when it is missing
//! or wrong); the payload is normalised; every post and dead letter is published and the
//! answer is 200 only once Kafka acknowledged them all, 503 otherwise (the platforms retry
//! on any non-2xx). A source without configuration answers 404.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use earshot_kafka::{Health, InputKind, Shutdown};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tracing::{debug, warn};

use crate::metrics::IngestMetrics;
use crate::normalize::{self, Item};
use crate::settings::{read_secret, IngestSettings, Secret};
use crate::signature::{self, Scheme};
use crate::sink::KafkaSink;
use crate::Source;

/// The resolved webhook configuration: secrets read, headers parsed.
#[derive(Debug, Clone)]
pub struct Webhooks {
    pub line: Option<Secret>,
    pub meta: Option<MetaHook>,
    pub x: Option<Secret>,
    pub generic: Option<GenericHook>,
    pub max_body_bytes: usize,
    pub ack_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct MetaHook {
    pub app_secret: Secret,
    pub verify_token: Secret,
}

#[derive(Debug, Clone)]
pub struct GenericHook {
    pub secret: Secret,
    pub header: HeaderName,
    pub platform: String,
}

impl Webhooks {
    /// Reads the secrets `settings` names (files relative to `resolve`), listing every problem.
    pub fn from_settings(
        settings: &IngestSettings,
        resolve: impl Fn(&Path) -> PathBuf,
    ) -> Result<Webhooks, Vec<String>> {
        let mut problems = Vec::new();
        let mut secret =
            |section: &str, name: &str, value: Option<&Secret>, file: Option<&PathBuf>| {
                let file = file.map(|f| resolve(f));
                match read_secret(name, value, file.as_deref()) {
                    Ok(Some(s)) => Some(s),
                    Ok(None) => {
                        problems.push(format!(
                            "[ingest.{section}] needs `{name}` or `{name}_file`"
                        ));
                        None
                    }
                    Err(e) => {
                        problems.push(format!("[ingest.{section}] {e}"));
                        None
                    }
                }
            };
        let line = settings.line.as_ref().and_then(|l| {
            secret(
                "line",
                "channel_secret",
                l.channel_secret.as_ref(),
                l.channel_secret_file.as_ref(),
            )
        });
        let meta = settings.meta.as_ref().and_then(|m| {
            let app_secret = secret(
                "meta",
                "app_secret",
                m.app_secret.as_ref(),
                m.app_secret_file.as_ref(),
            );
            let verify_token = secret(
                "meta",
                "verify_token",
                m.verify_token.as_ref(),
                m.verify_token_file.as_ref(),
            );
            Some(MetaHook {
                app_secret: app_secret?,
                verify_token: verify_token?,
            })
        });
        let x = settings.x.as_ref().and_then(|x| {
            secret(
                "x",
                "consumer_secret",
                x.consumer_secret.as_ref(),
                x.consumer_secret_file.as_ref(),
            )
        });
        let generic_secret = settings.generic.as_ref().and_then(|g| {
            secret(
                "generic",
                "secret",
                g.secret.as_ref(),
                g.secret_file.as_ref(),
            )
        });
        let generic = match (&settings.generic, generic_secret) {
            (Some(g), Some(secret)) => match HeaderName::try_from(g.header.as_str()) {
                Ok(header) => Some(GenericHook {
                    secret,
                    header,
                    platform: g.platform.clone(),
                }),
                Err(_) => {
                    problems.push(format!(
                        "[ingest.generic] header `{}` is not a valid HTTP header name",
                        g.header
                    ));
                    None
                }
            },
            _ => None,
        };
        if settings.max_body_bytes == 0 {
            problems.push("[ingest] max_body_bytes must be above 0".into());
        }
        if settings.ack_timeout_ms == 0 {
            problems.push("[ingest] ack_timeout_ms must be above 0".into());
        }
        if problems.is_empty() {
            Ok(Webhooks {
                line,
                meta,
                x,
                generic,
                max_body_bytes: settings.max_body_bytes,
                ack_timeout: Duration::from_millis(settings.ack_timeout_ms),
            })
        } else {
            Err(problems)
        }
    }

    /// The sources with a configuration.
    pub fn sources(&self) -> Vec<Source> {
        [
            (self.line.is_some(), Source::Line),
            (self.meta.is_some(), Source::Meta),
            (self.x.is_some(), Source::X),
            (self.generic.is_some(), Source::Generic),
        ]
        .into_iter()
        .filter_map(|(on, s)| on.then_some(s))
        .collect()
    }
}

struct AppState {
    hooks: Webhooks,
    sink: Arc<KafkaSink>,
    metrics: IngestMetrics,
}

/// The webhook routes, with the body limit applied.
pub fn router(hooks: Webhooks, sink: Arc<KafkaSink>, metrics: IngestMetrics) -> Router {
    let limit = hooks.max_body_bytes;
    let state = Arc::new(AppState {
        hooks,
        sink,
        metrics,
    });
    Router::new()
        .route("/webhooks/line", post(line))
        .route("/webhooks/meta", get(meta_handshake).post(meta))
        .route("/webhooks/x", get(x_crc).post(x))
        .route("/webhooks/generic", post(generic))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

type Body = Result<Bytes, BytesRejection>;

async fn line(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let Some(secret) = s.hooks.line.clone() else {
        return not_configured();
    };
    let check = Check {
        secret: &secret,
        header: HeaderName::from_static("x-line-signature"),
        scheme: Scheme::LINE,
    };
    s.receive(Source::Line, check, &headers, body, normalize::line::parse)
        .await
}

async fn meta(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let Some(hook) = s.hooks.meta.clone() else {
        return not_configured();
    };
    let check = Check {
        secret: &hook.app_secret,
        header: HeaderName::from_static("x-hub-signature-256"),
        scheme: Scheme::META,
    };
    s.receive(Source::Meta, check, &headers, body, normalize::meta::parse)
        .await
}

async fn x(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let Some(secret) = s.hooks.x.clone() else {
        return not_configured();
    };
    let check = Check {
        secret: &secret,
        header: HeaderName::from_static("x-twitter-webhooks-signature"),
        scheme: Scheme::X,
    };
    s.receive(
        Source::X,
        check,
        &headers,
        body,
        normalize::x::parse_activity,
    )
    .await
}

async fn generic(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let Some(hook) = s.hooks.generic.clone() else {
        return not_configured();
    };
    let check = Check {
        secret: &hook.secret,
        header: hook.header.clone(),
        scheme: Scheme::GENERIC,
    };
    let platform = hook.platform.clone();
    s.receive(Source::Generic, check, &headers, body, move |b, now| {
        normalize::generic::parse(b, &platform, now)
    })
    .await
}

#[derive(Debug, Deserialize)]
struct MetaQuery {
    #[serde(rename = "hub.mode", default)]
    mode: String,
    #[serde(rename = "hub.verify_token", default)]
    verify_token: String,
    #[serde(rename = "hub.challenge", default)]
    challenge: String,
}

/// Meta's subscription check: echo the challenge when the token is ours.
async fn meta_handshake(
    State(s): State<Arc<AppState>>,
    query: Result<Query<MetaQuery>, QueryRejection>,
) -> Response {
    let Some(hook) = &s.hooks.meta else {
        return not_configured();
    };
    let Ok(Query(q)) = query else {
        return s.outcome(
            Source::Meta,
            "bad_request",
            StatusCode::BAD_REQUEST,
            "bad query\n",
        );
    };
    let token_ok: bool = q
        .verify_token
        .as_bytes()
        .ct_eq(hook.verify_token.expose().as_bytes())
        .into();
    if q.mode == "subscribe" && token_ok && !q.challenge.is_empty() {
        s.metrics
            .requests
            .with_label_values(&[Source::Meta.as_str(), "handshake"])
            .inc();
        (StatusCode::OK, q.challenge).into_response()
    } else {
        warn!(
            source = "meta",
            "Verification request with a wrong token or mode"
        );
        s.outcome(
            Source::Meta,
            "forbidden",
            StatusCode::FORBIDDEN,
            "verification failed\n",
        )
    }
}

#[derive(Debug, Deserialize)]
struct CrcQuery {
    #[serde(default)]
    crc_token: String,
}

/// X's challenge-response check.
async fn x_crc(
    State(s): State<Arc<AppState>>,
    query: Result<Query<CrcQuery>, QueryRejection>,
) -> Response {
    let Some(secret) = &s.hooks.x else {
        return not_configured();
    };
    match query {
        Ok(Query(q)) if !q.crc_token.is_empty() => {
            s.metrics
                .requests
                .with_label_values(&[Source::X.as_str(), "handshake"])
                .inc();
            let token = signature::x_crc_response(secret.expose().as_bytes(), &q.crc_token);
            let body = serde_json::json!({ "response_token": token }).to_string();
            (StatusCode::OK, [("content-type", "application/json")], body).into_response()
        }
        _ => s.outcome(
            Source::X,
            "bad_request",
            StatusCode::BAD_REQUEST,
            "crc_token is required\n",
        ),
    }
}

/// How a source signs its requests.
struct Check<'a> {
    secret: &'a Secret,
    header: HeaderName,
    scheme: Scheme,
}

impl AppState {
    async fn receive(
        &self,
        source: Source,
        check: Check<'_>,
        headers: &HeaderMap,
        body: Body,
        normalize: impl FnOnce(&[u8], chrono::DateTime<Utc>) -> Vec<Item>,
    ) -> Response {
        let body = match body {
            Ok(b) => b,
            Err(rejection) => {
                let status = rejection.status();
                let outcome = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "too_large"
                } else {
                    "bad_request"
                };
                warn!(source = source.as_str(), %status, "Refused a webhook body");
                return self.outcome(source, outcome, status, "body refused\n");
            }
        };
        let signature = headers.get(&check.header).map(|v| v.as_bytes());
        if let Err(e) = signature::verify(
            check.secret.expose().as_bytes(),
            &body,
            signature,
            check.scheme,
        ) {
            self.metrics
                .signature_failures
                .with_label_values(&[source.as_str(), e.code()])
                .inc();
            warn!(
                source = source.as_str(),
                code = e.code(),
                "Refused a webhook request: {e}"
            );
            return self.outcome(
                source,
                "unauthorized",
                StatusCode::UNAUTHORIZED,
                "invalid signature\n",
            );
        }
        let items = normalize(&body, Utc::now());
        match self
            .sink
            .publish(source, items, self.hooks.ack_timeout)
            .await
        {
            Ok(published) => {
                debug!(source = source.as_str(), ?published, "Webhook acknowledged");
                self.outcome(source, "ok", StatusCode::OK, "ok\n")
            }
            Err(e) => {
                warn!(source = source.as_str(), code = e.code(), error = %e, "Webhook not acknowledged; answering 503 so the platform retries");
                self.outcome(
                    source,
                    "unavailable",
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not persisted, retry\n",
                )
            }
        }
    }

    fn outcome(
        &self,
        source: Source,
        outcome: &'static str,
        status: StatusCode,
        body: &'static str,
    ) -> Response {
        self.metrics
            .requests
            .with_label_values(&[source.as_str(), outcome])
            .inc();
        (status, body).into_response()
    }
}

/// Serves `router` on `listener` until `shutdown` is triggered, then lets the requests in
/// flight finish. While it listens, `health` says so (its input is up) and beats.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    health: Arc<Health>,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    health.input_up(InputKind::Listener, true);
    let stop = {
        let health = health.clone();
        async move {
            while !shutdown.is_triggered() {
                crate::beat(&health);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // Not ready from the first moment of shutdown: load balancers stop sending.
            health.stopping.store(true, Ordering::SeqCst);
        }
    };
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await;
    health.input_up(InputKind::Listener, false);
    health.stopping.store(true, Ordering::SeqCst);
    result
}

fn not_configured() -> Response {
    (StatusCode::NOT_FOUND, "this source is not configured\n").into_response()
}
