//! `earshot eval FILE...`: the scorer's metrics on labelled data, so a lexicon or watchlist
//! change can be measured before it ships.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use earshot_analyze::eval::{evaluate, Dataset};

use crate::settings::analyzer_from;

pub fn run(config: Option<&Path>, files: &[PathBuf]) -> Result<ExitCode> {
    let analyzer = analyzer_from(config)?;
    let mut out = crate::output::Stdout::new();
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
