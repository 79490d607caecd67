//! `earshot ingest serve`: the webhook server (LINE, Meta, X, generic) on `[ingest] listen`,
//! with `/metrics`, `/livez` and `/readyz` on the admin port like the other stages. Run as
//! many replicas as the traffic needs behind a load balancer: they share nothing but Kafka.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use earshot_ingest::webhook::{self, Webhooks};
use earshot_ingest::{IngestMetrics, KafkaSink};
use earshot_kafka::{Health, InputKind, Shutdown};
use prometheus::Registry;
use tracing::{info, warn};

use crate::daemon::{init_logging, serve_admin, watch_signals};
use crate::settings::Settings;

pub fn run(config: Option<&Path>) -> Result<ExitCode> {
    let settings = Settings::load(config)?;
    init_logging(&settings.log);
    let hooks = Webhooks::from_settings(&settings.ingest, |p| settings.resolve(p))
        .map_err(|problems| problems_error(&problems))?;
    let sources: Vec<&str> = hooks.sources().iter().map(|s| s.as_str()).collect();
    if sources.is_empty() {
        bail!("no webhook source configured: add [ingest.line], [ingest.meta], [ingest.x] or [ingest.generic] (see docs/sources.md)");
    }
    let process = IngestProcess::start(&settings, InputKind::Listener)?;
    let sink = process.sink.clone();
    process.runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&settings.ingest.listen)
            .await
            .with_context(|| format!("binding the webhook server to {}", settings.ingest.listen))?;
        info!(address = %listener.local_addr()?, sources = ?sources, "Webhook server listening");
        process.serve_admin_and_watch_signals(&settings).await?;
        let router = webhook::router(hooks, sink.clone(), process.metrics.clone());
        webhook::serve(
            listener,
            router,
            process.health.clone(),
            process.shutdown.clone(),
        )
        .await
        .context("serving webhooks")
    })?;
    process.finish(&settings)
}

/// What `ingest serve` and `ingest stream` share: topics checked, metrics on a registry of
/// their own, the stage health for `/readyz`, shutdown, the producer and a runtime.
#[derive(Debug)]
pub struct IngestProcess {
    pub registry: Registry,
    pub metrics: IngestMetrics,
    pub health: Arc<Health>,
    pub shutdown: Shutdown,
    pub sink: Arc<KafkaSink>,
    pub runtime: tokio::runtime::Runtime,
}

impl IngestProcess {
    /// `input`: what the process waits for before it is ready (listening, the stream).
    pub fn start(settings: &Settings, input: InputKind) -> Result<IngestProcess> {
        crate::topics::ensure(settings)?;
        let registry = Registry::new();
        let metrics = IngestMetrics::register(&registry).context("registering metrics")?;
        let health = Health::for_input(input);
        let sink = KafkaSink::new(
            &settings.kafka,
            settings.ingest.recent_ids,
            metrics.clone(),
            health.clone(),
        )
        .context("creating the ingest producer")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(IngestProcess {
            registry,
            metrics,
            health,
            shutdown: Shutdown::new(),
            sink: Arc::new(sink),
            runtime,
        })
    }

    /// Starts `/metrics`, `/livez`, `/readyz` (unless `[admin] listen` is empty) and the
    /// SIGTERM/SIGINT handler. Call inside the runtime.
    pub async fn serve_admin_and_watch_signals(&self, settings: &Settings) -> Result<()> {
        if !settings.admin.listen.is_empty() {
            serve_admin(
                &settings.admin.listen,
                std::time::Duration::from_secs(settings.admin.live_stall_seconds),
                self.registry.clone(),
                vec![("ingest", self.health.clone())],
                Vec::new(),
            )
            .await?;
        }
        tokio::spawn(watch_signals(self.shutdown.clone()));
        Ok(())
    }

    /// Waits for whatever is still queued (records of requests that timed out), within the
    /// shutdown deadline: exit 0 when everything is delivered, 1 otherwise.
    pub fn finish(self, settings: &Settings) -> Result<ExitCode> {
        let deadline = Duration::from_secs(settings.kafka.shutdown_seconds);
        match self.sink.flush(deadline) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => {
                warn!(error = %e, "Records still queued at exit; their senders were told to retry");
                Ok(ExitCode::from(1))
            }
        }
    }
}

pub fn problems_error(problems: &[String]) -> anyhow::Error {
    let mut out = format!("{} problem(s) in the configuration:", problems.len());
    for p in problems {
        out.push_str("\n  ");
        out.push_str(p);
    }
    anyhow::anyhow!(out)
}
