//! `earshot check`: validate the configuration and every file it names, listing all
//! problems with file:line, and exit non-zero if there is any.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use earshot_analyze::Analyzer;

use crate::output;
use crate::settings::{render_problems, Settings};

pub fn run(config: Option<&Path>) -> Result<ExitCode> {
    let settings = Settings::load(config)?;
    let (lexicon, watchlists, problems) = settings.load_analyze_inputs();
    if !problems.is_empty() {
        output::note(format_args!("{}", render_problems(&problems)))?;
        return Ok(ExitCode::from(1));
    }
    let analyzer = Analyzer::new(&lexicon, watchlists)?;
    let (route_files, route_problems) = settings.read_route_files();
    if !route_problems.is_empty() {
        output::note(format_args!("{}", render_problems(&route_problems)))?;
        return Ok(ExitCode::from(1));
    }
    let mut route_ok = String::new();
    if !route_files.names.is_empty() {
        let known: Vec<&str> = analyzer.watchlists().ids().collect();
        let diagnostics =
            earshot_route::RouteConfig::check(&route_files.as_config_files(), Some(&known));
        if !diagnostics.is_empty() {
            output::note(format_args!("{diagnostics}"))?;
        }
        if diagnostics.has_errors() {
            return Ok(ExitCode::from(1));
        }
        route_ok = format!(
            "; route configuration from {} file(s)",
            route_files.names.len()
        );
    }
    let stats = analyzer.stats();
    output::print(format_args!(
        "ok: {} watchlist(s) with {} term(s), {} lexicon entries, {} patterns in one automaton ({} KiB){}",
        stats.watchlists,
        stats.watch_terms,
        stats.lexicon_entries,
        stats.patterns,
        stats.automaton_bytes / 1024,
        route_ok
    ))?;
    Ok(ExitCode::SUCCESS)
}
