//! Evaluation of the scorer on labelled data: the numbers behind every lexicon change.
//!
//! Three TSV layouts are understood, recognised by their header line:
//!
//! * `id<TAB>mean_rating<TAB>text` — a mean human rating on −4..4 (the VADER snippet sets):
//!   Pearson r between rating and score, and 3-class accuracy with the usual cut-offs;
//! * `label<TAB>text` — `positive`/`neutral`/`negative` (TweetEval) or only
//!   `positive`/`negative` (chABSA): accuracy and macro-averaged recall; for two-class sets
//!   the sign of the score decides and a zero counts as wrong;
//! * `sentiment<TAB>intents<TAB>text` — our customer-care sets: the above plus per-intent
//!   precision, recall and F1 (intents comma-separated, `other` for none).

use std::collections::BTreeMap;
use std::fmt;

use earshot_model::{Intent, Post, SentimentLabel};

use crate::analyzer::{Analyzer, Scratch};

/// One labelled example.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub rating: Option<f64>,
    pub label: Option<SentimentLabel>,
    pub intents: Option<Vec<Intent>>,
}

/// A dataset read from TSV.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub examples: Vec<Example>,
    /// Whether the labels use only positive and negative.
    pub binary: bool,
}

impl Dataset {
    /// Reads a TSV dataset; `Err` names the first bad line.
    pub fn parse(source: &str) -> Result<Dataset, String> {
        let mut lines = source.lines().enumerate();
        let header = lines
            .next()
            .map(|(_, h)| h.trim_end_matches('\r'))
            .unwrap_or("");
        let columns: Vec<&str> = header.split('\t').collect();
        let layout = match columns.as_slice() {
            ["id", "mean_rating", "text"] => 0,
            ["label", "text"] => 1,
            ["sentiment", "intents", "text"] => 2,
            _ => {
                return Err(format!(
                    "line 1: unknown header {header:?}; expected `id<TAB>mean_rating<TAB>text`, `label<TAB>text` or `sentiment<TAB>intents<TAB>text`"
                ))
            }
        };
        let mut examples = Vec::new();
        for (i, line) in lines {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let bad = |what: &str| format!("line {}: {what}", i + 1);
            let columns = [3, 2, 3][layout];
            let fields: Vec<&str> = line.splitn(columns, '\t').collect();
            let example = match (layout, fields.as_slice()) {
                (0, [_, rating, text]) => Example {
                    text: text.to_string(),
                    rating: Some(rating.parse().map_err(|_| bad("rating is not a number"))?),
                    label: None,
                    intents: None,
                },
                (1, [label, text]) => Example {
                    text: text.to_string(),
                    rating: None,
                    label: Some(parse_label(label).ok_or_else(|| bad("unknown label"))?),
                    intents: None,
                },
                (2, [label, intents, text]) => Example {
                    text: text.to_string(),
                    rating: None,
                    label: Some(parse_label(label).ok_or_else(|| bad("unknown sentiment"))?),
                    intents: Some(
                        intents
                            .split(',')
                            .map(|i| {
                                Intent::parse(i.trim())
                                    .ok_or_else(|| bad(&format!("unknown intent {i:?}")))
                            })
                            .collect::<Result<_, _>>()?,
                    ),
                },
                _ => return Err(bad("wrong number of columns")),
            };
            examples.push(example);
        }
        let binary = layout == 1
            && !examples
                .iter()
                .any(|e| e.label == Some(SentimentLabel::Neutral));
        Ok(Dataset { examples, binary })
    }
}

fn parse_label(label: &str) -> Option<SentimentLabel> {
    match label.trim() {
        "positive" => Some(SentimentLabel::Positive),
        "neutral" => Some(SentimentLabel::Neutral),
        "negative" => Some(SentimentLabel::Negative),
        _ => None,
    }
}

/// Per-intent counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntentCounts {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
}

impl IntentCounts {
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// The metrics of one run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub examples: usize,
    pub pearson: Option<f64>,
    pub accuracy: Option<f64>,
    pub macro_recall: Option<f64>,
    /// Recall per true label.
    pub recall: BTreeMap<&'static str, f64>,
    /// (true label, predicted label) → count.
    pub confusion: BTreeMap<(&'static str, &'static str), usize>,
    pub intents: BTreeMap<&'static str, IntentCounts>,
    pub binary: bool,
}

/// Scores every example and computes the metrics its labels allow.
pub fn evaluate(analyzer: &Analyzer, dataset: &Dataset) -> Report {
    let mut scratch = Scratch::new();
    let mut report = Report {
        examples: dataset.examples.len(),
        binary: dataset.binary,
        ..Report::default()
    };
    let (mut ratings, mut scores) = (Vec::new(), Vec::new());
    let (mut correct, mut labelled) = (0, 0);
    let mut per_label: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    for (i, example) in dataset.examples.iter().enumerate() {
        let post = Post {
            id: i.to_string(),
            text: example.text.clone(),
            ..Post::default()
        };
        let analysis = analyzer.analyze_with(&post, &mut scratch);
        let score = analysis.sentiment.score;
        let predicted = if dataset.binary {
            if score > 0.0 {
                SentimentLabel::Positive
            } else if score < 0.0 {
                SentimentLabel::Negative
            } else {
                SentimentLabel::Neutral
            }
        } else {
            analysis.sentiment.label
        };
        let truth = match (example.label, example.rating) {
            (Some(label), _) => Some(label),
            (None, Some(rating)) => Some(earshot_model::Sentiment::from_score(rating / 4.0).label),
            _ => None,
        };
        if let Some(rating) = example.rating {
            ratings.push(rating);
            scores.push(score);
        }
        if let Some(truth) = truth {
            labelled += 1;
            let entry = per_label.entry(truth.as_str()).or_default();
            entry.1 += 1;
            if truth == predicted {
                correct += 1;
                entry.0 += 1;
            }
            *report
                .confusion
                .entry((truth.as_str(), predicted.as_str()))
                .or_default() += 1;
        }
        if let Some(expected) = &example.intents {
            for intent in Intent::ALL {
                let counts = report.intents.entry(intent.as_str()).or_default();
                match (
                    expected.contains(&intent),
                    analysis.intents.contains(&intent),
                ) {
                    (true, true) => counts.true_positives += 1,
                    (false, true) => counts.false_positives += 1,
                    (true, false) => counts.false_negatives += 1,
                    (false, false) => {}
                }
            }
        }
    }
    if !ratings.is_empty() {
        report.pearson = Some(pearson(&ratings, &scores));
    }
    if labelled > 0 {
        report.accuracy = Some(ratio(correct, labelled));
        report.recall = per_label
            .iter()
            .map(|(label, &(ok, n))| (*label, ratio(ok, n)))
            .collect();
        report.macro_recall =
            Some(report.recall.values().sum::<f64>() / report.recall.len() as f64);
    }
    report
}

/// Pearson's correlation coefficient; 0 when either side is constant.
pub fn pearson(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len().min(ys.len()) as f64;
    if n == 0.0 {
        return 0.0;
    }
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "examples       {}", self.examples)?;
        if let Some(r) = self.pearson {
            writeln!(f, "pearson_r      {r:.3}")?;
        }
        if let Some(a) = self.accuracy {
            let what = if self.binary {
                "accuracy (sign of score, zero counts as wrong)"
            } else {
                "accuracy"
            };
            writeln!(f, "accuracy       {a:.3}   {what}")?;
        }
        if let Some(m) = self.macro_recall {
            writeln!(f, "macro_recall   {m:.3}")?;
            for (label, r) in &self.recall {
                writeln!(f, "  recall {label:<9} {r:.3}")?;
            }
        }
        if !self.confusion.is_empty() {
            writeln!(f, "confusion (true -> predicted)")?;
            for ((truth, predicted), n) in &self.confusion {
                writeln!(f, "  {truth:<9} -> {predicted:<9} {n}")?;
            }
        }
        if !self.intents.is_empty() {
            writeln!(f, "intents        precision recall f1")?;
            for (intent, c) in &self.intents {
                writeln!(
                    f,
                    "  {intent:<12} {:.3}     {:.3}  {:.3}",
                    c.precision(),
                    c.recall(),
                    c.f1()
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_of_linear_data_is_one() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn reads_the_three_layouts() {
        let d = Dataset::parse("id\tmean_rating\ttext\n1\t-2.5\tawful\tstuff\n").unwrap();
        assert_eq!(d.examples[0].rating, Some(-2.5));
        assert_eq!(d.examples[0].text, "awful\tstuff");
        let d = Dataset::parse("label\ttext\npositive\tok\nnegative\tbad\n").unwrap();
        assert!(d.binary);
        let d =
            Dataset::parse("sentiment\tintents\ttext\nnegative\toutage,complaint\t圏外\n").unwrap();
        assert_eq!(
            d.examples[0].intents,
            Some(vec![Intent::Outage, Intent::Complaint])
        );
        assert!(Dataset::parse("foo\tbar\n").unwrap_err().contains("line 1"));
        assert!(Dataset::parse("label\ttext\nmeh\tx\n")
            .unwrap_err()
            .contains("line 2"));
    }
}
