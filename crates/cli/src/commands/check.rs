//! `earshot check`: validate the configuration and every file it names, listing all
//! problems with file:line:column, and exit non-zero if there is any.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::config_set::{ConfigSet, Need};
use crate::output;
use crate::settings::{render_warnings, Settings};

pub fn run(config: Option<&Path>) -> Result<ExitCode> {
    // Problems of the main configuration end here with status 2, as in every command;
    // those of the files it names are listed below, all of them, with status 1.
    let settings = Settings::load(config)?;
    // Every file is read and checked before anything is reported, so one run lists all.
    let set = match ConfigSet::load(&settings, Need::Everything) {
        Ok(set) => set,
        Err(problems) => {
            output::note(format_args!("{problems}"))?;
            return Ok(ExitCode::from(1));
        }
    };
    if !set.warnings.is_empty() {
        output::note(format_args!("{}", render_warnings(&set.warnings)))?;
    }
    let route = if settings.route.files.is_empty() {
        String::new()
    } else {
        format!(
            "; route configuration from {} file(s)",
            settings.route.files.len()
        )
    };
    let stats = set.analyzer.stats();
    output::print(format_args!(
        "ok: {} watchlist(s) with {} term(s), {} lexicon entries, {} patterns in one automaton ({} KiB); {}{}; version {}",
        stats.watchlists,
        stats.watch_terms,
        stats.lexicon_entries,
        stats.patterns,
        stats.automaton_bytes / 1024,
        set.model,
        route,
        set.version
    ))?;
    Ok(ExitCode::SUCCESS)
}
