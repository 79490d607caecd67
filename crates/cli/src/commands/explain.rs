//! `earshot explain TEXT`: how one text is scored, for people tuning watchlists and lexicons.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use earshot_analyze::explain;
use earshot_model::Post;

use crate::settings::analyzer_from;

pub fn run(config: Option<&Path>, json: bool, text: &str) -> Result<ExitCode> {
    let analyzer = analyzer_from(config)?;
    let post = Post {
        id: "explain".into(),
        text: text.to_string(),
        ..Post::default()
    };
    let analysis = analyzer.analyze(&post);
    if json {
        println!("{}", serde_json::to_string_pretty(&analysis)?);
    } else {
        print!("{}", explain::render(text, &analysis));
    }
    Ok(ExitCode::SUCCESS)
}
