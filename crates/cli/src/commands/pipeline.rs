//! `earshot analyze`, `earshot route`, `earshot run`: the pipeline stages as a daemon. Each
//! stage is a consumer group; run more replicas of the same command to scale it.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use earshot_kafka::Shutdown;
use earshot_pipeline::Metrics;
use prometheus::Registry;
use tracing::{error, info};

use earshot_route::Router;

use crate::config_set::{ConfigSet, Need};
use crate::daemon::{
    init_logging, serve_admin, spawn_analyze, spawn_route, watch_hangups, watch_signals,
    RunningStage,
};
use crate::reload::watch::Watching;
use crate::reload::{ReloadMetrics, Reloader};
use crate::settings::{render_warnings, Settings};

/// Which stages this process runs.
#[derive(Debug, Clone, Copy)]
pub struct Stages {
    pub analyze: bool,
    pub route: bool,
}

pub fn run(config: Option<&Path>, stages: Stages) -> Result<ExitCode> {
    let settings = Settings::load(config)?;
    init_logging(&settings.log);
    let need = if stages.route {
        Need::Router
    } else {
        Need::Analyzer
    };
    let set = ConfigSet::load(&settings, need)?;
    if !set.warnings.is_empty() {
        crate::output::note(format_args!("{}", render_warnings(&set.warnings)))?;
    }
    let router = match (&set.route, stages.route) {
        (Some(config), true) => Some(Router::new(config.clone())),
        _ => None,
    };
    crate::topics::ensure(&settings)?;
    let registry = Registry::new();
    let metrics = Metrics::register(&registry).context("registering metrics")?;
    let reloads = ReloadMetrics::register(&registry).context("registering metrics")?;
    let shutdown = Shutdown::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;

    let analyzer = set.analyzer.clone();
    let reloader = Reloader::new(config, need, set, reloads);
    let mut running: Vec<RunningStage> = Vec::new();
    if stages.analyze {
        running.push(spawn_analyze(
            &settings.kafka,
            settings.limits,
            analyzer,
            &metrics,
            &shutdown,
            Some(reloader.subscribe()),
        ));
    }
    if let Some(router) = router {
        running.push(spawn_route(
            &settings.kafka,
            settings.limits,
            router,
            settings.route.clock,
            &metrics,
            &shutdown,
            Some(reloader.subscribe()),
        ));
    }
    let healths = running.iter().map(|s| (s.name, s.health.clone())).collect();
    let versions = running
        .iter()
        .filter_map(|s| Some((s.name, s.in_force.clone()?)))
        .collect();
    if !settings.admin.listen.is_empty() {
        runtime.block_on(serve_admin(
            &settings.admin.listen,
            Duration::from_secs(settings.admin.live_stall_seconds),
            registry.clone(),
            healths,
            versions,
        ))?;
    }
    let watching = Watching::start(reloader, settings.reload, shutdown.clone());
    runtime.spawn(watch_hangups(watching.triggers()));
    runtime.spawn(watch_signals(shutdown.clone()));
    crate::output::stop_when_stderr_closes(&shutdown);
    let exit = wait(
        running,
        &shutdown,
        Duration::from_secs(settings.kafka.shutdown_seconds),
    );
    watching.join();
    exit
}

/// Waits for the stages; when one stops with an error, stops the others. Past the shutdown
/// deadline (counted from the signal) the process exits regardless, with status 1.
pub fn wait(
    running: Vec<RunningStage>,
    shutdown: &Shutdown,
    deadline: Duration,
) -> Result<ExitCode> {
    let mut shutdown_at: Option<Instant> = None;
    while !running.iter().all(RunningStage::is_finished) {
        if running.iter().any(RunningStage::is_finished) && !shutdown.is_triggered() {
            // One stage ended on its own (an error): take the others down cleanly.
            shutdown.trigger();
        }
        if shutdown.is_triggered() {
            let at = *shutdown_at.get_or_insert_with(Instant::now);
            if at.elapsed() > deadline {
                error!("Shutdown deadline passed; exiting without a clean stop");
                return Ok(ExitCode::from(1));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut failed = false;
    for stage in running {
        let name = stage.name;
        match stage.join() {
            Ok(report) => info!(
                stage = name,
                received = report.received,
                produced = report.produced,
                "Stage finished"
            ),
            Err(e) => {
                error!(stage = name, code = e.code(), error = %e, "Stage failed");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
