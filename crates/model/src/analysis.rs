//! What the analyze stage says about a post.
//!
//! Every number comes with its reasons: a support lead must be able to see why a post was
//! scored urgent or influential, so nothing here is a hidden score.

use serde::{Deserialize, Serialize};

use crate::Post;

/// The result of analysing one post.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The language the scorer used: the post's own `lang` when set, else detected from the
    /// script (`ja`, `en`, or `und` when there is nothing to go by).
    pub lang: String,
    pub sentiment: Sentiment,
    /// One or more of the intents; `["other"]` when none applies.
    pub intents: Vec<Intent>,
    /// How soon someone should answer, in [0, 1]; see `urgency_reasons`.
    pub urgency: f64,
    /// How far the post may reach, in [0, 1]; see `influence_reasons`.
    pub influence: f64,
    /// The watchlists whose query matched, each with the terms that occurred.
    pub watch: Vec<WatchMatch>,
    /// Every lexicon hit that took part in scoring, in text order. This and the lists below
    /// up to `urls` (and the model's features) are the explanation: present when it was asked
    /// for (`[analyze] explain`, `earshot score --explain`) and not empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hits: Vec<Hit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urgency_reasons: Vec<Reason>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub influence_reasons: Vec<Reason>,
    /// Hashtags in the text, without `#`, normalised (NFKC, lower case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashtags: Vec<String>,
    /// Mentioned handles, without `@`, lower case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// Links in the text, as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Set when lists that only explain the scores (hits, reasons, term occurrences,
    /// entities) were cut so that the record fits in one Kafka message; the scores are
    /// those of the whole text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub explanation_truncated: bool,
    /// Risk flags: `scam` (phishing, brand impersonation), `spam`. Empty when none.
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// The learned model's probabilities and the features behind its decisions, when a
    /// model scored the post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelOutput>,
}

impl Analysis {
    /// Keeps at most `max_items` entries of each list that only explains the scores (the
    /// model's features among them), and
    /// every watch term's first occurrence (spike detection counts terms). Returns whether
    /// anything was cut (and marks the analysis so). Deterministic, so a redelivered post
    /// is cut the same way.
    pub fn trim_explanation(&mut self, max_items: usize) -> bool {
        let mut cut = false;
        let mut keep = |list_len: usize| {
            cut |= list_len > max_items;
            list_len.min(max_items)
        };
        self.hits.truncate(keep(self.hits.len()));
        self.urgency_reasons
            .truncate(keep(self.urgency_reasons.len()));
        self.influence_reasons
            .truncate(keep(self.influence_reasons.len()));
        self.hashtags.truncate(keep(self.hashtags.len()));
        self.mentions.truncate(keep(self.mentions.len()));
        self.urls.truncate(keep(self.urls.len()));
        if let Some(model) = &mut self.model {
            model.features.truncate(keep(model.features.len()));
        }
        for watch in &mut self.watch {
            let mut seen = std::collections::HashSet::new();
            let before = watch.terms.len();
            let mut extra = 0;
            watch.terms.retain(|t| {
                if seen.insert(t.term.clone()) {
                    true
                } else {
                    extra += 1;
                    extra <= max_items
                }
            });
            cut |= watch.terms.len() < before;
        }
        self.explanation_truncated |= cut;
        cut
    }
}

/// A risk a post carries, whatever its intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    /// Phishing or fraud: fake prizes, "verify your account" links, requests for card
    /// numbers or passwords, accounts impersonating the brand or its support.
    Scam,
    /// Bulk promotion: follow-for-a-prize, get-rich schemes, affiliate links.
    Spam,
}

impl Flag {
    pub const ALL: [Flag; 2] = [Flag::Scam, Flag::Spam];

    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Scam => "scam",
            Flag::Spam => "spam",
        }
    }

    pub fn parse(name: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl std::fmt::Display for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the learned model said: a probability for every output it decides, and the
/// features that moved each reported decision most.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelOutput {
    /// The model's name and version (from its file).
    pub name: String,
    /// Probabilities of `negative`, `neutral`, `positive`.
    pub sentiment: SentimentProbabilities,
    /// Probability of each intent (`complaint`, `question`, `request`, `outage`, `praise`).
    pub intents: IntentProbabilities,
    /// Probability of each flag (`scam`, `spam`).
    pub flags: FlagProbabilities,
    /// For each decision reported (the sentiment label, each intent, each flag), the
    /// features that pushed it most, largest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<ModelFeature>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SentimentProbabilities {
    pub negative: f64,
    pub neutral: f64,
    pub positive: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct IntentProbabilities {
    pub complaint: f64,
    pub question: f64,
    pub request: f64,
    pub outage: f64,
    pub praise: f64,
}

impl IntentProbabilities {
    /// The probability of one intent (`other` has none: it is what is left).
    pub fn get(&self, intent: Intent) -> Option<f64> {
        match intent {
            Intent::Complaint => Some(self.complaint),
            Intent::Question => Some(self.question),
            Intent::Request => Some(self.request),
            Intent::Outage => Some(self.outage),
            Intent::Praise => Some(self.praise),
            Intent::Other => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct FlagProbabilities {
    pub scam: f64,
    pub spam: f64,
}

impl FlagProbabilities {
    pub fn get(&self, flag: Flag) -> f64 {
        match flag {
            Flag::Scam => self.scam,
            Flag::Spam => self.spam,
        }
    }
}

/// One feature's push toward a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFeature {
    /// The decision: a sentiment label, an intent or a flag (`negative`, `complaint`, `scam`).
    pub decision: String,
    /// What the feature is, readably: `word "refund"`, `characters "待たさ"`,
    /// `lexicon: positive words inside a complaint (sarcasm)`.
    pub feature: String,
    /// What it added to the decision's log-odds.
    pub weight: f64,
    /// Where it is in the original text, for text features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<usize>,
}

/// Sentiment in [-1, 1] and its label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    pub score: f64,
    pub label: SentimentLabel,
}

impl Sentiment {
    /// Labels a score with the usual cut-offs: ≥ 0.05 positive, ≤ −0.05 negative.
    pub fn from_score(score: f64) -> Sentiment {
        let label = if score >= 0.05 {
            SentimentLabel::Positive
        } else if score <= -0.05 {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Neutral
        };
        Sentiment { score, label }
    }
}

/// The sentiment class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SentimentLabel {
    Positive,
    #[default]
    Neutral,
    Negative,
}

impl SentimentLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            SentimentLabel::Positive => "positive",
            SentimentLabel::Neutral => "neutral",
            SentimentLabel::Negative => "negative",
        }
    }
}

/// Why someone wrote the post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    /// Unhappy with a product, a service or how they were treated.
    Complaint,
    /// Asks something.
    Question,
    /// Asks for something to be done.
    Request,
    /// Reports that a service is down: no signal, failing payments, an area problem.
    Outage,
    /// Thanks or praise.
    Praise,
    /// None of the above.
    Other,
}

impl Intent {
    pub const ALL: [Intent; 6] = [
        Intent::Complaint,
        Intent::Question,
        Intent::Request,
        Intent::Outage,
        Intent::Praise,
        Intent::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Complaint => "complaint",
            Intent::Question => "question",
            Intent::Request => "request",
            Intent::Outage => "outage",
            Intent::Praise => "praise",
            Intent::Other => "other",
        }
    }

    pub fn parse(name: &str) -> Option<Intent> {
        Intent::ALL.into_iter().find(|i| i.as_str() == name)
    }
}

impl std::fmt::Display for Intent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A watchlist whose query matched.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchMatch {
    /// The watchlist's id from the watchlist file.
    pub id: String,
    /// The terms of that watchlist that occur in the post.
    pub terms: Vec<WatchTerm>,
}

/// One occurrence of a watch term.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchTerm {
    /// The term as written in the watchlist (or the regex source).
    pub term: String,
    /// Byte offsets of the occurrence in the post's original text, `start..end`.
    pub start: usize,
    pub end: usize,
}

/// What kind of lexicon entry a hit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    /// A word or emoji with a polarity.
    Sentiment,
    /// Flips the polarity of what it governs (not, ない).
    Negation,
    /// Strengthens (very, 超) or weakens (slightly, 少し) what follows or precedes it.
    Modifier,
    /// Marks a contrast (but, けど): the clause after it weighs more.
    Contrast,
    /// A cue for an intent.
    Intent,
    /// A cue for urgency.
    Urgency,
}

/// One lexicon hit and what it contributed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The lexicon entry that matched, in its normalised form.
    pub term: String,
    pub kind: HitKind,
    /// Byte offsets in the original text.
    pub start: usize,
    pub end: usize,
    /// The entry's own value (valence on the −4..4 scale, modifier factor, intent weight).
    pub value: f64,
    /// What it finally added to the raw sentiment sum (after negation, modifiers, contrast,
    /// emphasis), or its weight for intent and urgency cues. Zero for modifiers themselves.
    pub contribution: f64,
    /// For intent cues, the intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// What changed the value on its way to the contribution, e.g. `negated by "not"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One factor behind urgency or influence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// A short stable name (`outage`, `followers`, `verified`, …).
    pub factor: String,
    /// What it added to the score.
    pub contribution: f64,
    /// A human sentence, e.g. `12,400 followers`.
    pub detail: String,
}

/// A post with its analysis: the record the analyze stage writes and `earshot score` prints.
///
/// Read through the same fields spelled out (`scored_read.rs`), not through `flatten`, which
/// buffers every field first; written faster by [`ScoredPost::write_json`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "crate::scored_read::ScoredPostFields")]
pub struct ScoredPost {
    #[serde(flatten)]
    pub post: Post,
    pub analysis: Analysis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_keeps_scores_and_each_watch_term_once() {
        let hit = Hit {
            term: "bad".into(),
            kind: HitKind::Sentiment,
            start: 0,
            end: 3,
            value: -2.5,
            contribution: -2.5,
            intent: None,
            notes: Vec::new(),
        };
        let term = |t: &str, start| WatchTerm {
            term: t.into(),
            start,
            end: start + 1,
        };
        let mut analysis = Analysis {
            sentiment: Sentiment::from_score(-0.5),
            hits: vec![hit; 10],
            watch: vec![WatchMatch {
                id: "w".into(),
                terms: vec![term("a", 0), term("a", 2), term("a", 4), term("b", 6)],
            }],
            ..Analysis::default()
        };
        assert!(!analysis.clone().trim_explanation(10));
        assert!(analysis.trim_explanation(1));
        assert_eq!(analysis.hits.len(), 1);
        let kept: Vec<_> = analysis.watch[0].terms.iter().map(|t| t.start).collect();
        assert_eq!(kept, [0, 2, 6]);
        assert_eq!(analysis.sentiment.score, -0.5);
        let json = serde_json::to_value(&analysis).unwrap();
        assert_eq!(json["explanation_truncated"], true);
        assert!(serde_json::to_value(Analysis::default())
            .unwrap()
            .get("explanation_truncated")
            .is_none());
    }

    #[test]
    fn labels_follow_the_usual_cut_offs() {
        assert_eq!(Sentiment::from_score(0.05).label, SentimentLabel::Positive);
        assert_eq!(Sentiment::from_score(0.0499).label, SentimentLabel::Neutral);
        assert_eq!(Sentiment::from_score(-0.05).label, SentimentLabel::Negative);
    }

    #[test]
    fn intents_serialise_in_lower_case() {
        let json = serde_json::to_string(&vec![Intent::Outage, Intent::Praise]).unwrap();
        assert_eq!(json, r#"["outage","praise"]"#);
        assert_eq!(Intent::parse("question"), Some(Intent::Question));
        assert_eq!(Intent::parse("nope"), None);
    }

    #[test]
    fn scored_post_is_the_post_plus_analysis() {
        let post = Post {
            id: "1".into(),
            text: "hi".into(),
            ..Post::default()
        };
        let scored = ScoredPost {
            post,
            analysis: Analysis::default(),
        };
        let value = serde_json::to_value(&scored).unwrap();
        assert_eq!(value["id"], "1");
        assert_eq!(value["analysis"]["sentiment"]["label"], "neutral");
        let back: ScoredPost = serde_json::from_value(value).unwrap();
        assert_eq!(back, scored);
    }
}
