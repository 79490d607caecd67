//! `earshot`: the one binary. Each subcommand lives in `commands/`; configuration loading in
//! `settings.rs`.

// Scoring and routing allocate many small strings per post (explanations, ticket fields);
// mimalloc serves those far faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod commands;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Earshot finds customers' complaints, questions and praise in social-media posts and turns
/// them into tickets.
#[derive(Debug, Parser)]
#[command(name = "earshot", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Score posts (JSON lines from INPUT or stdin): one JSON line out per post, with its analysis.
    Score {
        /// Configuration file (TOML): watchlists and lexicon files.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Posts as JSON lines; stdin when absent or `-`.
        input: Option<PathBuf>,
    },
    /// Explain how one text is scored: every hit, its span and what it contributed.
    Explain {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print the analysis as JSON instead of a readable report.
        #[arg(long)]
        json: bool,
        /// The text to explain.
        text: String,
    },
    /// Measure the scorer on labelled TSV files (VADER snippets, TweetEval, chABSA, our
    /// customer-care sets) and print accuracy, correlation and intent metrics.
    Eval {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Labelled data: `id<TAB>mean_rating<TAB>text`, `label<TAB>text` or
        /// `sentiment<TAB>intents<TAB>text`, with a header line.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Analyze and route posts offline (JSON lines from INPUT or stdin), each post's
    /// `created_at` driving the clock: one JSON line per ticket, incident or unrouted post,
    /// and a summary on stderr. Try new rules on past data before switching them on.
    Triage {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Posts as JSON lines; stdin when absent or `-`.
        input: Option<PathBuf>,
    },
    /// Check a configuration and the files it names; list every problem with file:line.
    Check {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Score { config, input } => {
            commands::score::run(config.as_deref(), input.as_deref())
        }
        Command::Explain { config, json, text } => {
            commands::explain::run(config.as_deref(), json, &text)
        }
        Command::Eval { config, files } => commands::eval::run(config.as_deref(), &files),
        Command::Triage { config, input } => {
            commands::triage::run(config.as_deref(), input.as_deref())
        }
        Command::Check { config } => commands::check::run(config.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("earshot: {error:#}");
            ExitCode::from(2)
        }
    }
}
