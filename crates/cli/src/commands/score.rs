//! `earshot score`: posts in, scored posts out, one JSON line each, in input order.
//!
//! Invalid lines are reported on stderr with their line number and skipped; the exit status
//! says whether any were. Blank lines are skipped silently.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use earshot_analyze::Scratch;
use earshot_model::{Post, ScoredPost};

use crate::settings::analyzer_from;

/// Posts from a file, or from stdin when `input` is absent or `-`.
pub fn open_input(input: Option<&Path>) -> Result<Box<dyn BufRead>> {
    let stdin =
        || -> Box<dyn BufRead> { Box::new(BufReader::with_capacity(1 << 16, io::stdin().lock())) };
    Ok(match input {
        None => stdin(),
        Some(p) if p == Path::new("-") => stdin(),
        Some(p) => Box::new(BufReader::with_capacity(
            1 << 16,
            File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
    })
}

/// Calls `each` for every post of `reader`, a JSON line each: blank lines are skipped;
/// invalid ones are reported on stderr with their line number and skipped. Returns how many
/// were invalid.
pub fn for_each_post(
    reader: Box<dyn BufRead>,
    mut each: impl FnMut(Post) -> Result<()>,
) -> Result<usize> {
    let mut invalid = 0;
    for (index, line) in reader.split(b'\n').enumerate() {
        let line = line.context("reading posts")?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match Post::from_json(line) {
            Ok(post) => each(post)?,
            Err(e) => {
                invalid += 1;
                eprintln!("line {}: skipped ({}): {e}", index + 1, e.code());
            }
        }
    }
    Ok(invalid)
}

pub fn run(config: Option<&Path>, input: Option<&Path>) -> Result<ExitCode> {
    let analyzer = analyzer_from(config)?;
    let reader = open_input(input)?;
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut scratch = Scratch::new();
    let mut scored = 0usize;
    let invalid = for_each_post(reader, |post| {
        let analysis = analyzer.analyze_with(&post, &mut scratch);
        serde_json::to_writer(&mut out, &ScoredPost { post, analysis })?;
        out.write_all(b"\n")?;
        scored += 1;
        Ok(())
    })?;
    match out.flush() {
        // A closed pipe (`earshot score | head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("writing scored posts")?,
    }
    if invalid > 0 {
        eprintln!("earshot score: {scored} post(s) scored, {invalid} invalid line(s) skipped");
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
