//! Earshot's analyze engine: what a post is about, how its author feels, what they want, how
//! urgent it is and how far it may reach — with an explanation of every number.
//!
//! The main types:
//!
//! * [`Lexicon`] — the built-in English and Japanese sentiment, modifier, intent and urgency
//!   entries, plus users' own files that add or override entries;
//! * [`Watchlists`] — support teams' watchlists (brands, products, model numbers) with a
//!   boolean query each, parsed from TOML with every problem reported with its line;
//! * [`Analyzer`] — both compiled into **one** Aho-Corasick automaton, so each post is scanned
//!   once; [`Analyzer::analyze`] returns an [`earshot_model::Analysis`].
//!
//! No I/O and no async here: the CLI and the Kafka stages read files and records and hand
//! their contents in.
//!
//! ```
//! use earshot_analyze::{Analyzer, Lexicon, Watchlists};
//! use earshot_model::{Intent, Post, SentimentLabel};
//!
//! let watchlists = Watchlists::parse("watchlists.toml", r#"
//!     [[watchlist]]
//!     id = "hoshizora"
//!     terms.brand = ["星空モバイル", "hoshizora mobile"]
//! "#).unwrap();
//! let analyzer = Analyzer::new(&Lexicon::builtin(), watchlists).unwrap();
//!
//! let post = Post { id: "1".into(), text: "星空モバイル、朝から圏外で電話が繋がらない…".into(), ..Post::default() };
//! let analysis = analyzer.analyze(&post);
//! assert_eq!(analysis.sentiment.label, SentimentLabel::Negative);
//! assert!(analysis.intents.contains(&Intent::Outage));
//! assert_eq!(analysis.watch[0].id, "hoshizora");
//! assert_eq!(analysis.lang, "ja");
//! ```

mod analyzer;
mod error;
pub mod eval;
pub mod explain;
pub mod learned;
mod lexicon;
mod matcher;
mod sentiment;
mod signals;
mod watchlist;

pub use analyzer::{Analyzer, AnalyzerStats, Scratch};
pub use error::{line_column, AnalyzeError, Problem};
pub use lexicon::{Entry, EntryKind, Lang, Lexicon, UrgencyReason, Variants};
pub use sentiment::SentimentParams;
pub use signals::SignalParams;
pub use watchlist::Watchlists;

use earshot_model::{Analysis, Post};

/// Whether the pipeline passes a scored post on to routing. Posts that match no watchlist
/// are not about anything the team watches and are dropped (and counted), except replies
/// within a conversation: 「まだ繋がらない」 names no product, yet continues a complaint that
/// routing may have a ticket open for.
pub fn is_relevant(post: &Post, analysis: &Analysis) -> bool {
    !analysis.watch.is_empty()
        || post.in_reply_to.as_deref().is_some_and(|r| !r.is_empty())
        || post
            .conversation_id
            .as_deref()
            .is_some_and(|c| !c.is_empty() && c != post.id)
}
