//! `earshot eval FILE...`: the scorer's metrics on labelled data, so a lexicon or watchlist
//! change can be measured before it ships.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use earshot_analyze::eval::{evaluate, Dataset};

use crate::output::Stdout;
use crate::settings::{ModelChoice, Settings};

pub fn run(config: Option<&Path>, model: Option<&str>, files: &[PathBuf]) -> Result<ExitCode> {
    let mut settings = Settings::load(config)?;
    if let Some(model) = model {
        // A path given on the command line is relative to where the command runs.
        settings.analyze.model = match ModelChoice::parse(model) {
            ModelChoice::File(path) => ModelChoice::File(std::env::current_dir()?.join(path)),
            other => other,
        };
    }
    let analyzer = settings.analyzer()?;
    let mut out = Stdout::new();
    match analyzer.model() {
        Some(m) => out.line(format_args!("model {}", m.meta().name))?,
        None => out.line(format_args!("model none (lexicon rules)"))?,
    }
    for file in files {
        let source =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let dataset =
            Dataset::parse(&source).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let report = evaluate(&analyzer, &dataset);
        out.line(format_args!("== {}", file.display()))?;
        out.write(&report.to_string())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
