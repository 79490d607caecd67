//! A trained model: a weight table over the features, the decision thresholds, and the
//! metadata that says how it was made (its data card).
//!
//! One row of ten weights per feature: the three sentiment classes (a softmax) and seven
//! independent yes/no outputs (intents and risk flags, each a logistic). A post's score for
//! an output is the sum of its features' weights times their values, so the explanation of
//! any decision is that sum's largest terms.

use std::collections::BTreeMap;

use earshot_model::{Flag, Intent, SentimentLabel};
use serde::{Deserialize, Serialize};

use super::features::{Feature, FeatureConfig, Origin, Stacked};
use super::train::TrainSettings;

/// Columns of the weight table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Output {
    Negative,
    Neutral,
    Positive,
    Complaint,
    Question,
    Request,
    Outage,
    Praise,
    Scam,
    Spam,
}

impl Output {
    pub const COUNT: usize = 10;

    pub const ALL: [Output; Output::COUNT] = [
        Output::Negative,
        Output::Neutral,
        Output::Positive,
        Output::Complaint,
        Output::Question,
        Output::Request,
        Output::Outage,
        Output::Praise,
        Output::Scam,
        Output::Spam,
    ];

    pub const SENTIMENT: [Output; 3] = [Output::Negative, Output::Neutral, Output::Positive];

    /// The yes/no outputs, each with its own threshold.
    pub const BINARY: [Output; 7] = [
        Output::Complaint,
        Output::Question,
        Output::Request,
        Output::Outage,
        Output::Praise,
        Output::Scam,
        Output::Spam,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Output::Negative => "negative",
            Output::Neutral => "neutral",
            Output::Positive => "positive",
            Output::Complaint => "complaint",
            Output::Question => "question",
            Output::Request => "request",
            Output::Outage => "outage",
            Output::Praise => "praise",
            Output::Scam => "scam",
            Output::Spam => "spam",
        }
    }

    pub fn parse(name: &str) -> Option<Output> {
        Output::ALL.into_iter().find(|o| o.as_str() == name)
    }

    pub fn of_sentiment(label: SentimentLabel) -> Output {
        match label {
            SentimentLabel::Negative => Output::Negative,
            SentimentLabel::Neutral => Output::Neutral,
            SentimentLabel::Positive => Output::Positive,
        }
    }

    /// The intent an output stands for, if it is one.
    pub fn intent(self) -> Option<Intent> {
        match self {
            Output::Complaint => Some(Intent::Complaint),
            Output::Question => Some(Intent::Question),
            Output::Request => Some(Intent::Request),
            Output::Outage => Some(Intent::Outage),
            Output::Praise => Some(Intent::Praise),
            _ => None,
        }
    }

    /// The risk flag an output stands for, if it is one.
    pub fn flag(self) -> Option<Flag> {
        match self {
            Output::Scam => Some(Flag::Scam),
            Output::Spam => Some(Flag::Spam),
            _ => None,
        }
    }

    /// Position among [`Output::BINARY`], for the yes/no outputs.
    pub fn binary_index(self) -> Option<usize> {
        Output::BINARY.iter().position(|&o| o == self)
    }
}

/// What the model says about one post: probabilities, indexed like [`Output::SENTIMENT`]
/// and [`Output::BINARY`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Prediction {
    pub sentiment: [f64; 3],
    pub binary: [f64; 7],
}

impl Prediction {
    /// The probability of one output.
    pub fn probability(&self, output: Output) -> f64 {
        match output.binary_index() {
            Some(i) => self.binary[i],
            None => self.sentiment[output as usize],
        }
    }

    /// The most probable sentiment class.
    pub fn sentiment_label(&self) -> SentimentLabel {
        let [neg, neu, pos] = self.sentiment;
        if neg > neu && neg >= pos {
            SentimentLabel::Negative
        } else if pos > neu && pos > neg {
            SentimentLabel::Positive
        } else {
            SentimentLabel::Neutral
        }
    }

    /// A score in [-1, 1]: P(positive) − P(negative).
    pub fn sentiment_score(&self) -> f64 {
        self.sentiment[2] - self.sentiment[0]
    }
}

/// Everything about a model except its weights: stored as JSON in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMeta {
    /// A name and version people can quote (`earshot-default 2026.11`).
    pub name: String,
    pub features: FeatureConfig,
    /// Output names in column order; checked against [`Output::ALL`] when loading.
    pub outputs: Vec<String>,
    /// Probability at or above which a yes/no output is reported, per output name.
    pub thresholds: BTreeMap<String, f64>,
    pub data_card: DataCard,
}

/// How a model was made: its data, its training settings, how well it did on data it did
/// not see.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCard {
    pub sources: Vec<SourceCard>,
    pub training: TrainingCard,
    /// Metrics on the held-out split of each source (and on measure-only sources).
    pub validation: Vec<SourceMetrics>,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One training source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceCard {
    pub name: String,
    /// The file, as the recipe names it.
    pub path: String,
    pub licence: String,
    /// Rows read, rows trained on, rows held out for validation.
    pub rows: usize,
    pub trained: usize,
    pub held_out: usize,
    /// How much one of its rows counts, relative to others.
    pub weight: f64,
    /// Outputs this source labels.
    pub labels: Vec<String>,
    /// Written by the Earshot team for training (not public data).
    #[serde(default)]
    pub team_written: bool,
    /// Measured on, never trained on (its terms do not allow shipping weights).
    #[serde(default)]
    pub measure_only: bool,
}

/// The trainer's settings, recorded so a model can be reproduced, and how many examples it
/// trained on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingCard {
    #[serde(flatten)]
    pub settings: TrainSettings,
    pub examples: usize,
}

/// Metrics of one source's held-out rows, by name (`sentiment_accuracy`, `complaint_f1`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceMetrics {
    pub source: String,
    pub rows: usize,
    pub metrics: BTreeMap<String, f64>,
}

/// A model ready to score: metadata, thresholds by output, and the weight table.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    meta: ModelMeta,
    thresholds: [f64; 7],
    /// `rows × Output::COUNT`, row-major: one feature's ten weights are adjacent.
    weights: Vec<f32>,
}

/// One feature's share in a decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share {
    pub feature: Feature,
    /// What it added to the output's score (log-odds).
    pub contribution: f64,
}

impl Model {
    /// Assembles a model, checking that the parts fit together.
    pub fn new(meta: ModelMeta, weights: Vec<f32>) -> Result<Model, String> {
        meta.features.check()?;
        let names: Vec<&str> = Output::ALL.iter().map(|o| o.as_str()).collect();
        if meta.outputs != names {
            return Err(format!(
                "outputs {:?} are not the ones this version of Earshot knows ({names:?})",
                meta.outputs
            ));
        }
        let expected = meta.features.rows() * Output::COUNT;
        if weights.len() != expected {
            return Err(format!(
                "{} weights for {} rows of {} outputs",
                weights.len(),
                meta.features.rows(),
                Output::COUNT
            ));
        }
        if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
            return Err(format!("weight {i} is not a finite number"));
        }
        let mut thresholds = [0.5; 7];
        for (name, &value) in &meta.thresholds {
            let index = Output::parse(name)
                .and_then(Output::binary_index)
                .ok_or_else(|| format!("threshold for unknown output {name:?}"))?;
            if !(0.0..=1.0).contains(&value) || value.is_nan() {
                return Err(format!("threshold {name} = {value} (must be in [0, 1])"));
            }
            thresholds[index] = value;
        }
        Ok(Model {
            meta,
            thresholds,
            weights,
        })
    }

    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    pub fn features(&self) -> &FeatureConfig {
        &self.meta.features
    }

    pub(crate) fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The probability at which a yes/no output is reported.
    pub fn threshold(&self, output: Output) -> f64 {
        output.binary_index().map_or(0.5, |i| self.thresholds[i])
    }

    /// Probabilities for one post's features.
    pub fn predict(&self, features: &[Feature]) -> Prediction {
        let mut logits = [0f32; Output::COUNT];
        for f in features {
            if let Some(row) = self.row(f.row) {
                for (logit, w) in logits.iter_mut().zip(row) {
                    *logit += w * f.value;
                }
            }
        }
        let logits = logits.map(f64::from);
        let sentiment = softmax(&logits);
        let mut binary = [0.0; 7];
        for (i, output) in Output::BINARY.into_iter().enumerate() {
            let stacked: f64 = self
                .stacked(&sentiment)
                .iter()
                .filter_map(|f| {
                    Some(f64::from(self.row(f.row)?[output as usize]) * f64::from(f.value))
                })
                .sum();
            binary[i] = sigmoid(logits[output as usize] + stacked);
        }
        Prediction { sentiment, binary }
    }

    /// The stacked features for a sentiment prediction.
    pub fn stacked(&self, sentiment: &[f64; 3]) -> [Feature; 2] {
        let config = &self.meta.features;
        [
            (Stacked::Negative, sentiment[0]),
            (Stacked::Positive, sentiment[2]),
        ]
        .map(|(feature, value)| Feature {
            row: config.stacked_row(feature),
            value: value as f32,
            origin: Origin::Stacked(feature),
        })
    }

    fn row(&self, row: u32) -> Option<&[f32]> {
        let start = row as usize * Output::COUNT;
        self.weights.get(start..start + Output::COUNT)
    }

    /// The features that pushed `output` most, largest first: for a sentiment class, what
    /// raised it over the other two classes on average; for a yes/no output, what raised its
    /// log-odds. Only features that pushed toward the output are listed. `prediction` is the
    /// model's prediction for these features (the stacked features of the yes/no outputs
    /// are explained too).
    pub fn explain(
        &self,
        features: &[Feature],
        prediction: &Prediction,
        output: Output,
        top: usize,
    ) -> Vec<Share> {
        self.explain_each(features, prediction, &[output], top)
            .pop()
            .unwrap_or_default()
    }

    /// [`Model::explain`] for several outputs in one pass over the features (each weight row
    /// is read once): one list per output, in the order given.
    pub fn explain_each(
        &self,
        features: &[Feature],
        prediction: &Prediction,
        outputs: &[Output],
        top: usize,
    ) -> Vec<Vec<Share>> {
        let mut best: Vec<TopShares> = outputs.iter().map(|_| TopShares::new(top)).collect();
        if top > 0 {
            let stacked = self.stacked(&prediction.sentiment);
            let binary_wanted = outputs.iter().any(|o| o.binary_index().is_some());
            let stacked = if binary_wanted { &stacked[..] } else { &[] };
            for f in features.iter().chain(stacked) {
                let Some(row) = self.row(f.row) else {
                    continue;
                };
                let is_stacked = matches!(f.origin, Origin::Stacked(_));
                for (output, list) in outputs.iter().zip(&mut best) {
                    let column = *output as usize;
                    let w = if output.binary_index().is_some() {
                        row[column]
                    } else if is_stacked {
                        // The stacked rows feed only the yes/no outputs.
                        continue;
                    } else {
                        // The class's weight over the mean of the other two.
                        1.5 * row[column] - (row[0] + row[1] + row[2]) / 2.0
                    };
                    list.offer(f, w * f.value);
                }
            }
        }
        best.into_iter().map(TopShares::into_sorted).collect()
    }
}

/// The `top` largest positive contributions offered, kept without sorting until the end.
struct TopShares {
    top: usize,
    shares: Vec<Share>,
    /// The smallest kept contribution once the list is full: most offers are below it.
    floor: f32,
}

impl TopShares {
    fn new(top: usize) -> TopShares {
        TopShares {
            top,
            shares: Vec::with_capacity(top),
            floor: 0.0,
        }
    }

    fn offer(&mut self, feature: &Feature, contribution: f32) {
        if contribution <= self.floor || self.top == 0 {
            return;
        }
        let share = Share {
            feature: *feature,
            contribution: f64::from(contribution),
        };
        if self.shares.len() < self.top {
            self.shares.push(share);
        } else if let Some(smallest) = self
            .shares
            .iter_mut()
            .min_by(|a, b| a.contribution.total_cmp(&b.contribution))
        {
            *smallest = share;
        }
        if self.shares.len() == self.top {
            self.floor = self
                .shares
                .iter()
                .map(|s| s.contribution as f32)
                .fold(f32::INFINITY, f32::min);
        }
    }

    fn into_sorted(mut self) -> Vec<Share> {
        self.shares
            .sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        self.shares
    }
}

/// Probabilities of the three sentiment classes from the first three logits.
pub(crate) fn softmax(logits: &[f64; Output::COUNT]) -> [f64; 3] {
    let max = logits[..3].iter().copied().fold(f64::MIN, f64::max);
    let exp = [0, 1, 2].map(|k| (logits[k] - max).exp());
    let sum: f64 = exp.iter().sum();
    exp.map(|e| e / sum)
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learned::features::Origin;

    fn tiny() -> Model {
        let features = FeatureConfig {
            bits: 10,
            ..FeatureConfig::default()
        };
        let mut weights = vec![0f32; features.rows() * Output::COUNT];
        // Row 7 says negative and complaint.
        weights[7 * Output::COUNT + Output::Negative as usize] = 2.0;
        weights[7 * Output::COUNT + Output::Complaint as usize] = 3.0;
        let meta = ModelMeta {
            name: "tiny".into(),
            features,
            outputs: Output::ALL.iter().map(|o| o.as_str().to_string()).collect(),
            thresholds: BTreeMap::from([("complaint".to_string(), 0.7)]),
            data_card: DataCard::default(),
        };
        Model::new(meta, weights).unwrap()
    }

    fn feature(row: u32) -> Feature {
        Feature {
            row,
            value: 1.0,
            origin: Origin::Word { start: 0, end: 1 },
        }
    }

    #[test]
    fn predicts_from_the_rows_of_its_features() {
        let model = tiny();
        let p = model.predict(&[feature(7)]);
        assert_eq!(p.sentiment_label(), SentimentLabel::Negative);
        assert!(p.probability(Output::Complaint) > 0.95);
        assert_eq!(model.threshold(Output::Complaint), 0.7);
        assert_eq!(model.threshold(Output::Scam), 0.5);
        let none = model.predict(&[feature(8)]);
        assert_eq!(none.sentiment_label(), SentimentLabel::Neutral);
        assert!((none.probability(Output::Complaint) - 0.5).abs() < 1e-9);
        let shares = model.explain(&[feature(8), feature(7)], &p, Output::Complaint, 5);
        assert_eq!(shares.len(), 1, "only what pushed toward the output");
        assert_eq!(shares[0].contribution, 3.0);
        let shares = model.explain(&[feature(7)], &p, Output::Negative, 5);
        assert_eq!(shares[0].contribution, 2.0, "over the other classes' mean");
    }

    #[test]
    fn refuses_parts_that_do_not_fit() {
        let model = tiny();
        let mut meta = model.meta().clone();
        assert!(Model::new(meta.clone(), vec![0.0; 3])
            .unwrap_err()
            .contains("weights"));
        meta.thresholds.insert("sarcasm".into(), 0.5);
        assert!(Model::new(meta.clone(), model.weights.clone())
            .unwrap_err()
            .contains("unknown output"));
        meta.thresholds.remove("sarcasm");
        let mut weights = model.weights.clone();
        weights[3] = f32::NAN;
        assert!(Model::new(meta, weights).unwrap_err().contains("finite"));
    }
}
