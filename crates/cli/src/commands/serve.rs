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
use earshot_kafka::{Health, Shutdown};
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
    crate::topics::ensure(&settings)?;
    let registry = Registry::new();
    let metrics = IngestMetrics::register(&registry).context("registering metrics")?;
    let health = Health::new();
    let shutdown = Shutdown::new();
    let sink = Arc::new(
        KafkaSink::new(
            &settings.kafka,
            settings.ingest.recent_ids,
            metrics.clone(),
            health.clone(),
        )
        .context("creating the ingest producer")?,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&settings.ingest.listen)
            .await
            .with_context(|| format!("binding the webhook server to {}", settings.ingest.listen))?;
        info!(address = %listener.local_addr()?, sources = ?sources, "Webhook server listening");
        if !settings.admin.listen.is_empty() {
            serve_admin(
                &settings.admin.listen,
                registry.clone(),
                vec![("ingest", health.clone())],
            )
            .await?;
        }
        tokio::spawn(watch_signals(shutdown.clone()));
        let router = webhook::router(hooks, sink.clone(), metrics);
        webhook::serve(listener, router, health, shutdown)
            .await
            .context("serving webhooks")
    })?;
    flush(&sink, Duration::from_secs(settings.kafka.shutdown_seconds))
}

/// Waits for whatever is still queued (records of requests that timed out), within the
/// shutdown deadline.
pub fn flush(sink: &KafkaSink, deadline: Duration) -> Result<ExitCode> {
    match sink.flush(deadline) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            warn!(error = %e, "Records still queued at exit; their senders were told to retry");
            Ok(ExitCode::from(1))
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
