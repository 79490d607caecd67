//! `earshot`: the one binary. Each subcommand lives in `commands/`; configuration loading in
//! `settings.rs`.

// Scoring and routing allocate many small strings per post (explanations, ticket fields);
// mimalloc serves those far faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use earshot::commands;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
        /// Include each analysis's explanation: lexicon hits, urgency and influence reasons,
        /// hashtags, mentions, links and the model's features (as `[analyze] explain = true`).
        #[arg(long)]
        explain: bool,
    },
    /// Explain how one text is scored: every hit, its span and what it contributed.
    Explain {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print the analysis as JSON instead of a readable report.
        #[arg(long)]
        json: bool,
        /// Also list what pushed the model toward this output, decided or not (negative,
        /// neutral, positive, complaint, question, request, outage, praise, scam, spam).
        #[arg(long)]
        why: Vec<String>,
        /// The text to explain.
        text: String,
    },
    /// Measure the scorer on labelled TSV files (VADER snippets, TweetEval, chABSA, our
    /// customer-care sets) and print accuracy, correlation and intent metrics.
    Eval {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The model to evaluate: a model file, `builtin` or `none` (the lexicon's rules);
        /// the configuration's choice when absent.
        #[arg(long)]
        model: Option<String>,
        /// Labelled data: `id<TAB>mean_rating<TAB>text`, `label<TAB>text` or
        /// `sentiment<TAB>intents<TAB>text`, with a header line.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Train a model from labelled files named in a recipe (TOML) and write it to OUT;
    /// prints the model's data card with validation metrics.
    Train {
        /// Whose lexicon the lexicon features use; the built-in lexicon when absent.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Where to write the model file.
        #[arg(long, short)]
        out: PathBuf,
        /// The recipe: sources, label mappings, trainer settings.
        recipe: PathBuf,
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
    /// Run the whole pipeline on an embedded Kafka broker with the bundled sample posts,
    /// print tickets as they appear and a summary, and exit.
    Demo {
        /// Defaults to examples/earshot.toml.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print only one JSON summary line: posts, tickets, incidents, unrouted, dlq, seconds.
        #[arg(long)]
        json: bool,
        /// Post files to replay instead of the bundled samples.
        inputs: Vec<PathBuf>,
    },
    /// Publish posts (JSON lines from files or stdin) to the raw topic; invalid lines go to
    /// the dead-letter topic. `ingest serve` and `ingest stream SOURCE` take posts from the
    /// platforms instead.
    #[command(args_conflicts_with_subcommands = true)]
    Ingest {
        #[command(subcommand)]
        live: Option<IngestCommand>,
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Posts as JSON lines (a file named like a subcommand: `./serve`); stdin when none.
        inputs: Vec<PathBuf>,
    },
    /// Publish a file of posts to the raw topic, showing progress.
    Replay {
        #[arg(long, short)]
        config: Option<PathBuf>,
        file: PathBuf,
    },
    /// Run the analyze stage: raw posts → scored posts (a consumer group; run more to scale).
    Analyze {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Run the route stage: scored posts → tickets, incidents, unrouted.
    Route {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Run the fused stage: raw posts → analyze → route → tickets, incidents, unrouted, in
    /// one consumer (no hop through the scored topic; `[pipeline] tap_scored` still writes
    /// it).
    Process {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Run the whole pipeline in one process (still through Kafka), fused or split as
    /// `[pipeline] shape` says.
    Run {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print the records of a topic as they arrive (a `^regex` subscribes to many).
    Tail {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print the raw JSON payloads.
        #[arg(long)]
        raw: bool,
        /// Start from the oldest record instead of new ones.
        #[arg(long)]
        from_beginning: bool,
        topic: String,
    },
    /// Measure throughput: `earshot bench pipeline`.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// Check a configuration and the files it names; list every problem with file:line.
    Check {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum IngestCommand {
    /// Serve the platform webhooks (LINE, Meta, X, generic HMAC): verify each request's
    /// signature, publish its posts, answer 200 once Kafka acknowledged them.
    Serve {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Follow a platform's stream (x, bluesky, mastodon), resuming from the stored cursor.
    Stream {
        #[arg(long, short)]
        config: Option<PathBuf>,
        source: commands::stream::StreamSource,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Posts/s and post→ticket latency of the pipeline (at-least-once) next to a raw
    /// pass-through and the analyze stage alone, on the same broker.
    Pipeline {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// A broker to measure on; the embedded mock cluster when absent.
        #[arg(long)]
        brokers: Option<String>,
        /// How many times to repeat the bundled posts.
        #[arg(long, default_value_t = 10)]
        copies: usize,
        /// Posts per second for the latency run.
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// Throughput runs per kind, interleaved round by round; the figures are medians.
        /// On a shared machine one run moves by a fifth or more: use 5.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=50))]
        runs: u64,
        /// Seconds one run may take before the bench gives up.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// One JSON line instead of a table.
        #[arg(long)]
        json: bool,
        /// The low-latency client profile: producers do not linger, consumers ask for a
        /// fetch answer within 10 ms (docs/operations.md).
        #[arg(long)]
        low_latency: bool,
    },
    /// Route's changelog for many open conversations: its size, and how long a restore
    /// takes in memory and (with --brokers) read from Kafka.
    State {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// A broker to measure the restore from Kafka on; in memory only when absent.
        #[arg(long)]
        brokers: Option<String>,
        /// Open conversations.
        #[arg(long, default_value_t = 1_000_000)]
        conversations: usize,
        /// Posts per conversation (the first opens its ticket, the others fold into it).
        #[arg(long, default_value_t = 3)]
        posts: usize,
        /// One JSON line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    earshot::output::install_panic_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Score {
            config,
            input,
            explain,
        } => commands::score::run(config.as_deref(), input.as_deref(), explain),
        Command::Explain {
            config,
            json,
            why,
            text,
        } => commands::explain::run(config.as_deref(), json, &why, &text),
        Command::Eval {
            config,
            model,
            files,
        } => commands::eval::run(config.as_deref(), model.as_deref(), &files),
        Command::Train {
            config,
            recipe,
            out,
        } => commands::train::run(config.as_deref(), &recipe, &out),
        Command::Triage { config, input } => {
            commands::triage::run(config.as_deref(), input.as_deref())
        }
        Command::Demo {
            config,
            json,
            inputs,
        } => commands::demo::run(config.as_deref(), &inputs, json, false),
        Command::Ingest {
            live: Some(IngestCommand::Serve { config }),
            ..
        } => commands::serve::run(config.as_deref()),
        Command::Ingest {
            live: Some(IngestCommand::Stream { config, source }),
            ..
        } => commands::stream::run(config.as_deref(), source),
        Command::Ingest {
            live: None,
            config,
            inputs,
        } => commands::ingest::run(config.as_deref(), &inputs, false),
        Command::Replay { config, file } => commands::ingest::run(config.as_deref(), &[file], true),
        Command::Analyze { config } => {
            commands::pipeline::run(config.as_deref(), commands::pipeline::Stages::Analyze)
        }
        Command::Route { config } => {
            commands::pipeline::run(config.as_deref(), commands::pipeline::Stages::Route)
        }
        Command::Process { config } => {
            commands::pipeline::run(config.as_deref(), commands::pipeline::Stages::Process)
        }
        Command::Run { config } => {
            commands::pipeline::run(config.as_deref(), commands::pipeline::Stages::Run)
        }
        Command::Tail {
            config,
            raw,
            from_beginning,
            topic,
        } => commands::tail::run(config.as_deref(), &topic, raw, from_beginning),
        Command::Bench {
            what:
                BenchCommand::Pipeline {
                    config,
                    brokers,
                    copies,
                    rate,
                    runs,
                    timeout,
                    json,
                    low_latency,
                },
        } => commands::bench::run(
            config.as_deref(),
            brokers.as_deref(),
            copies,
            rate,
            runs as usize,
            Duration::from_secs(timeout),
            json,
            low_latency,
        ),
        Command::Bench {
            what:
                BenchCommand::State {
                    config,
                    brokers,
                    conversations,
                    posts,
                    json,
                },
        } => commands::bench_state::run(
            config.as_deref(),
            brokers.as_deref(),
            conversations,
            posts,
            json,
        ),
        Command::Check { config } => commands::check::run(config.as_deref()),
    };
    earshot::output::exit(result)
}
