//! `earshot ingest` (JSON lines from files or stdin → the raw topic) and `earshot replay`
//! (the same for one file, with a progress line for a person watching).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::commands::score::open_input;
use crate::daemon::init_logging;
use crate::settings::Settings;
use crate::stages::ingest::Publisher;

pub fn run(config: Option<&Path>, inputs: &[PathBuf], progress: bool) -> Result<ExitCode> {
    let settings = Settings::load(config)?;
    init_logging(&settings.log);
    crate::topics::ensure(&settings)?;
    let publisher = Publisher::new(&settings.kafka)?;
    let started = Instant::now();
    let sources: Vec<Option<&Path>> = if inputs.is_empty() {
        vec![None]
    } else {
        inputs.iter().map(|p| Some(p.as_path())).collect()
    };
    let total_lines = if progress { count_lines(inputs) } else { 0 };
    let mut seen = 0usize;
    for source in sources {
        let reader = open_input(source)?;
        for line in reader.split(b'\n') {
            let line = line.context("reading posts")?;
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            publisher.publish_line(line);
            seen += 1;
            if progress && seen.is_multiple_of(500) {
                show_progress(seen, total_lines, started);
            }
        }
    }
    publisher.flush(Duration::from_secs(settings.kafka.shutdown_seconds.max(30)))?;
    let published = publisher.stats.published.load(Ordering::Relaxed);
    let dead = publisher.stats.dead_letters.load(Ordering::Relaxed);
    if progress {
        show_progress(seen, total_lines, started);
        eprintln!();
    }
    eprintln!(
        "earshot: published {published} post(s) to {} in {:.1} s; {dead} invalid line(s) sent to {}",
        settings.kafka.topics.raw,
        started.elapsed().as_secs_f64(),
        settings.kafka.topics.dlq
    );
    Ok(ExitCode::SUCCESS)
}

fn count_lines(inputs: &[PathBuf]) -> usize {
    inputs
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .sum()
}

fn show_progress(seen: usize, total: usize, started: Instant) {
    let rate = seen as f64 / started.elapsed().as_secs_f64().max(1e-3);
    let mut err = std::io::stderr();
    let (prefix, end) = if err.is_terminal() {
        ("\r", "")
    } else {
        ("", "\n")
    };
    if total > 0 {
        let width = 30;
        let filled = (seen * width / total.max(1)).min(width);
        let _ = write!(
            err,
            "{prefix}[{}{}] {seen}/{total} posts, {rate:.0}/s{end}",
            "#".repeat(filled),
            " ".repeat(width - filled)
        );
    } else {
        let _ = write!(err, "{prefix}{seen} posts, {rate:.0}/s{end}");
    }
    let _ = err.flush();
}
