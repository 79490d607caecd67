//! `earshot check`: validate the configuration and every file it names, listing all
//! problems with file:line, and exit non-zero if there is any.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use earshot_analyze::Analyzer;

use crate::settings::{render_problems, Settings};

pub fn run(config: Option<&Path>) -> Result<ExitCode> {
    let settings = Settings::load(config)?;
    let (lexicon, watchlists, mut problems) = settings.load_analyze_inputs();
    let model = settings.load_model().unwrap_or_else(|p| {
        problems.push(p);
        None
    });
    if !problems.is_empty() {
        eprintln!("{}", render_problems(&problems));
        return Ok(ExitCode::from(1));
    }
    let analyzer = Analyzer::new(&lexicon, watchlists)?;
    let (route_files, route_problems) = settings.read_route_files();
    if !route_problems.is_empty() {
        eprintln!("{}", render_problems(&route_problems));
        return Ok(ExitCode::from(1));
    }
    let mut route_ok = String::new();
    if !route_files.names.is_empty() {
        let known: Vec<&str> = analyzer.watchlists().ids().collect();
        let diagnostics =
            earshot_route::RouteConfig::check(&route_files.as_config_files(), Some(&known));
        if !diagnostics.is_empty() {
            eprintln!("{diagnostics}");
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
    let model = match model {
        Some(m) => format!("; model {}", m.meta().name),
        None => "; no model (lexicon rules decide)".into(),
    };
    println!(
        "ok: {} watchlist(s) with {} term(s), {} lexicon entries, {} patterns in one automaton ({} KiB){}{}",
        stats.watchlists,
        stats.watch_terms,
        stats.lexicon_entries,
        stats.patterns,
        stats.automaton_bytes / 1024,
        model,
        route_ok
    );
    Ok(ExitCode::SUCCESS)
}
