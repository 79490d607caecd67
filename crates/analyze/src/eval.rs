//! Evaluation of the scorer on labelled data: the numbers behind every lexicon or model
//! change.
//!
//! TSV files with a header line; the columns are recognised by name, in any order, and
//! other columns (`id`, `split`) are ignored:
//!
//! * `text` — required;
//! * `mean_rating` — a mean human rating on −4..4 (the VADER snippet sets): Pearson r between
//!   rating and score, and 3-class accuracy with the usual cut-offs;
//! * `label` or `sentiment` — `positive`/`neutral`/`negative` (TweetEval), or only
//!   `positive`/`negative` (chABSA, reviews): accuracy, macro-averaged recall and F1, the
//!   confusion matrix; for two-class sets the sign of the score decides and a zero counts as
//!   wrong;
//! * `intents` — comma-separated (`other` for none): per-intent precision, recall and F1,
//!   and "complaint or outage" as one class (what a support team must answer);
//! * `flags` — comma-separated (`none` for none): per-flag precision, recall and F1.

use std::collections::BTreeMap;
use std::fmt;

use earshot_model::{Flag, Intent, Post, SentimentLabel};

use crate::analyzer::{Analyzer, Scratch};

/// One labelled example.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub rating: Option<f64>,
    pub label: Option<SentimentLabel>,
    pub intents: Option<Vec<Intent>>,
    pub flags: Option<Vec<Flag>>,
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
        let at = |name: &str| columns.iter().position(|c| *c == name);
        let text_at = at("text");
        let rating_at = at("mean_rating");
        let label_at = at("label").or_else(|| at("sentiment"));
        let (intents_at, flags_at) = (at("intents"), at("flags"));
        let Some(text_at) =
            text_at.filter(|_| rating_at.is_some() || label_at.is_some() || intents_at.is_some())
        else {
            return Err(format!(
                "line 1: unknown header {header:?}; expected a `text` column and one of `mean_rating`, `label`, `sentiment`, `intents`"
            ));
        };
        // The text is the last column in our layouts and may itself hold tabs.
        let text_is_last = text_at + 1 == columns.len();
        let mut examples = Vec::new();
        for (i, line) in lines {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let bad = |what: &str| format!("line {}: {what}", i + 1);
            let fields: Vec<&str> = if text_is_last {
                line.splitn(columns.len(), '\t').collect()
            } else {
                line.split('\t').collect()
            };
            if fields.len() < columns.len() {
                return Err(bad("wrong number of columns"));
            }
            let field = |at: Option<usize>| at.map(|i| fields[i].trim());
            let rating = field(rating_at)
                .map(|r| r.parse().map_err(|_| bad("rating is not a number")))
                .transpose()?;
            let label = field(label_at)
                .map(|l| parse_label(l).ok_or_else(|| bad("unknown label")))
                .transpose()?;
            let intents = field(intents_at)
                .map(|list| {
                    list.split(',')
                        .map(|i| {
                            Intent::parse(i.trim())
                                .ok_or_else(|| bad(&format!("unknown intent {i:?}")))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            let flags = field(flags_at)
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|f| *f != "none")
                        .map(|f| Flag::parse(f).ok_or_else(|| bad(&format!("unknown flag {f:?}"))))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            examples.push(Example {
                text: fields[text_at].to_string(),
                rating,
                label,
                intents,
                flags,
            });
        }
        let binary = rating_at.is_none()
            && intents_at.is_none()
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
    /// Counts one example: whether it has the class, and whether it was predicted.
    pub fn add(&mut self, truth: bool, predicted: bool) {
        match (truth, predicted) {
            (true, true) => self.true_positives += 1,
            (false, true) => self.false_positives += 1,
            (true, false) => self.false_negatives += 1,
            (false, false) => {}
        }
    }

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
        self.f_beta(1.0)
    }
    /// F-beta: recall counts `beta` times as much as precision.
    pub fn f_beta(&self, beta: f64) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        let b2 = beta * beta;
        if p + r == 0.0 {
            0.0
        } else {
            (1.0 + b2) * p * r / (b2 * p + r)
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
    /// "complaint or outage" as one class, against the same union of the labels.
    pub complaint_or_outage: Option<IntentCounts>,
    /// Examples whose predicted intent set equals the labelled one, of those labelled.
    pub intents_exact: Option<(usize, usize)>,
    /// Examples whose predicted flags equal the labelled ones, of those labelled.
    pub flags_exact: Option<(usize, usize)>,
    pub flags: BTreeMap<&'static str, IntentCounts>,
    pub binary: bool,
}

impl Report {
    /// Macro-averaged F1 over the sentiment classes present in the labels.
    pub fn macro_f1(&self) -> Option<f64> {
        let labels: Vec<&str> = self.recall.keys().copied().collect();
        if labels.is_empty() {
            return None;
        }
        let f1 = |label: &str| {
            let count = |t: &str, p: &str| self.confusion.get(&(t, p)).copied().unwrap_or(0);
            let tp = count(label, label);
            let predicted: usize = self
                .confusion
                .iter()
                .filter(|((_, p), _)| *p == label)
                .map(|(_, n)| n)
                .sum();
            let actual: usize = self
                .confusion
                .iter()
                .filter(|((t, _), _)| *t == label)
                .map(|(_, n)| n)
                .sum();
            IntentCounts {
                true_positives: tp,
                false_positives: predicted - tp,
                false_negatives: actual - tp,
            }
            .f1()
        };
        Some(labels.iter().map(|l| f1(l)).sum::<f64>() / labels.len() as f64)
    }
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
                counts.add(
                    expected.contains(&intent),
                    analysis.intents.contains(&intent),
                );
            }
            let answer = |intents: &[Intent]| {
                intents.contains(&Intent::Complaint) || intents.contains(&Intent::Outage)
            };
            report
                .complaint_or_outage
                .get_or_insert_with(IntentCounts::default)
                .add(answer(expected), answer(&analysis.intents));
            let same = Intent::ALL
                .iter()
                .all(|i| expected.contains(i) == analysis.intents.contains(i));
            let exact = report.intents_exact.get_or_insert((0, 0));
            exact.0 += usize::from(same);
            exact.1 += 1;
        }
        if let Some(expected) = &example.flags {
            for flag in Flag::ALL {
                report
                    .flags
                    .entry(flag.as_str())
                    .or_default()
                    .add(expected.contains(&flag), analysis.flags.contains(&flag));
            }
            let same = Flag::ALL
                .iter()
                .all(|f| expected.contains(f) == analysis.flags.contains(f));
            let exact = report.flags_exact.get_or_insert((0, 0));
            exact.0 += usize::from(same);
            exact.1 += 1;
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
            if let Some(m) = self.macro_f1() {
                writeln!(f, "macro_f1       {m:.3}")?;
            }
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
        let rows =
            |f: &mut fmt::Formatter<'_>, title: &str, counts: &BTreeMap<&str, IntentCounts>| {
                if counts.is_empty() {
                    return Ok(());
                }
                writeln!(f, "{title:<14} precision recall f1")?;
                for (name, c) in counts {
                    writeln!(
                        f,
                        "  {name:<12} {:.3}     {:.3}  {:.3}",
                        c.precision(),
                        c.recall(),
                        c.f1()
                    )?;
                }
                Ok(())
            };
        let mut intents = self.intents.clone();
        if let Some(c) = self.complaint_or_outage {
            intents.insert("complaint|outage", c);
        }
        rows(f, "intents", &intents)?;
        rows(f, "flags", &self.flags)?;
        for (name, exact) in [
            ("intents_exact", self.intents_exact),
            ("flags_exact", self.flags_exact),
        ] {
            if let Some((same, of)) = exact {
                writeln!(
                    f,
                    "{name:<14} {:.3}   ({same} of {of} examples: every label right)",
                    ratio(same, of)
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
    fn reads_layouts_by_column_name() {
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
        let d = Dataset::parse("sentiment\tintents\tflags\ttext\nneutral\tother\tscam\twin!\n")
            .unwrap();
        assert_eq!(d.examples[0].flags, Some(vec![Flag::Scam]));
        let d = Dataset::parse("label\ttext\tsplit\npositive\tgood\ttrain\n").unwrap();
        assert_eq!(d.examples[0].text, "good");
        assert!(Dataset::parse("foo\tbar\n").unwrap_err().contains("line 1"));
        assert!(Dataset::parse("label\ttext\nmeh\tx\n")
            .unwrap_err()
            .contains("line 2"));
    }
}
