//! The training recipe: which files to learn from, how their labels map to Earshot's
//! outputs, and the trainer's settings — one TOML file, so a model can be rebuilt exactly.
//!
//! ```toml
//! [model]
//! name = "acme-support 2026.12"
//! seed = 7
//!
//! [[source]]                       # Earshot's own layout: sentiment, intents, flags, text
//! name = "resolved tickets"
//! path = "tickets.tsv"
//! licence = "internal"
//! weight = 2.0
//!
//! [[source]]                       # any other layout: map the values of its columns
//! name = "banking"
//! path = "banking77.tsv"
//! licence = "CC BY 4.0"
//! default = { praise = false, scam = false, spam = false }
//! [source.columns.intent]
//! values.card_not_working = { complaint = true }
//! values.request_refund = { request = true }
//! other = { complaint = false }
//! ```
//!
//! Files are TSV with a header line. In Earshot's layout `sentiment` is
//! `negative`/`neutral`/`positive`, `intents` a comma-separated list (`other` for none) and
//! `flags` a comma-separated list (`none` for none); a column that is absent leaves its
//! outputs unlabelled. Reading is pure: the caller hands in each file's text.

use std::collections::{BTreeMap, HashSet};

use earshot_model::{Flag, Intent, SentimentLabel};
use serde::Deserialize;

use super::features::FeatureConfig;
use super::model::{Output, SourceCard};
use super::train::{Example, Labels, Source, TrainSettings};
use crate::error::{line_column, Problem};

/// A parsed recipe.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub model: ModelSection,
    #[serde(rename = "source")]
    pub sources: Vec<SourceSection>,
}

/// `[model]`: the name and the trainer's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub name: String,
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    #[serde(default = "defaults::epochs")]
    pub epochs: u32,
    #[serde(default = "defaults::bits")]
    pub bits: u8,
    #[serde(default = "defaults::word_ngrams")]
    pub word_ngrams: u8,
    #[serde(default = "defaults::char_ngrams")]
    pub char_ngrams: u8,
    #[serde(default = "defaults::alpha")]
    pub alpha: f64,
    #[serde(default = "defaults::beta")]
    pub beta: f64,
    #[serde(default = "defaults::l1")]
    pub l1: f64,
    #[serde(default = "defaults::l2")]
    pub l2: f64,
    /// Share of every trainable source held out for validation.
    #[serde(default = "defaults::validation")]
    pub validation: f64,
    /// Training runs, each with its own example order, whose weights are averaged.
    #[serde(default = "defaults::average")]
    pub average: u32,
}

mod defaults {
    pub fn seed() -> u64 {
        1
    }
    pub fn epochs() -> u32 {
        5
    }
    pub fn bits() -> u8 {
        18
    }
    pub fn word_ngrams() -> u8 {
        2
    }
    pub fn char_ngrams() -> u8 {
        3
    }
    pub fn alpha() -> f64 {
        0.1
    }
    pub fn beta() -> f64 {
        1.0
    }
    pub fn l1() -> f64 {
        0.5
    }
    pub fn l2() -> f64 {
        1.0
    }
    pub fn validation() -> f64 {
        0.1
    }
    pub fn average() -> u32 {
        1
    }
    pub fn weight() -> f64 {
        1.0
    }
    pub fn text() -> String {
        "text".into()
    }
}

/// `[[source]]`: one labelled file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    pub name: String,
    /// Relative to the recipe file.
    pub path: String,
    pub licence: String,
    #[serde(default = "defaults::weight")]
    pub weight: f64,
    /// Written by the team for training; recorded in the data card.
    #[serde(default)]
    pub team_written: bool,
    /// Measured on, never trained on.
    #[serde(default)]
    pub measure_only: bool,
    /// Its held-out rows choose the yes/no thresholds (in-domain data).
    #[serde(default)]
    pub tune_thresholds: bool,
    /// The column holding the text.
    #[serde(default = "defaults::text")]
    pub text: String,
    /// Files (relative to the recipe) whose texts must not be trained on, e.g. a
    /// validation set drawn from the same material.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Read at most this many rows (the first ones).
    #[serde(default)]
    pub max_rows: Option<usize>,
    /// Labels every row gets unless a column says otherwise.
    #[serde(default)]
    pub default: LabelMap,
    /// How the values of other layouts' columns map to labels; empty for Earshot's layout.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnMap>,
}

/// How one column's values map to labels.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMap {
    /// The column holds several values separated by this (`,` for `anger,annoyance`).
    #[serde(default)]
    pub split: Option<String>,
    pub values: BTreeMap<String, LabelMap>,
    /// Labels for values not listed; without it an unlisted value is an error.
    #[serde(default)]
    pub other: Option<LabelMap>,
}

/// Labels to set: a sentiment class and yes/no outputs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelMap {
    pub sentiment: Option<String>,
    pub complaint: Option<bool>,
    pub question: Option<bool>,
    pub request: Option<bool>,
    pub outage: Option<bool>,
    pub praise: Option<bool>,
    pub scam: Option<bool>,
    pub spam: Option<bool>,
}

impl LabelMap {
    fn binary(&self) -> [(Output, Option<bool>); 7] {
        [
            (Output::Complaint, self.complaint),
            (Output::Question, self.question),
            (Output::Request, self.request),
            (Output::Outage, self.outage),
            (Output::Praise, self.praise),
            (Output::Scam, self.scam),
            (Output::Spam, self.spam),
        ]
    }

    fn sentiment(&self) -> Result<Option<SentimentLabel>, String> {
        self.sentiment
            .as_deref()
            .map(|s| parse_sentiment(s).ok_or_else(|| format!("unknown sentiment {s:?}")))
            .transpose()
    }
}

impl Recipe {
    /// Parses a recipe, listing every problem with its place.
    pub fn parse(file: &str, source: &str) -> Result<Recipe, Vec<Problem>> {
        let recipe: Recipe = toml::from_str(source).map_err(|e| {
            let place = e
                .span()
                .map_or((0, 0), |span| line_column(source, span.start));
            vec![Problem::new(file, place, e.message().to_string())]
        })?;
        let mut problems = Vec::new();
        let mut problem = |message: String| problems.push(Problem::new(file, (0, 0), message));
        let m = &recipe.model;
        if let Err(e) = recipe.settings().features.check() {
            problem(format!("[model] {e}"));
        }
        for (name, value, ok) in [
            ("alpha", m.alpha, m.alpha > 0.0),
            ("beta", m.beta, m.beta >= 0.0),
            ("l1", m.l1, m.l1 >= 0.0),
            ("l2", m.l2, m.l2 >= 0.0),
            (
                "validation",
                m.validation,
                (0.0..1.0).contains(&m.validation),
            ),
        ] {
            if !ok || !value.is_finite() {
                problem(format!("[model] {name} = {value} is out of range"));
            }
        }
        if m.average == 0 || m.average > 20 {
            problem(format!("[model] average = {} (must be 1 to 20)", m.average));
        }
        if m.epochs == 0 || m.epochs > 100 {
            problem(format!("[model] epochs = {} (must be 1 to 100)", m.epochs));
        }
        if recipe.sources.is_empty() {
            problem("no [[source]]: nothing to train on".into());
        }
        let mut names = HashSet::new();
        for s in &recipe.sources {
            let at = format!("[[source]] {:?}", s.name);
            if !names.insert(s.name.as_str()) {
                problem(format!("{at}: a second source with this name"));
            }
            if !(s.weight > 0.0 && s.weight.is_finite()) {
                problem(format!("{at}: weight = {} (must be > 0)", s.weight));
            }
            let maps = std::iter::once(&s.default).chain(
                s.columns
                    .values()
                    .flat_map(|c| c.values.values().chain(&c.other)),
            );
            for map in maps {
                if let Err(e) = map.sentiment() {
                    problem(format!("{at}: {e}"));
                }
            }
        }
        if problems.is_empty() {
            Ok(recipe)
        } else {
            Err(problems)
        }
    }

    /// The trainer's settings.
    pub fn settings(&self) -> TrainSettings {
        let m = &self.model;
        TrainSettings {
            seed: m.seed,
            epochs: m.epochs,
            alpha: m.alpha,
            beta: m.beta,
            l1: m.l1,
            l2: m.l2,
            validation_fraction: m.validation,
            average: m.average,
            features: FeatureConfig {
                bits: m.bits,
                word_ngrams: m.word_ngrams,
                char_ngrams: m.char_ngrams,
            },
        }
    }

    /// Every source's examples, in recipe order, and the sources as the trainer takes them
    /// (with the outputs each labels; counts are filled in by training). `read` returns the
    /// contents of a file named as in the recipe (the caller resolves it), or why it cannot.
    pub fn examples(
        &self,
        read: impl Fn(&str) -> Result<String, String>,
    ) -> Result<(Vec<Example>, Vec<Source>), Vec<Problem>> {
        let mut examples = Vec::new();
        let mut sources = Vec::new();
        let mut problems = Vec::new();
        for (index, s) in self.sources.iter().enumerate() {
            let mut excluded = HashSet::new();
            for file in &s.exclude {
                match read(file) {
                    Ok(contents) => excluded.extend(texts_of(&contents)),
                    Err(e) => problems.push(Problem::new(file, (0, 0), e)),
                }
            }
            let labels = match read(&s.path) {
                Ok(contents) => match s.examples(index, &s.path, &contents, &excluded) {
                    Ok((mut e, outputs)) => {
                        examples.append(&mut e);
                        outputs.iter().map(|o| o.as_str().to_string()).collect()
                    }
                    Err(mut p) => {
                        problems.append(&mut p);
                        Vec::new()
                    }
                },
                Err(e) => {
                    problems.push(Problem::new(&s.path, (0, 0), e));
                    Vec::new()
                }
            };
            sources.push(Source {
                card: SourceCard {
                    name: s.name.clone(),
                    path: s.path.clone(),
                    licence: s.licence.clone(),
                    weight: s.weight,
                    labels,
                    team_written: s.team_written,
                    measure_only: s.measure_only,
                    ..SourceCard::default()
                },
                tune_thresholds: s.tune_thresholds,
            });
        }
        if problems.is_empty() {
            Ok((examples, sources))
        } else {
            Err(problems)
        }
    }
}

/// The `text` column of a TSV file with a header.
fn texts_of(contents: &str) -> impl Iterator<Item = String> + '_ {
    let mut lines = contents.lines();
    let at = lines.next().and_then(|h| {
        h.trim_end_matches('\r')
            .split('\t')
            .position(|c| c == "text")
    });
    lines.filter_map(move |l| Some(l.split('\t').nth(at?)?.trim().to_string()))
}

impl SourceSection {
    /// Reads the rows of this source's file (`contents`), skipping texts in `excluded`.
    /// `file` names it in problems. `index` is the source's position in the recipe.
    pub fn examples(
        &self,
        index: usize,
        file: &str,
        contents: &str,
        excluded: &HashSet<String>,
    ) -> Result<(Vec<Example>, Vec<Output>), Vec<Problem>> {
        let mut lines = contents.lines().enumerate();
        let header: Vec<&str> = lines
            .next()
            .map(|(_, h)| h.trim_end_matches('\r').split('\t').collect())
            .unwrap_or_default();
        let column = |name: &str| header.iter().position(|h| *h == name);
        let Some(text_at) = column(&self.text) else {
            return Err(vec![Problem::new(
                file,
                (1, 0),
                format!("no column {:?} in the header {header:?}", self.text),
            )]);
        };
        let layout = if self.columns.is_empty() {
            Layout::Earshot {
                sentiment: column("sentiment"),
                intents: column("intents"),
                flags: column("flags"),
            }
        } else {
            let mut mapped = Vec::new();
            for (name, map) in &self.columns {
                match column(name) {
                    Some(at) => mapped.push((at, map)),
                    None => {
                        return Err(vec![Problem::new(
                            file,
                            (1, 0),
                            format!("no column {name:?} in the header {header:?}"),
                        )])
                    }
                }
            }
            Layout::Mapped(mapped)
        };
        let mut labelled = HashSet::new();
        let mut examples = Vec::new();
        let mut problems = Vec::new();
        for (i, line) in lines {
            if self.max_rows.is_some_and(|max| examples.len() >= max) {
                break;
            }
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            let Some(text) = fields.get(text_at).map(|t| t.trim()) else {
                problems.push(Problem::new(file, (i + 1, 0), "missing the text column"));
                continue;
            };
            if text.is_empty() || excluded.contains(text) {
                continue;
            }
            match self.labels(&layout, &fields) {
                Ok(labels) if labels.is_empty() => {}
                Ok(labels) => {
                    for output in Output::ALL {
                        if labels.get(output).is_some() {
                            labelled.insert(output);
                        }
                    }
                    examples.push(Example {
                        text: text.to_string(),
                        labels,
                        source: index,
                    });
                }
                Err(e) => problems.push(Problem::new(file, (i + 1, 0), e)),
            }
            if problems.len() >= 20 {
                problems.push(Problem::new(file, (0, 0), "too many problems; stopped"));
                break;
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut labelled: Vec<Output> = labelled.into_iter().collect();
        labelled.sort();
        Ok((examples, labelled))
    }

    fn labels(&self, layout: &Layout<'_>, fields: &[&str]) -> Result<Labels, String> {
        let mut labels = Labels::default();
        apply(&mut labels, &self.default)?;
        let field = |at: Option<usize>| at.and_then(|i| fields.get(i)).map(|f| f.trim());
        match layout {
            Layout::Earshot {
                sentiment,
                intents,
                flags,
            } => {
                if let Some(s) = field(*sentiment) {
                    labels.sentiment =
                        Some(parse_sentiment(s).ok_or_else(|| format!("unknown sentiment {s:?}"))?);
                }
                if let Some(list) = field(*intents) {
                    for output in [
                        Output::Complaint,
                        Output::Question,
                        Output::Request,
                        Output::Outage,
                        Output::Praise,
                    ] {
                        labels.set(output, false);
                    }
                    for name in list.split(',').map(str::trim).filter(|n| *n != "other") {
                        let output = Intent::parse(name)
                            .and_then(|i| Output::parse(i.as_str()))
                            .ok_or_else(|| format!("unknown intent {name:?}"))?;
                        labels.set(output, true);
                    }
                }
                if let Some(list) = field(*flags) {
                    labels.set(Output::Scam, false);
                    labels.set(Output::Spam, false);
                    for name in list.split(',').map(str::trim).filter(|n| *n != "none") {
                        let output = Flag::parse(name)
                            .and_then(|f| Output::parse(f.as_str()))
                            .ok_or_else(|| format!("unknown flag {name:?}"))?;
                        labels.set(output, true);
                    }
                }
            }
            Layout::Mapped(columns) => {
                for (at, map) in columns {
                    let value = field(Some(*at)).unwrap_or_default();
                    let values: Vec<&str> = match &map.split {
                        Some(sep) => value.split(sep.as_str()).map(str::trim).collect(),
                        None => vec![value],
                    };
                    let mut merged: Option<Labels> = None;
                    for v in values {
                        let label_map = map
                            .values
                            .get(v)
                            .or(map.other.as_ref())
                            .ok_or_else(|| format!("value {v:?} has no mapping"))?;
                        let mut one = Labels::default();
                        apply(&mut one, label_map)?;
                        merged = Some(match merged {
                            None => one,
                            Some(m) => merge(m, one),
                        });
                    }
                    if let Some(m) = merged {
                        overlay(&mut labels, &m);
                    }
                }
            }
        }
        Ok(labels)
    }
}

/// How a source's columns are read.
enum Layout<'a> {
    Earshot {
        sentiment: Option<usize>,
        intents: Option<usize>,
        flags: Option<usize>,
    },
    Mapped(Vec<(usize, &'a ColumnMap)>),
}

fn apply(labels: &mut Labels, map: &LabelMap) -> Result<(), String> {
    if let Some(s) = map.sentiment()? {
        labels.sentiment = Some(s);
    }
    for (output, value) in map.binary() {
        if let Some(v) = value {
            labels.set(output, v);
        }
    }
    Ok(())
}

/// Labels from several values of one column: sentiments that disagree cancel out; a
/// yes/no output is yes if any value says yes.
fn merge(a: Labels, b: Labels) -> Labels {
    let sentiment = match (a.sentiment, b.sentiment) {
        (Some(x), Some(y)) if x != y => None,
        (x, y) => x.or(y),
    };
    let mut binary = a.binary;
    for (mine, theirs) in binary.iter_mut().zip(b.binary) {
        *mine = match (*mine, theirs) {
            (Some(x), Some(y)) => Some(x || y),
            (x, y) => x.or(y),
        };
    }
    Labels { sentiment, binary }
}

/// What a column says overrides the defaults.
fn overlay(labels: &mut Labels, column: &Labels) {
    if column.sentiment.is_some() {
        labels.sentiment = column.sentiment;
    }
    for (mine, theirs) in labels.binary.iter_mut().zip(column.binary) {
        if theirs.is_some() {
            *mine = theirs;
        }
    }
}

fn parse_sentiment(s: &str) -> Option<SentimentLabel> {
    match s {
        "negative" => Some(SentimentLabel::Negative),
        "neutral" => Some(SentimentLabel::Neutral),
        "positive" => Some(SentimentLabel::Positive),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECIPE: &str = r#"
[model]
name = "test"
seed = 3

[[source]]
name = "ours"
path = "ours.tsv"
licence = "internal"

[[source]]
name = "emotions"
path = "emotions.tsv"
licence = "Apache-2.0"
default = { scam = false }
[source.columns.emotions]
split = ","
values.anger = { sentiment = "negative", complaint = true }
values.joy = { sentiment = "positive", complaint = false }
other = { complaint = false }
"#;

    #[test]
    fn earshot_layout_labels_every_output_it_has_a_column_for() {
        let recipe = Recipe::parse("r.toml", RECIPE).unwrap();
        let tsv = "sentiment\tintents\tflags\ttext\nnegative\tcomplaint,request\tnone\tfix it\nneutral\tother\tscam\tclaim your prize\n";
        let (examples, outputs) = recipe.sources[0]
            .examples(0, "ours.tsv", tsv, &HashSet::new())
            .unwrap();
        assert_eq!(examples.len(), 2);
        assert_eq!(outputs.len(), Output::COUNT);
        let l = examples[0].labels;
        assert_eq!(l.sentiment, Some(SentimentLabel::Negative));
        assert_eq!(l.get(Output::Complaint), Some(true));
        assert_eq!(l.get(Output::Praise), Some(false));
        assert_eq!(examples[1].labels.get(Output::Scam), Some(true));
    }

    #[test]
    fn mapped_columns_merge_several_values() {
        let recipe = Recipe::parse("r.toml", RECIPE).unwrap();
        let tsv = "emotions\ttext\nanger\tugh\nanger,joy\tmixed\nsurprise\twow\n";
        let (examples, _) = recipe.sources[1]
            .examples(1, "emotions.tsv", tsv, &HashSet::from(["wow".to_string()]))
            .unwrap();
        assert_eq!(examples.len(), 2, "the excluded text is skipped");
        assert_eq!(examples[0].labels.get(Output::Complaint), Some(true));
        assert_eq!(examples[0].labels.get(Output::Scam), Some(false));
        assert_eq!(examples[1].labels.sentiment, None, "anger and joy disagree");
        assert_eq!(examples[1].labels.get(Output::Complaint), Some(true));
        assert_eq!(examples[1].labels.get(Output::Question), None);
    }

    #[test]
    fn problems_have_places() {
        let bad = RECIPE.replace("seed = 3", "seed = 3\nsede = 4");
        let problems = Recipe::parse("r.toml", &bad).unwrap_err();
        assert_eq!(problems[0].line, 5, "{problems:?}");
        let bad = RECIPE.replace("\"negative\", complaint", "\"grumpy\", complaint");
        let problems = Recipe::parse("r.toml", &bad).unwrap_err();
        assert!(problems[0].message.contains("grumpy"), "{problems:?}");
        let recipe = Recipe::parse("r.toml", RECIPE).unwrap();
        assert!(
            recipe.sources[1]
                .examples(1, "e.tsv", "emotions\ttext\n\nfear\tboo\n", &HashSet::new())
                .is_ok(),
            "unlisted values use `other`"
        );
        let problems = recipe.sources[0]
            .examples(0, "o.tsv", "sentiment\ttext\nangry\tboo\n", &HashSet::new())
            .unwrap_err();
        assert_eq!((problems[0].line, problems[0].file.as_str()), (2, "o.tsv"));
    }
}
