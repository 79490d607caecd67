//! `earshot score`: posts in, scored posts out, one JSON line each, in input order.
//!
//! Invalid lines are reported on stderr with their line number and skipped; the exit status
//! says whether any were. Blank lines are skipped silently.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use earshot_analyze::Scratch;
use earshot_model::{write_scored_post, Post, PostLimits};

use crate::lines::{Line, Lines};
use crate::output::{self, Stdout};
use crate::settings::Settings;

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
/// invalid ones (not a post, or over `limits`) are reported on stderr with their line
/// number and skipped. Returns how many were invalid.
pub fn for_each_post(
    reader: Box<dyn BufRead>,
    limits: &PostLimits,
    mut each: impl FnMut(Post) -> Result<()>,
) -> Result<usize> {
    let mut invalid = 0;
    let mut lines = Lines::new(reader, limits.max_record_bytes);
    while let Some((number, line)) = lines.next_line().context("reading posts")? {
        let refused = match line {
            Line::Text(text) => match Post::from_json_with(text, limits)
                .and_then(|post| post.check_time(Utc::now(), limits).map(|()| post))
            {
                Ok(post) => {
                    each(post)?;
                    continue;
                }
                Err(e) => format!("({}): {e}", e.code()),
            },
            Line::TooLong { original, .. } => format!(
                "(oversize): the line is {} bytes, more than max_record_bytes = {}",
                original.original_bytes, limits.max_record_bytes
            ),
        };
        invalid += 1;
        output::note(format_args!("line {number}: skipped {refused}"))?;
    }
    Ok(invalid)
}

/// Scores the posts of `input`; `explain` adds each analysis's explanation (it is on too
/// when the configuration says `[analyze] explain = true`).
pub fn run(config: Option<&Path>, input: Option<&Path>, explain: bool) -> Result<ExitCode> {
    let settings = Settings::load(config)?;
    let mut analyzer = settings.analyzer()?;
    if explain {
        analyzer = analyzer.with_explanation(true);
    }
    let reader = open_input(input)?;
    let mut out = Stdout::new();
    let mut scratch = Scratch::new();
    let mut scored = 0usize;
    let invalid = for_each_post(reader, &settings.limits, |post| {
        let analysis = analyzer.analyze_with(&post, &mut scratch);
        out.line_with(|buf| write_scored_post(&post, &analysis, buf))?;
        scored += 1;
        Ok(())
    })?;
    out.flush()?;
    if invalid > 0 {
        output::note(format_args!(
            "earshot score: {scored} post(s) scored, {invalid} invalid line(s) skipped"
        ))?;
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use earshot_model::ScoredPost;

    use super::*;

    pub(crate) fn repo(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path)
    }

    /// The example posts, and every text of the project's data as a post.
    pub(crate) fn posts() -> Vec<Post> {
        let examples = std::fs::read_to_string(repo("examples/posts.jsonl")).unwrap();
        let mut posts: Vec<Post> = examples
            .lines()
            .map(|line| Post::from_json(line.as_bytes()).unwrap())
            .collect();
        for name in [
            "en_customer_care.tsv",
            "ja_customer_care.tsv",
            "probes_en.tsv",
            "probes_ja.tsv",
        ] {
            let data = std::fs::read_to_string(repo("tests/data").join(name)).unwrap();
            for (i, line) in data.lines().skip(1).enumerate() {
                posts.push(Post {
                    id: format!("{name}:{i}"),
                    text: line.rsplit('\t').next().unwrap_or_default().to_string(),
                    ..posts[i % 100].clone()
                });
            }
        }
        posts
    }

    #[test]
    fn the_fast_writer_writes_what_serde_writes_for_every_post() {
        let settings = Settings::load(Some(&repo("examples/earshot.toml"))).unwrap();
        let mut scratch = Scratch::new();
        let posts = posts();
        for explain in [false, true] {
            let analyzer = settings.analyzer().unwrap().with_explanation(explain);
            for post in &posts {
                let analysis = analyzer.analyze_with(post, &mut scratch);
                let scored = ScoredPost {
                    post: post.clone(),
                    analysis,
                };
                let mut fast = Vec::new();
                write_scored_post(&scored.post, &scored.analysis, &mut fast);
                let reference = serde_json::to_vec(&scored).unwrap();
                assert!(fast == reference, "post {} (explain: {explain})", post.id);
            }
        }
    }
}
