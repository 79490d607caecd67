//! `earshot train RECIPE --out FILE`: a model from labelled files, reproducibly.
//!
//! Reads the recipe (see `earshot_analyze::learned::recipe`) and every file it names
//! (relative to the recipe), trains, writes the model file and prints its data card: each
//! source's rows, what was held out, and the validation metrics.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use earshot_analyze::learned::{self, recipe::Recipe, Model};

use crate::settings::{render_problems, ModelChoice, Settings};

pub fn run(config: Option<&Path>, recipe_path: &Path, out: &Path) -> Result<ExitCode> {
    let started = Instant::now();
    let name = recipe_path.display().to_string();
    let text = std::fs::read_to_string(recipe_path).with_context(|| format!("reading {name}"))?;
    let recipe = Recipe::parse(&name, &text).map_err(|p| anyhow::anyhow!(render_problems(&p)))?;
    let base = recipe_path.parent().unwrap_or(Path::new(""));
    let read = |file: &str| {
        let path = base.join(file);
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let (examples, sources) = recipe
        .examples(read)
        .map_err(|p| anyhow::anyhow!(render_problems(&p)))?;
    // The lexicon features come from the configuration's lexicon (the built-in one by
    // default), so a model is trained with the lexicon it will run with.
    let mut settings = Settings::load(config)?;
    settings.analyze.model = ModelChoice::None;
    let analyzer = settings.analyzer()?;
    crate::output::note(format_args!(
        "earshot train: {} examples from {} sources read in {:.1} s; training",
        examples.len(),
        sources.len(),
        started.elapsed().as_secs_f64()
    ))?;
    let model = learned::train::train(
        &analyzer,
        &recipe.model.name,
        sources,
        &examples,
        &recipe.settings(),
    )
    .map_err(|e| anyhow::anyhow!("training failed: {e}"))?;
    let bytes = learned::to_bytes(&model);
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    let mut stdout = crate::output::Stdout::new();
    stdout.write(&data_card_summary(&model))?;
    stdout.line(format_args!(
        "model {} written to {} ({:.1} MB) in {:.1} s",
        model.meta().name,
        out.display(),
        bytes.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    ))?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The data card as a few readable lines.
pub fn data_card_summary(model: &Model) -> String {
    use std::fmt::Write;
    let card = &model.meta().data_card;
    let mut out = String::new();
    let _ = writeln!(out, "model      {}", model.meta().name);
    let _ = writeln!(
        out,
        "training   {} examples, {} epochs, seed {}, l1 {}, l2 {}",
        card.training.examples,
        card.training.settings.epochs,
        card.training.settings.seed,
        card.training.settings.l1,
        card.training.settings.l2
    );
    let _ = writeln!(out, "thresholds {:?}", model.meta().thresholds);
    let _ = writeln!(out, "sources");
    for s in &card.sources {
        let kind = if s.measure_only {
            " (measure only)"
        } else if s.team_written {
            " (team-written)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {}{kind}: {} rows, {} trained, {} held out, weight {}; labels {}; licence: {}",
            s.name,
            s.rows,
            s.trained,
            s.held_out,
            s.weight,
            s.labels.join(","),
            s.licence
        );
    }
    let _ = writeln!(out, "validation (held-out rows)");
    for v in &card.validation {
        let metrics: Vec<String> = v
            .metrics
            .iter()
            .map(|(k, x)| format!("{k} {x:.3}"))
            .collect();
        let _ = writeln!(
            out,
            "  {} ({} rows): {}",
            v.source,
            v.rows,
            metrics.join(", ")
        );
    }
    out
}
