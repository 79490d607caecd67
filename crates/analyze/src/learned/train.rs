//! Training: labelled examples in, a [`Model`] with its data card out. No I/O: the caller
//! reads the files (see `earshot train`).
//!
//! The learner is FTRL-Proximal (McMahan et al., "Ad Click Prediction: a View from the
//! Trenches", KDD 2013), the standard for logistic models over hashed sparse features: a
//! per-coordinate learning rate, and L1 that leaves most of the hash table at exactly zero,
//! so the shipped file stays small. Sentiment is one softmax over three classes; each
//! intent and flag is a logistic output of its own.
//!
//! Sources label different outputs (tweets have sentiment only, a banking intent set has
//! complaints and requests, the team's posts have everything), so each example carries a
//! label per output or none, and only labelled outputs learn from it.
//!
//! Deterministic: the held-out split is a hash of the text and the seed, the order of each
//! epoch a shuffle seeded by the seed, and the arithmetic sequential — the same data and
//! seed give a byte-identical model.

use std::collections::BTreeMap;

use earshot_model::SentimentLabel;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::features::{FeatureConfig, Stacked};
use super::model::{
    sigmoid, softmax, DataCard, Model, ModelMeta, Output, Prediction, SourceCard, SourceMetrics,
    TrainingCard,
};
use crate::analyzer::{Analyzer, Scratch};
use crate::eval::IntentCounts;

/// What one example says about each output; `None` where its source does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Labels {
    pub sentiment: Option<SentimentLabel>,
    /// Indexed like [`Output::BINARY`].
    pub binary: [Option<bool>; 7],
}

impl Labels {
    pub fn get(&self, output: Output) -> Option<bool> {
        match output.binary_index() {
            Some(i) => self.binary[i],
            None => self.sentiment.map(|s| Output::of_sentiment(s) == output),
        }
    }

    pub fn set(&mut self, output: Output, value: bool) {
        match output.binary_index() {
            Some(i) => self.binary[i] = Some(value),
            None if value => {
                self.sentiment = Some(match output {
                    Output::Negative => SentimentLabel::Negative,
                    Output::Positive => SentimentLabel::Positive,
                    _ => SentimentLabel::Neutral,
                })
            }
            None => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sentiment.is_none() && self.binary.iter().all(Option::is_none)
    }
}

/// One labelled text.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub labels: Labels,
    /// Index into the sources.
    pub source: usize,
}

/// The trainer's settings (recorded in the data card, the feature configuration apart: the
/// model keeps that itself).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainSettings {
    pub seed: u64,
    pub epochs: u32,
    /// FTRL learning-rate scale and smoothing.
    pub alpha: f64,
    pub beta: f64,
    /// L1 (sparsity) and L2 regularisation.
    pub l1: f64,
    pub l2: f64,
    /// Share of each trainable source held out for validation, by a hash of the text.
    pub validation_fraction: f64,
    /// Training runs (each with its own example order) whose weights are averaged.
    #[serde(default = "one")]
    pub average: u32,
    #[serde(skip)]
    pub features: FeatureConfig,
}

fn one() -> u32 {
    1
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            seed: 1,
            epochs: 5,
            alpha: 0.1,
            beta: 1.0,
            l1: 0.5,
            l2: 1.0,
            validation_fraction: 0.1,
            average: 1,
            features: FeatureConfig::default(),
        }
    }
}

/// A source as the trainer sees it: its card (filled in with counts as training goes), its
/// example weight, and whether its held-out rows choose the decision thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub card: SourceCard,
    pub tune_thresholds: bool,
}

/// Trains a model named `name`. `analyzer` provides the lexicon features (its own model, if
/// any, is not used).
pub fn train(
    analyzer: &Analyzer,
    name: &str,
    mut sources: Vec<Source>,
    examples: &[Example],
    settings: &TrainSettings,
) -> Result<Model, String> {
    settings.features.check()?;
    if examples.is_empty() {
        return Err("no examples to train on".into());
    }
    let rows = settings.features.rows();
    let set = FeatureSet::extract(analyzer, &settings.features, examples);
    let held_out: Vec<bool> = examples
        .iter()
        .map(|e| {
            let source = &sources[e.source].card;
            source.measure_only || is_held_out(&e.text, settings)
        })
        .collect();
    for source in &mut sources {
        source.card.rows = 0;
        source.card.trained = 0;
        source.card.held_out = 0;
    }
    for (e, &out) in examples.iter().zip(&held_out) {
        let card = &mut sources[e.source].card;
        card.rows += 1;
        if out {
            card.held_out += 1;
        } else {
            card.trained += 1;
        }
    }
    let train: Vec<usize> = (0..examples.len()).filter(|&i| !held_out[i]).collect();
    if train.is_empty() {
        return Err("every example is held out or measure-only: nothing to train on".into());
    }
    let weights_of: Vec<f64> = sources.iter().map(|s| s.card.weight).collect();

    let stacked = [Stacked::Negative, Stacked::Positive].map(|s| settings.features.stacked_row(s));
    // Several runs that differ only in the order of the examples, averaged: one online run's
    // weights depend on the last few hundred examples it saw; the average does not.
    let runs = settings.average.max(1);
    let mut weights = vec![0f32; rows * Output::COUNT];
    for run in 0..runs {
        let mut ftrl = Ftrl::new(rows, settings);
        let mut order = train.clone();
        let mut rng = SplitMix64(settings.seed.wrapping_add(u64::from(run)));
        for _ in 0..settings.epochs {
            shuffle(&mut order, &mut rng);
            for &i in &order {
                let e = &examples[i];
                ftrl.step(set.of(i), &e.labels, weights_of[e.source], stacked);
            }
        }
        for (sum, w) in weights.iter_mut().zip(ftrl.weights()) {
            *sum += w / runs as f32;
        }
    }

    let mut meta = ModelMeta {
        name: name.to_string(),
        features: settings.features,
        outputs: Output::ALL.iter().map(|o| o.as_str().to_string()).collect(),
        thresholds: BTreeMap::new(),
        data_card: DataCard {
            sources: Vec::new(),
            training: TrainingCard {
                settings: *settings,
                examples: train.len(),
            },
            validation: Vec::new(),
            notes: Vec::new(),
        },
    };
    let model = Model::new(meta.clone(), weights.clone())?;
    let predictions: Vec<Option<Prediction>> = (0..examples.len())
        .map(|i| held_out[i].then(|| model.predict_rows(set.of(i))))
        .collect();
    for output in Output::BINARY {
        let scored: Vec<(f64, bool)> = examples
            .iter()
            .zip(&predictions)
            .filter(|(e, _)| sources[e.source].tune_thresholds)
            .filter_map(|(e, p)| Some((p.as_ref()?.probability(output), e.labels.get(output)?)))
            .collect();
        // A false flag sends a customer's real post to the trust & safety queue: flags
        // weigh precision more than recall (F0.75); intents balance them (F1).
        let beta = if output.flag().is_some() { 0.75 } else { 1.0 };
        if let Some(t) = best_threshold(&scored, beta) {
            meta.thresholds.insert(output.as_str().to_string(), t);
        }
    }
    let model = Model::new(meta.clone(), weights.clone())?;
    meta.data_card.validation = sources
        .iter()
        .enumerate()
        .map(|(s, source)| {
            let rows: Vec<(&Labels, &Prediction)> = examples
                .iter()
                .zip(&predictions)
                .filter(|(e, _)| e.source == s)
                .filter_map(|(e, p)| Some((&e.labels, p.as_ref()?)))
                .collect();
            SourceMetrics {
                source: source.card.name.clone(),
                rows: rows.len(),
                metrics: metrics(&model, &rows),
            }
        })
        .collect();
    meta.data_card.sources = sources.into_iter().map(|s| s.card).collect();
    Model::new(meta, weights)
}

/// Whether an example belongs to the validation split: a hash of its text, so the same
/// text is always on the same side whichever file it comes from.
fn is_held_out(text: &str, settings: &TrainSettings) -> bool {
    let h = xxh3_64_with_seed(text.as_bytes(), settings.seed);
    (h % 1_000_000) as f64 / 1_000_000.0 < settings.validation_fraction
}

/// Every example's features as (row, value) pairs in one flat array.
struct FeatureSet {
    pairs: Vec<(u32, f32)>,
    starts: Vec<usize>,
}

impl FeatureSet {
    fn extract(analyzer: &Analyzer, config: &FeatureConfig, examples: &[Example]) -> FeatureSet {
        let mut scratch = Scratch::new();
        let mut pairs = Vec::new();
        let mut starts = Vec::with_capacity(examples.len() + 1);
        for e in examples {
            starts.push(pairs.len());
            let features = analyzer.features_for(&e.text, config, &mut scratch);
            pairs.extend(features.iter().map(|f| (f.row, f.value)));
        }
        starts.push(pairs.len());
        FeatureSet { pairs, starts }
    }

    fn of(&self, i: usize) -> &[(u32, f32)] {
        &self.pairs[self.starts[i]..self.starts[i + 1]]
    }
}

/// FTRL-Proximal state: per weight, `z` and `n`.
struct Ftrl {
    z: Vec<f64>,
    n: Vec<f64>,
    alpha: f64,
    beta: f64,
    l1: f64,
    l2: f64,
}

impl Ftrl {
    fn new(rows: usize, s: &TrainSettings) -> Ftrl {
        Ftrl {
            z: vec![0.0; rows * Output::COUNT],
            n: vec![0.0; rows * Output::COUNT],
            alpha: s.alpha,
            beta: s.beta,
            l1: s.l1,
            l2: s.l2,
        }
    }

    fn weight(&self, i: usize) -> f64 {
        let z = self.z[i];
        if z.abs() <= self.l1 {
            return 0.0;
        }
        -(z - z.signum() * self.l1) / ((self.beta + self.n[i].sqrt()) / self.alpha + self.l2)
    }

    fn weights(&self) -> Vec<f32> {
        (0..self.z.len()).map(|i| self.weight(i) as f32).collect()
    }

    /// One example: predict its labelled outputs with the current weights, then move each
    /// weight against its gradient. The sentiment prediction feeds the yes/no outputs as
    /// the stacked features (a fixed input to them: no gradient flows back through it).
    fn step(&mut self, features: &[(u32, f32)], labels: &Labels, weight: f64, stacked: [u32; 2]) {
        let mut used = [false; Output::COUNT];
        for output in Output::ALL {
            used[output as usize] = labels.get(output).is_some();
        }
        if !used.iter().any(|&u| u) {
            return;
        }
        // Sentiment columns always: the yes/no outputs read the sentiment prediction.
        let mut logits = [0f64; Output::COUNT];
        for &(row, value) in features {
            let base = row as usize * Output::COUNT;
            for k in 0..Output::COUNT {
                if k < 3 || used[k] {
                    logits[k] += self.weight(base + k) * f64::from(value);
                }
            }
        }
        let sentiment = softmax(&logits);
        let stacked = [(stacked[0], sentiment[0]), (stacked[1], sentiment[2])];
        for output in Output::BINARY {
            let k = output as usize;
            if used[k] {
                for &(row, value) in &stacked {
                    logits[k] += self.weight(row as usize * Output::COUNT + k) * value;
                }
            }
        }
        let mut gradient = [0f64; Output::COUNT];
        if let Some(label) = labels.sentiment {
            let target = Output::of_sentiment(label) as usize;
            for k in 0..3 {
                gradient[k] = sentiment[k] - f64::from(u8::from(k == target));
            }
        }
        for output in Output::BINARY {
            if let Some(y) = labels.get(output) {
                let k = output as usize;
                gradient[k] = sigmoid(logits[k]) - f64::from(u8::from(y));
            }
        }
        let stacked_inputs = stacked.map(|(row, value)| (row, value as f32));
        for &(row, value) in features.iter().chain(&stacked_inputs) {
            let base = row as usize * Output::COUNT;
            let is_stacked = stacked_inputs.iter().any(|s| s.0 == row);
            for k in 0..Output::COUNT {
                if !used[k] || (is_stacked && k < 3) {
                    continue;
                }
                let i = base + k;
                let g = gradient[k] * f64::from(value) * weight;
                let sigma = ((self.n[i] + g * g).sqrt() - self.n[i].sqrt()) / self.alpha;
                self.z[i] += g - sigma * self.weight(i);
                self.n[i] += g * g;
            }
        }
    }
}

impl Model {
    /// Predicts from (row, value) pairs, as training stores them.
    fn predict_rows(&self, pairs: &[(u32, f32)]) -> Prediction {
        use super::features::{Feature, Origin};
        let features: Vec<Feature> = pairs
            .iter()
            .map(|&(row, value)| Feature {
                row,
                value,
                origin: Origin::Word { start: 0, end: 0 },
            })
            .collect();
        self.predict(&features)
    }
}

/// The probability threshold with the best F-beta on `scored` (probability, truth), if the
/// set has both classes.
fn best_threshold(scored: &[(f64, bool)], beta: f64) -> Option<f64> {
    let positives = scored.iter().filter(|(_, y)| *y).count();
    if positives == 0 || positives == scored.len() {
        return None;
    }
    let mut best = (0.0, 0.5);
    for step in 10..=90 {
        let t = f64::from(step) / 100.0;
        let f = counts(scored, t).f_beta(beta);
        if f > best.0 {
            best = (f, t);
        }
    }
    Some(best.1)
}

/// Counts of `scored` (probability, truth) at `threshold`.
fn counts(scored: &[(f64, bool)], threshold: f64) -> IntentCounts {
    let mut c = IntentCounts::default();
    for &(p, y) in scored {
        c.add(y, p >= threshold);
    }
    c
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Validation metrics of one source's held-out rows, for the outputs it labels.
fn metrics(model: &Model, rows: &[(&Labels, &Prediction)]) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    let sentiment: Vec<(SentimentLabel, &Prediction)> = rows
        .iter()
        .filter_map(|(l, p)| Some((l.sentiment?, *p)))
        .collect();
    if !sentiment.is_empty() {
        let binary = sentiment.iter().all(|(s, _)| *s != SentimentLabel::Neutral);
        let correct = sentiment
            .iter()
            .filter(|(s, p)| {
                if binary {
                    // Two-class sets: the sign of the score decides.
                    let score = p.sentiment_score();
                    (score > 0.0 && *s == SentimentLabel::Positive)
                        || (score < 0.0 && *s == SentimentLabel::Negative)
                } else {
                    p.sentiment_label() == *s
                }
            })
            .count();
        m.insert(
            "sentiment_accuracy".into(),
            round(ratio(correct, sentiment.len())),
        );
        let mut f1s = Vec::new();
        for class in [
            SentimentLabel::Negative,
            SentimentLabel::Neutral,
            SentimentLabel::Positive,
        ] {
            if binary && class == SentimentLabel::Neutral {
                continue;
            }
            let scored: Vec<(f64, bool)> = sentiment
                .iter()
                .map(|(s, p)| {
                    (
                        f64::from(u8::from(p.sentiment_label() == class)),
                        *s == class,
                    )
                })
                .collect();
            f1s.push(counts(&scored, 0.5).f1());
        }
        m.insert(
            "sentiment_macro_f1".into(),
            round(f1s.iter().sum::<f64>() / f1s.len() as f64),
        );
    }
    for output in Output::BINARY {
        let scored: Vec<(f64, bool)> = rows
            .iter()
            .filter_map(|(l, p)| Some((p.probability(output), l.get(output)?)))
            .collect();
        if !scored.iter().any(|(_, y)| *y) {
            continue;
        }
        let c = counts(&scored, model.threshold(output));
        let name = output.as_str();
        m.insert(format!("{name}_precision"), round(c.precision()));
        m.insert(format!("{name}_recall"), round(c.recall()));
        m.insert(format!("{name}_f1"), round(c.f1()));
    }
    m
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, well-studied generator whose output is
/// fixed by its seed on every platform, which is all a reproducible shuffle needs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Fisher–Yates.
fn shuffle(items: &mut [usize], rng: &mut SplitMix64) {
    for i in (1..items.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_maximise_f1() {
        let scored = [
            (0.9, true),
            (0.7, true),
            (0.6, false),
            (0.3, false),
            (0.2, true),
        ];
        let t = best_threshold(&scored, 1.0).unwrap();
        assert!(t > 0.6 && t <= 0.7, "{t}");
        assert_eq!(best_threshold(&[(0.9, true)], 1.0), None);
        let mixed = [(0.9, true), (0.6, false), (0.5, true)];
        assert!(best_threshold(&mixed, 1.0).unwrap() <= 0.5);
        assert!(
            best_threshold(&mixed, 0.5).unwrap() > 0.6,
            "F0.5 prefers precision"
        );
    }

    #[test]
    fn the_shuffle_depends_only_on_the_seed() {
        let mut a: Vec<usize> = (0..50).collect();
        let mut b = a.clone();
        shuffle(&mut a, &mut SplitMix64(7));
        shuffle(&mut b, &mut SplitMix64(7));
        assert_eq!(a, b);
        assert_ne!(a, (0..50).collect::<Vec<_>>());
    }
}
