//! `earshot analyze`, `earshot route`, `earshot process`, `earshot run`: the pipeline stages
//! as a daemon. Each stage is a consumer group; run more replicas of the same command to
//! scale it. `process` is analyze → route fused in one consumer of the raw topic; `run` is
//! the pipeline in one process, fused or split as `[pipeline] shape` says.

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
    init_logging, serve_admin, spawn_analyze, spawn_pipeline, spawn_route, watch_hangups,
    watch_signals, RunningStage,
};
use crate::reload::watch::Watching;
use crate::reload::{ReloadMetrics, Reloader};
use crate::settings::{render_warnings, Settings, Shape};

/// Which stages this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stages {
    /// `earshot analyze`.
    Analyze,
    /// `earshot route`.
    Route,
    /// `earshot process`: the fused stage.
    Process,
    /// `earshot run`: analyze and route in the shape `[pipeline] shape` says.
    Run,
}

pub fn run(config: Option<&Path>, stages: Stages) -> Result<ExitCode> {
    let settings = Settings::load(config)?;
    init_logging(&settings.log);
    let need = if stages == Stages::Analyze {
        Need::Analyzer
    } else {
        Need::Router
    };
    let set = ConfigSet::load(&settings, need)?;
    if !set.warnings.is_empty() {
        crate::output::note(format_args!("{}", render_warnings(&set.warnings)))?;
    }
    let router = set.route.as_ref().map(|config| Router::new(config.clone()));
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
    let subscribe = || Some(reloader.subscribe());
    let running: Vec<RunningStage> = match (stages, router) {
        (Stages::Analyze, _) => vec![spawn_analyze(
            &settings.kafka,
            settings.limits,
            settings.analysis(analyzer),
            &metrics,
            &shutdown,
            subscribe(),
        )],
        (Stages::Route, Some(router)) => vec![spawn_route(
            &settings.kafka,
            settings.limits,
            router,
            settings.route.clock,
            &metrics,
            &shutdown,
            subscribe(),
        )],
        (Stages::Process | Stages::Run, Some(router)) => {
            let mut shape = settings.pipeline;
            if stages == Stages::Process {
                shape.shape = Shape::Fused;
            }
            spawn_pipeline(
                &settings.kafka,
                settings.limits,
                settings.analysis(analyzer),
                router,
                shape,
                settings.route.clock,
                &metrics,
                &shutdown,
                &subscribe,
            )
        }
        (_, None) => anyhow::bail!("routing needs a route configuration ([route] files)"),
    };
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
