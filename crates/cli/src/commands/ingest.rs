//! `earshot ingest` (JSON lines from files or stdin → the raw topic) and `earshot replay`
//! (the same for one file, with a progress line for a person watching).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::commands::score::open_input;
use crate::daemon::init_logging;
use crate::lines::{count_lines, Line, Lines};
use crate::output::{self, OutputError};
use crate::settings::Settings;
use crate::stages::ingest::Publisher;

pub fn run(config: Option<&Path>, inputs: &[PathBuf], progress: bool) -> Result<ExitCode> {
    let settings = Settings::load(config)?;
    init_logging(&settings.log);
    crate::topics::ensure(&settings)?;
    let publisher = Publisher::new(&settings.kafka, settings.limits)?;
    let started = Instant::now();
    let sources: Vec<Option<&Path>> = if inputs.is_empty() {
        vec![None]
    } else {
        inputs.iter().map(|p| Some(p.as_path())).collect()
    };
    let total_lines = if progress {
        inputs.iter().filter_map(|p| count_lines(p).ok()).sum()
    } else {
        0
    };
    let mut seen = 0usize;
    // A failed progress line must not stop publishing half-way: note it, report it at the end.
    let mut write_error: Option<OutputError> = None;
    for source in sources {
        let mut lines = Lines::new(open_input(source)?, settings.limits.max_record_bytes);
        while let Some((_, line)) = lines.next_line().context("reading posts")? {
            match line {
                Line::Text(text) => {
                    publisher.publish_line(text);
                }
                Line::TooLong { prefix, original } => {
                    publisher.publish_oversize_line(prefix, &original)
                }
            }
            seen += 1;
            if progress && seen.is_multiple_of(500) && write_error.is_none() {
                write_error = show_progress(seen, total_lines, started).err();
            }
        }
    }
    publisher.flush(Duration::from_secs(settings.kafka.shutdown_seconds.max(30)))?;
    if let Some(error) = write_error {
        return Err(error.into());
    }
    let published = publisher.stats.published.load(Ordering::Relaxed);
    let dead = publisher.stats.dead_letters.load(Ordering::Relaxed);
    if progress {
        show_progress(seen, total_lines, started)?;
        output::note(format_args!(""))?;
    }
    output::note(format_args!(
        "earshot: published {published} post(s) to {} in {:.1} s; {dead} invalid line(s) sent to {}",
        settings.kafka.topics.raw,
        started.elapsed().as_secs_f64(),
        settings.kafka.topics.dlq
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn show_progress(seen: usize, total: usize, started: Instant) -> Result<(), OutputError> {
    let rate = seen as f64 / started.elapsed().as_secs_f64().max(1e-3);
    let (prefix, end) = if std::io::stderr().is_terminal() {
        ("\r", "")
    } else {
        ("", "\n")
    };
    let line = if total > 0 {
        let width = 30;
        let filled = (seen * width / total.max(1)).min(width);
        format!(
            "{prefix}[{}{}] {seen}/{total} posts, {rate:.0}/s{end}",
            "#".repeat(filled),
            " ".repeat(width - filled)
        )
    } else {
        format!("{prefix}{seen} posts, {rate:.0}/s{end}")
    };
    output::note_raw(&line)
}
