//! `earshot explain TEXT`: how one text is scored, for people tuning watchlists and lexicons.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use earshot_analyze::learned::Output;
use earshot_analyze::{explain, Scratch};
use earshot_model::Post;

use crate::output::Stdout;
use crate::settings::analyzer_from;

pub fn run(config: Option<&Path>, json: bool, why: &[String], text: &str) -> Result<ExitCode> {
    let outputs = why
        .iter()
        .map(|w| Output::parse(w).ok_or_else(|| anyhow::anyhow!("--why {w:?}: not one of negative, neutral, positive, complaint, question, request, outage, praise, scam, spam")))
        .collect::<Result<Vec<_>>>()?;
    let analyzer = analyzer_from(config)?.with_explanation(true);
    let post = Post {
        id: "explain".into(),
        text: text.to_string(),
        ..Post::default()
    };
    let mut analysis = analyzer.analyze(&post);
    let mut scratch = Scratch::new();
    if let Some(model) = analysis.model.as_mut() {
        for output in outputs {
            let decided = model.features.iter().any(|f| f.decision == output.as_str());
            if !decided {
                model
                    .features
                    .extend(analyzer.why(&post, output, 5, &mut scratch));
            }
        }
    }
    let mut out = Stdout::new();
    if json {
        out.line(format_args!("{}", serde_json::to_string_pretty(&analysis)?))?;
    } else {
        out.write(&explain::render(text, &analysis))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
