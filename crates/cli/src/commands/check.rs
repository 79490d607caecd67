//! `earshot check`: validate the configuration and every file it names, listing all
//! problems with file:line:column, and exit non-zero if there is any.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use earshot_analyze::Analyzer;

use crate::output;
use crate::settings::{render_problems, Settings};

pub fn run(config: Option<&Path>) -> Result<ExitCode> {
    // Problems of the main configuration end here with status 2, as in every command;
    // those of the files it names are listed below, all of them, with status 1.
    let settings = Settings::load(config)?;
    // Every file is read and checked before anything is reported, so one run lists all.
    let (lexicon, watchlists, mut problems) = settings.load_analyze_inputs();
    let model = settings.load_model().unwrap_or_else(|p| {
        problems.push(p);
        None
    });
    let (route_files, mut route_problems) = settings.read_route_files();
    problems.append(&mut route_problems);
    let analyzer = Analyzer::new(&lexicon, watchlists)?;
    let mut failed = !problems.is_empty();
    if failed {
        output::note(format_args!("{}", render_problems(&problems)))?;
    }
    let mut route_ok = String::new();
    if !route_files.names.is_empty() {
        let known: Vec<&str> = analyzer.watchlists().ids().collect();
        let diagnostics =
            earshot_route::RouteConfig::check(&route_files.as_config_files(), Some(&known));
        if !diagnostics.is_empty() {
            output::note(format_args!("{diagnostics}"))?;
        }
        failed |= diagnostics.has_errors();
        route_ok = format!(
            "; route configuration from {} file(s)",
            route_files.names.len()
        );
    }
    if failed {
        return Ok(ExitCode::from(1));
    }
    let stats = analyzer.stats();
    let model = match model {
        Some(m) => format!("; model {}", m.meta().name),
        None => "; no model (lexicon rules decide)".into(),
    };
    output::print(format_args!(
        "ok: {} watchlist(s) with {} term(s), {} lexicon entries, {} patterns in one automaton ({} KiB){}{}",
        stats.watchlists,
        stats.watch_terms,
        stats.lexicon_entries,
        stats.patterns,
        stats.automaton_bytes / 1024,
        model,
        route_ok
    ))?;
    Ok(ExitCode::SUCCESS)
}
