//! `earshot explain TEXT`: how one text is scored, for people tuning watchlists and lexicons.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use earshot_analyze::explain;
use earshot_model::Post;

use crate::output::Stdout;
use crate::settings::analyzer_from;

pub fn run(config: Option<&Path>, json: bool, text: &str) -> Result<ExitCode> {
    let analyzer = analyzer_from(config)?;
    let post = Post {
        id: "explain".into(),
        text: text.to_string(),
        ..Post::default()
    };
    let analysis = analyzer.analyze(&post);
    let mut out = Stdout::new();
    if json {
        out.line(format_args!("{}", serde_json::to_string_pretty(&analysis)?))?;
    } else {
        out.write(&explain::render(text, &analysis))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
