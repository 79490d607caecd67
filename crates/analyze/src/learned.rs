//! The learned model: a linear model over hashed word and character n-grams and the lexicon
//! pass's own findings, which decides sentiment, intents and risk flags — and says why.
//!
//! * [`features`] turns a post (its normalised text and what the lexicon found) into a
//!   sparse feature vector;
//! * [`Model`] holds the weights, scores the vector and explains a decision by its largest
//!   terms;
//! * [`format`] reads and writes the versioned model file;
//! * [`train`] and [`recipe`] make a model from labelled files (`earshot train`).
//!
//! The shipped model ([`Model::builtin`]) is trained from the recipe in
//! `crates/analyze/model/` and compiled into the binary; `[analyze] model = "…"` points at a
//! team's own.
//!
//! ```
//! use earshot_analyze::{Analyzer, Lexicon, Watchlists, learned::Model};
//! use earshot_model::{Flag, Intent, Post};
//!
//! let analyzer = Analyzer::new(&Lexicon::builtin(), Watchlists::empty())
//!     .unwrap()
//!     .with_model(Model::builtin().unwrap());
//! let post = |text: &str| Post { id: "1".into(), text: text.into(), ..Post::default() };
//! let a = analyzer.analyze(&post("Day 9 of 'your refund is being processed'. Still nothing."));
//! assert!(a.intents.contains(&Intent::Complaint));
//! let a = analyzer.analyze(&post("【当選】おめでとうございます！10,000円分のポイントが当たりました。受け取りはこちら https://bit.ly/xxxx"));
//! assert_eq!(a.flags, [Flag::Scam]);
//! assert!(a.model.unwrap().features.iter().any(|f| f.decision == "scam"));
//! ```

pub mod features;
pub mod format;
pub mod model;
pub mod recipe;
pub mod train;

use earshot_model::{
    Flag, FlagProbabilities, Intent, IntentProbabilities, ModelFeature, ModelOutput, Sentiment,
    SentimentProbabilities,
};
use earshot_text::Normalized;

pub use features::{Dense, Feature, FeatureConfig, Origin};
pub use format::{from_bytes, to_bytes, ModelFileError, FORMAT_VERSION};
pub use model::{DataCard, Model, ModelMeta, Output, Prediction, SourceCard};

/// The model shipped with Earshot, trained by `earshot train` from
/// `crates/analyze/model/recipe.toml`.
const BUILTIN: &[u8] = include_bytes!("../model/earshot.model");

impl Model {
    /// The model shipped with Earshot. An error only if the compiled-in file is damaged,
    /// which a test rules out.
    pub fn builtin() -> Result<Model, ModelFileError> {
        from_bytes(BUILTIN)
    }
}

/// What the model decided about one post.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    pub sentiment: Sentiment,
    pub intents: Vec<Intent>,
    pub flags: Vec<Flag>,
    pub output: ModelOutput,
}

/// Scores `features` and turns the probabilities into decisions: the most probable
/// sentiment (score = P(positive) − P(negative)), every intent and flag at or above its
/// threshold (`other` when no intent is), and for each decision its `explain` strongest
/// features, placed in the original text through `text`'s offset map.
pub(crate) fn decide(
    model: &Model,
    features: &[Feature],
    text: &Normalized,
    explain: usize,
) -> Decision {
    let p = model.predict(features);
    let label = p.sentiment_label();
    let score = (p.sentiment_score() * 1000.0).round() / 1000.0 + 0.0;
    let mut intents = Vec::new();
    let mut flags = Vec::new();
    let mut decided = vec![Output::of_sentiment(label)];
    for output in Output::BINARY {
        if p.probability(output) < model.threshold(output) {
            continue;
        }
        decided.push(output);
        if let Some(intent) = output.intent() {
            intents.push(intent);
        } else if let Some(flag) = output.flag() {
            flags.push(flag);
        }
    }
    if intents.is_empty() {
        intents.push(Intent::Other);
    }
    let mut explained = Vec::new();
    if explain > 0 {
        for output in decided {
            for share in model.explain(features, &p, output, explain) {
                let (start, end) = span(&share.feature.origin)
                    .map(|(a, b)| text.source_span(a as usize, b as usize))
                    .unzip();
                explained.push(ModelFeature {
                    decision: output.as_str().to_string(),
                    feature: describe(&share.feature.origin, text.as_str()),
                    weight: round3(share.contribution),
                    start,
                    end,
                });
            }
        }
    }
    let r = |output| round3(p.probability(output));
    Decision {
        sentiment: Sentiment { score, label },
        intents,
        flags,
        output: ModelOutput {
            name: model.meta().name.clone(),
            sentiment: SentimentProbabilities {
                negative: r(Output::Negative),
                neutral: r(Output::Neutral),
                positive: r(Output::Positive),
            },
            intents: IntentProbabilities {
                complaint: r(Output::Complaint),
                question: r(Output::Question),
                request: r(Output::Request),
                outage: r(Output::Outage),
                praise: r(Output::Praise),
            },
            flags: FlagProbabilities {
                scam: r(Output::Scam),
                spam: r(Output::Spam),
            },
            features: explained,
        },
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0 + 0.0
}

/// The span of the normalised text a feature came from, if it came from text.
fn span(origin: &Origin) -> Option<(u32, u32)> {
    match *origin {
        Origin::Word { start, end }
        | Origin::NegatedWord { start, end }
        | Origin::WordPair { start, end }
        | Origin::Token { start, end }
        | Origin::Chars { start, end, .. } => Some((start, end)),
        Origin::Lexicon { .. } | Origin::Stacked(_) => None,
    }
}

/// A feature as a person reads it: `word "refund"`, `characters "ない" at the end`,
/// `lexicon: positive words inside a complaint (sarcasm)`.
pub fn describe(origin: &Origin, normalized: &str) -> String {
    let text = |start: u32, end: u32| normalized.get(start as usize..end as usize).unwrap_or("");
    match *origin {
        Origin::Word { start, end } => format!("word \"{}\"", text(start, end)),
        Origin::NegatedWord { start, end } => {
            format!("word \"{}\" under negation", text(start, end))
        }
        Origin::WordPair { start, end } => format!("words \"{}\"", text(start, end)),
        Origin::Token { start, end } => {
            let t = text(start, end);
            if t.starts_with('@') {
                "a mention".into()
            } else if t.bytes().all(|b| b.is_ascii_digit()) {
                "a number".into()
            } else {
                "a link".into()
            }
        }
        Origin::Chars { start, end, anchor } => {
            let where_ = match anchor {
                features::Anchor::None => "",
                features::Anchor::Start => " at the start",
                features::Anchor::End => " at the end",
            };
            format!("characters \"{}\"{where_}", text(start, end))
        }
        Origin::Stacked(feature) => feature.describe().to_string(),
        Origin::Lexicon { feature, lang } => match lang {
            None => format!("lexicon: {}", feature.describe()),
            Some(crate::Lang::Ja) => format!("lexicon: {} (in Japanese)", feature.describe()),
            Some(_) => format!("lexicon: {} (in English)", feature.describe()),
        },
    }
}
