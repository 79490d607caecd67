//! The sentiment, intent and urgency lexicon: built-in data plus users' own files.
//!
//! The built-in lexicon is data compiled into the binary from `lexicon/` (see its README):
//! VADER's English word list (MIT, credited in the README), our Japanese lexicon, modifier
//! lists for both languages, emoji and kaomoji, and intent and urgency cues. Users add or
//! override entries with a TOML file — a game called "War Zone" must not read as negative:
//!
//! ```toml
//! [[term]]
//! text = "war zone"
//! sentiment = 0.0
//! ```
//!
//! An entry is keyed by its normalised text and its layer (polarity words and modifiers form
//! one layer, intent and urgency cues another); a later entry with the same key replaces an
//! earlier one, so user files override the built-in data.

use earshot_model::Intent;
use earshot_text::{normalize, script};
use serde::Deserialize;

use crate::error::Problem;

/// Which language's rules apply to an entry (negation and contrast work differently in
/// Japanese and English); `Any` for emoji and kaomoji.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Ja,
    Any,
}

impl Lang {
    fn of_term(term: &str) -> Lang {
        if term.chars().any(script::is_cjk) {
            Lang::Ja
        } else if term.chars().any(|c| c.is_alphabetic()) {
            Lang::En
        } else {
            Lang::Any
        }
    }
}

/// What an entry does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EntryKind {
    /// A polarity word with its valence on VADER's −4..4 scale.
    Sentiment(f64),
    /// Flips the polarity of the word it governs.
    Negation,
    /// Adds to (booster, > 0) or takes from (dampener, < 0) the magnitude of a polarity word.
    Modifier(f64),
    /// The clause after it weighs more than the clause before.
    Contrast,
    /// A cue for an intent, with a weight (1.0 decides on its own).
    Intent(Intent, f64),
    /// A cue for urgency, with a weight and a reason.
    Urgency(f64, UrgencyReason),
}

impl EntryKind {
    /// Polarity words and modifiers compete for the same text (longest wins); cues do not
    /// compete with them.
    pub fn is_cue(&self) -> bool {
        matches!(self, EntryKind::Intent(..) | EntryKind::Urgency(..))
    }
}

/// Why a cue makes a post urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrgencyReason {
    Safety,
    Legal,
    Time,
    Distress,
    Money,
    Churn,
    Escalation,
}

impl UrgencyReason {
    pub const ALL: [UrgencyReason; 7] = [
        UrgencyReason::Safety,
        UrgencyReason::Legal,
        UrgencyReason::Time,
        UrgencyReason::Distress,
        UrgencyReason::Money,
        UrgencyReason::Churn,
        UrgencyReason::Escalation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UrgencyReason::Safety => "safety",
            UrgencyReason::Legal => "legal",
            UrgencyReason::Time => "time",
            UrgencyReason::Distress => "distress",
            UrgencyReason::Money => "money",
            UrgencyReason::Churn => "churn",
            UrgencyReason::Escalation => "escalation",
        }
    }

    fn parse(name: &str) -> Option<UrgencyReason> {
        UrgencyReason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// Spelling variants an entry asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Variants {
    /// Also match the other kana script (すごい / スゴイ).
    pub kana: bool,
    /// Also match long-vowel spellings (すごーい, ありがとー).
    pub long_vowel: bool,
}

/// One lexicon entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Normalised text.
    pub term: String,
    pub lang: Lang,
    pub kind: EntryKind,
    pub variants: Variants,
}

/// A list of entries, later ones overriding earlier ones with the same text and layer.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    entries: Vec<Entry>,
}

macro_rules! data {
    ($name:literal) => {
        ($name, include_str!(concat!("../lexicon/", $name)))
    };
}

impl Lexicon {
    /// An empty lexicon (for tests and for users who bring their own).
    pub fn empty() -> Lexicon {
        Lexicon::default()
    }

    /// The built-in English and Japanese lexicon.
    pub fn builtin() -> Lexicon {
        let mut lexicon = Lexicon::empty();
        let mut problems = Vec::new();
        let (name, text) = data!("vader_lexicon.txt");
        lexicon.load_vader(name, text, &mut problems);
        for (name, text) in [data!("en_sentiment.tsv"), data!("ja_sentiment.tsv")] {
            lexicon.load_sentiment_tsv(name, text, &mut problems);
        }
        for (name, text) in [data!("en_modifiers.tsv"), data!("ja_modifiers.tsv")] {
            lexicon.load_modifiers_tsv(name, text, &mut problems);
        }
        let (name, text) = data!("emoji_utf8_lexicon.txt");
        lexicon.load_emoji_descriptions(name, text, &mut problems);
        let (name, text) = data!("emoji.tsv");
        lexicon.load_sentiment_tsv(name, text, &mut problems);
        let (name, text) = data!("intents.tsv");
        lexicon.load_intents_tsv(name, text, &mut problems);
        let (name, text) = data!("urgency.tsv");
        lexicon.load_urgency_tsv(name, text, &mut problems);
        // The built-in data is checked by a test; a bad line is skipped rather than fatal.
        debug_assert!(
            problems.is_empty(),
            "built-in lexicon problems: {problems:?}"
        );
        lexicon
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds an entry; its text is normalised here.
    pub fn push(&mut self, term: &str, lang: Option<Lang>, kind: EntryKind, variants: Variants) {
        let term = normalize(term.trim());
        // A lone Latin letter matches everywhere (`zzz` normalises to `z`, which is not a word).
        if term.is_empty() || (term.len() == 1 && term.bytes().all(|b| b.is_ascii_alphanumeric())) {
            return;
        }
        let lang = lang.unwrap_or_else(|| Lang::of_term(&term));
        self.entries.push(Entry {
            term,
            lang,
            kind,
            variants,
        });
    }

    /// The built-in data files, checked line by line (for tests and `earshot check`).
    pub fn check_builtin() -> Vec<Problem> {
        let mut lexicon = Lexicon::empty();
        let mut problems = Vec::new();
        let (name, text) = data!("vader_lexicon.txt");
        lexicon.load_vader(name, text, &mut problems);
        for (name, text) in [
            data!("en_sentiment.tsv"),
            data!("ja_sentiment.tsv"),
            data!("emoji.tsv"),
        ] {
            lexicon.load_sentiment_tsv(name, text, &mut problems);
        }
        for (name, text) in [data!("en_modifiers.tsv"), data!("ja_modifiers.tsv")] {
            lexicon.load_modifiers_tsv(name, text, &mut problems);
        }
        let (name, text) = data!("emoji_utf8_lexicon.txt");
        lexicon.load_emoji_descriptions(name, text, &mut problems);
        let (name, text) = data!("intents.tsv");
        lexicon.load_intents_tsv(name, text, &mut problems);
        let (name, text) = data!("urgency.tsv");
        lexicon.load_urgency_tsv(name, text, &mut problems);
        problems
    }

    fn load_vader(&mut self, file: &str, text: &str, problems: &mut Vec<Problem>) {
        for (line_no, fields) in tsv_lines(text) {
            match (
                fields.first(),
                fields.get(1).and_then(|v| v.parse::<f64>().ok()),
            ) {
                (Some(term), Some(valence)) => {
                    let lang =
                        if term.chars().any(|c| c.is_ascii_alphabetic()) && !is_emoticon(term) {
                            Lang::En
                        } else {
                            Lang::Any
                        };
                    self.push(
                        term,
                        Some(lang),
                        EntryKind::Sentiment(valence),
                        Variants::default(),
                    );
                }
                _ => problems.push(Problem::new(
                    file,
                    (line_no, 0),
                    "expected `token<TAB>valence…`",
                )),
            }
        }
    }

    fn load_sentiment_tsv(&mut self, file: &str, text: &str, problems: &mut Vec<Problem>) {
        for (line_no, fields) in tsv_lines(text) {
            let valence = fields.get(1).and_then(|v| v.parse::<f64>().ok());
            match (fields.first(), valence) {
                (Some(term), Some(v)) if (-4.0..=4.0).contains(&v) => {
                    let mut variants = Variants::default();
                    for flag in fields.get(2).map_or("", |f| f).split(',').map(str::trim) {
                        match flag {
                            "" => {}
                            "long" => variants.long_vowel = true,
                            "kana" => variants.kana = true,
                            other => problems.push(Problem::new(
                                file,
                                (line_no, 0),
                                format!("unknown flag `{other}` (expected `long` or `kana`)"),
                            )),
                        }
                    }
                    self.push(term, None, EntryKind::Sentiment(v), variants);
                }
                _ => problems.push(Problem::new(
                    file,
                    (line_no, 0),
                    "expected `term<TAB>valence[<TAB>flags]` with valence in -4..4",
                )),
            }
        }
    }

    fn load_modifiers_tsv(&mut self, file: &str, text: &str, problems: &mut Vec<Problem>) {
        for (line_no, fields) in tsv_lines(text) {
            let value = fields
                .get(2)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            let kind = match fields.get(1).copied() {
                Some("negation") => EntryKind::Negation,
                Some("booster") => EntryKind::Modifier(value),
                Some("contrast") => EntryKind::Contrast,
                _ => {
                    problems.push(Problem::new(
                        file,
                        (line_no, 0),
                        "expected `term<TAB>negation|booster|contrast<TAB>value`",
                    ));
                    continue;
                }
            };
            if let Some(term) = fields.first() {
                self.push(term, None, kind, Variants::default());
            }
        }
    }

    /// VADER's emoji list maps each emoji to an English description; the emoji's valence is
    /// the mean valence of the description's words that are in the lexicon so far. Entries
    /// in `emoji.tsv`, loaded after this, override the result for common emoji.
    fn load_emoji_descriptions(&mut self, file: &str, text: &str, problems: &mut Vec<Problem>) {
        let words: std::collections::HashMap<&str, f64, foldhash::fast::RandomState> = self
            .entries
            .iter()
            .filter_map(|e| match e.kind {
                EntryKind::Sentiment(v) if e.lang == Lang::En => Some((e.term.as_str(), v)),
                _ => None,
            })
            .collect();
        let mut derived = Vec::new();
        for (line_no, fields) in tsv_lines(text) {
            let (Some(emoji), Some(description)) = (fields.first(), fields.get(1)) else {
                problems.push(Problem::new(
                    file,
                    (line_no, 0),
                    "expected `emoji<TAB>description`",
                ));
                continue;
            };
            let lower = description.to_lowercase();
            let valences: Vec<f64> = lower
                .split(|c: char| !c.is_alphanumeric())
                .filter_map(|w| words.get(w).copied())
                .collect();
            if !valences.is_empty() {
                let mean = valences.iter().sum::<f64>() / valences.len() as f64;
                derived.push((emoji.to_string(), mean));
            }
        }
        for (emoji, valence) in derived {
            self.push(
                &emoji,
                Some(Lang::Any),
                EntryKind::Sentiment(valence),
                Variants::default(),
            );
        }
    }

    fn load_intents_tsv(&mut self, file: &str, text: &str, problems: &mut Vec<Problem>) {
        for (line_no, fields) in tsv_lines(text) {
            let parsed = (|| {
                let lang = parse_lang(fields.first()?)?;
                let intent = Intent::parse(fields.get(1)?)?;
                let term = fields.get(2)?;
                let weight: f64 = fields.get(3)?.parse().ok()?;
                Some((lang, intent, term, weight))
            })();
            match parsed {
                Some((lang, intent, term, weight)) => self.push(
                    term,
                    Some(lang),
                    EntryKind::Intent(intent, weight),
                    Variants::default(),
                ),
                None => problems.push(Problem::new(
                    file,
                    (line_no, 0),
                    "expected `lang<TAB>intent<TAB>term<TAB>weight`",
                )),
            }
        }
    }

    fn load_urgency_tsv(&mut self, file: &str, text: &str, problems: &mut Vec<Problem>) {
        for (line_no, fields) in tsv_lines(text) {
            let parsed = (|| {
                let lang = parse_lang(fields.first()?)?;
                let term = fields.get(1)?;
                let weight: f64 = fields.get(2)?.parse().ok()?;
                let reason = UrgencyReason::parse(fields.get(3)?)?;
                Some((lang, term, weight, reason))
            })();
            match parsed {
                Some((lang, term, weight, reason)) => self.push(
                    term,
                    Some(lang),
                    EntryKind::Urgency(weight, reason),
                    Variants::default(),
                ),
                None => problems.push(Problem::new(
                    file,
                    (line_no, 0),
                    "expected `lang<TAB>term<TAB>weight<TAB>reason`",
                )),
            }
        }
    }

    /// Adds the entries of a user lexicon file (TOML, see the module docs). Every problem in
    /// the file is reported, with its line.
    pub fn load_user_file(&mut self, file: &str, source: &str) -> Result<(), Vec<Problem>> {
        let parsed: UserLexicon = match toml::from_str(source) {
            Ok(parsed) => parsed,
            Err(e) => {
                let offset = e.span().map_or(0, |s| s.start);
                return Err(vec![Problem::at(
                    file,
                    source,
                    offset,
                    e.message().to_string(),
                )]);
            }
        };
        // The whole file read strictly gives the first structural problem its exact place;
        // each term is then read on its own, so that a wrong key or type in one does not
        // hide the problems of the others (those are placed at their term).
        let precise = toml::from_str::<StrictLexicon>(source).err().map(|e| {
            let at = e.span().map_or(0, |s| s.start);
            (at, Problem::at(file, source, at, e.message().to_string()))
        });
        let mut problems = Vec::new();
        for spanned in parsed.term {
            let span = spanned.span();
            let at = span.start;
            let term = match UserTerm::deserialize(spanned.into_inner()) {
                Ok(term) => term,
                Err(e) => {
                    problems.push(match &precise {
                        Some((offset, problem)) if span.contains(offset) => problem.clone(),
                        _ => Problem::at(file, source, at, e.message().to_string()),
                    });
                    continue;
                }
            };
            let reported = problems.len();
            let mut problem =
                |message: String| problems.push(Problem::at(file, source, at, message));
            if normalize(term.text.trim()).is_empty() {
                problem("`text` must not be empty".into());
                continue;
            }
            let lang = match term.lang.as_deref() {
                None => None,
                Some(code) => match parse_lang(code) {
                    Some(lang) => Some(lang),
                    None => {
                        problem(format!("unknown lang `{code}` (expected en, ja or any)"));
                        continue;
                    }
                },
            };
            let mut variants = Variants::default();
            for v in &term.variants {
                match v.as_str() {
                    "kana" => variants.kana = true,
                    "long" => variants.long_vowel = true,
                    other => problem(format!("unknown variant `{other}` (expected kana or long)")),
                }
            }
            let mut kinds = Vec::new();
            if let Some(v) = term.sentiment {
                if !(-4.0..=4.0).contains(&v) {
                    problem(format!("sentiment {v} is outside -4..4"));
                }
                kinds.push(EntryKind::Sentiment(v));
            }
            if term.negation {
                kinds.push(EntryKind::Negation);
            }
            if term.contrast {
                kinds.push(EntryKind::Contrast);
            }
            if let Some(m) = term.modifier {
                if !(-1.0..=1.0).contains(&m) {
                    problem(format!("modifier {m} is outside -1..1"));
                }
                kinds.push(EntryKind::Modifier(m));
            }
            if let Some(weight) = term.weight {
                if !(0.0..=10.0).contains(&weight) {
                    problem(format!("weight {weight} is outside 0..10"));
                }
            }
            if let Some(name) = &term.intent {
                match Intent::parse(name) {
                    Some(Intent::Other) | None => problem(format!(
                        "unknown intent `{name}` (expected complaint, question, request, outage or praise)"
                    )),
                    Some(intent) => kinds.push(EntryKind::Intent(intent, term.weight.unwrap_or(1.0))),
                }
            }
            if let Some(weight) = term.urgency {
                if !(0.0..=1.0).contains(&weight) {
                    problem(format!("urgency {weight} is outside 0..1"));
                }
                let reason = term.reason.as_deref().unwrap_or("time");
                match UrgencyReason::parse(reason) {
                    Some(reason) => kinds.push(EntryKind::Urgency(weight, reason)),
                    None => problem(format!("unknown urgency reason `{reason}`")),
                }
            }
            if kinds.is_empty() && problems.len() == reported {
                problems.push(Problem::at(file, source, at, format!(
                    "term `{}` says nothing: give sentiment, negation, contrast, modifier, intent or urgency",
                    term.text
                )));
            }
            for kind in kinds {
                self.push(&term.text, lang, kind, variants);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserLexicon {
    #[serde(default)]
    term: Vec<toml::Spanned<toml::Value>>,
}

/// The file as serde reads it in one go: only for the place of its first problem.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct StrictLexicon {
    #[serde(default)]
    term: Vec<UserTerm>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserTerm {
    text: String,
    lang: Option<String>,
    sentiment: Option<f64>,
    #[serde(default)]
    negation: bool,
    #[serde(default)]
    contrast: bool,
    modifier: Option<f64>,
    intent: Option<String>,
    weight: Option<f64>,
    urgency: Option<f64>,
    reason: Option<String>,
    #[serde(default)]
    variants: Vec<String>,
}

fn parse_lang(code: &str) -> Option<Lang> {
    match code {
        "en" => Some(Lang::En),
        "ja" => Some(Lang::Ja),
        "any" => Some(Lang::Any),
        _ => None,
    }
}

/// Lines of a TSV data file with their 1-based numbers, skipping blanks and `#` comments.
fn tsv_lines(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            None
        } else {
            Some((i + 1, line.split('\t').collect()))
        }
    })
}

/// An ASCII emoticon such as `:)` or `<3`: it begins or ends with punctuation.
pub fn is_emoticon(term: &str) -> bool {
    let ends = [term.chars().next(), term.chars().next_back()];
    term.is_ascii()
        && ends
            .iter()
            .any(|c| c.is_some_and(|c| c.is_ascii_punctuation() && c != '#' && c != '@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_data_files_are_well_formed() {
        let problems = Lexicon::check_builtin();
        assert!(
            problems.is_empty(),
            "{}",
            problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(Lexicon::builtin().len() > 10_000);
    }

    #[test]
    fn japanese_lexicon_is_sizeable() {
        let lexicon = Lexicon::builtin();
        let ja = lexicon
            .entries()
            .iter()
            .filter(|e| e.lang == Lang::Ja && matches!(e.kind, EntryKind::Sentiment(_)))
            .count();
        assert!(ja >= 2_500, "only {ja} Japanese polarity entries");
    }

    #[test]
    fn user_file_overrides_and_reports_every_problem_with_its_line() {
        let mut lexicon = Lexicon::empty();
        let ok = "[[term]]\ntext = \"War Zone\"\nsentiment = 0.0\n";
        lexicon.load_user_file("ok.toml", ok).unwrap();
        assert_eq!(lexicon.entries()[0].term, "war zone");

        let bad = "[[term]]\ntext = \"a\"\nsentiment = 9.0\n\n[[term]]\ntext = \"b\"\nintent = \"gossip\"\n\n[[term]]\ntext = \"c\"\n";
        let problems = lexicon.load_user_file("bad.toml", bad).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert_eq!(problems[0].line, 1);
        assert!(problems[0].message.contains("outside -4..4"));
        assert_eq!(problems[1].line, 5);
        assert!(problems[1].message.contains("gossip"));
        assert_eq!(problems[2].line, 9);

        let syntax = "[[term]]\ntext = \"a\"\nsentimnt = 1.0\n";
        let problems = lexicon.load_user_file("syntax.toml", syntax).unwrap_err();
        assert_eq!(problems[0].line, 3, "{problems:?}");

        // Structural problems of several terms come in one run.
        let two = "[[term]]\ntext = \"a\"\nsentimnt = 1.0\n[[term]]\ntext = 5\n[[term]]\ntext = \"c\"\nweight = inf\nintent = \"complaint\"\n";
        let problems = lexicon.load_user_file("two.toml", two).unwrap_err();
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [3, 4, 6], "{problems:?}");
        assert!(problems[2].message.contains("weight inf"), "{problems:?}");
    }

    #[test]
    fn emoticons_are_told_from_words() {
        assert!(is_emoticon(":)") && is_emoticon("<3") && is_emoticon("(^^)"));
        assert!(
            !is_emoticon("xd")
                && !is_emoticon("10/10")
                && !is_emoticon("don't")
                && !is_emoticon("#fail")
        );
    }
}
