//! Sentiment from lexicon hits: negation, modifiers, contrast, emphasis, in English and
//! Japanese.
//!
//! The model is VADER's (Hutto & Gilbert, 2014) — valences on a −4..4 scale, summed and
//! squashed into −1..1 — with rules of our own where Japanese differs: negation *follows* the
//! word it governs (`良く|ない`, `使え|ません`), modifiers precede it (`超|遅い`), and contrast
//! particles (`けど`, `のに`, `が、`) make the clause after them weigh more. Every hit's final
//! contribution and what changed it are kept for the explanation.

use earshot_text::Normalized;

use crate::lexicon::{Entry, EntryKind, Lang};

/// The knobs of the scorer. The defaults were tuned on the development sets in
/// `shared/data/sentiment` (see `docs/analyze.md`); change them there, with the numbers.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SentimentParams {
    /// Squashing constant: `score = s / sqrt(s² + alpha)`.
    pub alpha: f64,
    /// Factor applied to a negated English word.
    pub negation_en: f64,
    /// Factor applied to a negated Japanese word.
    pub negation_ja: f64,
    /// How many words before an English polarity word a negation or modifier may stand.
    pub scope_en_words: usize,
    /// How many characters may separate a Japanese word from the negation that follows it.
    pub scope_ja_negation_chars: usize,
    /// How many characters may separate a Japanese modifier from the word it modifies.
    pub scope_ja_modifier_chars: usize,
    /// Weight of polarity before a contrast word in the same sentence.
    pub before_contrast: f64,
    /// Weight of polarity after it.
    pub after_contrast: f64,
    /// Added to the magnitude of an English word written in capitals in a mixed-case post.
    pub caps: f64,
    /// Added to the magnitude of the sum per `!` (at most four).
    pub exclamation: f64,
    /// Magnitude taken off the raw sum before squashing: one mild word in a long post is
    /// closer to neutral than VADER says.
    pub dead_zone: f64,
    /// Magnitude taken off every polarity word's valence before anything else.
    pub word_floor: f64,
    /// Weight of polarity in a sentence that ends with a question mark: asking whether
    /// something is good is not saying it is.
    pub question_weight: f64,
    /// Exponent of the number of polar hits the sum is divided by: many mild words in a long
    /// text are not as strong as their plain sum.
    pub hit_damping: f64,
    /// Weight of an English word that is part of a capitalised name (`Bad Girls Club`).
    pub name_weight: f64,
    /// Valence given to complaint and outage cues (negative) and praise cues (positive)
    /// that are not polarity words already, times the cue's weight; 0 turns it off.
    pub cue_valence: f64,
}

impl Default for SentimentParams {
    fn default() -> Self {
        SentimentParams {
            alpha: 15.0,
            negation_en: -0.74,
            negation_ja: -0.8,
            scope_en_words: 3,
            scope_ja_negation_chars: 3,
            scope_ja_modifier_chars: 4,
            before_contrast: 0.5,
            after_contrast: 1.5,
            caps: 0.733,
            exclamation: 0.292,
            dead_zone: 0.0,
            name_weight: 0.0,
            question_weight: 0.2,
            hit_damping: 0.4,
            word_floor: 0.3,
            cue_valence: 1.5,
        }
    }
}

/// A lexicon hit chosen for scoring, in normalised-text offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LexHit {
    pub entry: u32,
    pub start: u32,
    pub end: u32,
}

/// What a hit finally contributed; why is in the [`Note`]s of its index.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Contribution {
    pub value: f64,
    /// The rules that applied, for the learned model's features.
    pub negated: bool,
    pub modified: bool,
    pub before_contrast: bool,
    pub after_contrast: bool,
}

/// What changed a hit's value on its way to its contribution. Kept as indices into the
/// entries, so that scoring builds no strings; [`Note::describe`] words it for an explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Note {
    InName,
    Shouted,
    /// Strengthened (or softened) by a modifier entry.
    Modified {
        by: u32,
        strengthened: bool,
    },
    Negated {
        by: u32,
    },
    InQuestion,
    BeforeContrast,
    AfterContrast,
}

impl Note {
    pub fn describe(self, entries: &[Entry]) -> String {
        let term = |by: u32| entries.get(by as usize).map_or("", |e| e.term.as_str());
        match self {
            Note::InName => "part of a name".to_string(),
            Note::Shouted => "written in capitals".to_string(),
            Note::Modified { by, strengthened } => format!(
                "{} by \"{}\"",
                if strengthened {
                    "strengthened"
                } else {
                    "softened"
                },
                term(by)
            ),
            Note::Negated { by } => format!("negated by \"{}\"", term(by)),
            Note::InQuestion => "in a question".to_string(),
            Note::BeforeContrast => "before a contrast".to_string(),
            Note::AfterContrast => "after a contrast".to_string(),
        }
    }
}

/// The post's text as the scorer sees it: normalised for offsets and matching, original
/// for how words were written (capitals).
pub(crate) struct Text<'a> {
    /// Normalised text, which hit offsets refer to.
    pub normalized: &'a str,
    source: &'a str,
    map: &'a Normalized,
    /// The whole post is in capitals (then capitals are no emphasis).
    all_caps: bool,
    /// Most words are capitalised (a headline), so capitals say nothing about names.
    title_case: bool,
}

impl<'a> Text<'a> {
    pub fn new(source: &'a str, normalized: &'a Normalized) -> Text<'a> {
        let all_caps = !source.bytes().any(|b| b.is_ascii_lowercase());
        let (mut words, mut capitalised) = (0, 0);
        for word in source.split_whitespace() {
            if word.starts_with(|c: char| c.is_ascii_alphabetic()) {
                words += 1;
                capitalised += usize::from(is_capitalised(word));
            }
        }
        let title_case = words >= 3 && capitalised * 10 >= words * 6;
        Text {
            normalized: normalized.as_str(),
            source,
            map: normalized,
            all_caps,
            title_case,
        }
    }

    /// The source text a hit came from (empty if the offsets do not fit, which the
    /// normaliser's map rules out).
    fn original(&self, start: u32, end: u32) -> (usize, usize, &'a str) {
        let (a, b) = self.map.source_span(start as usize, end as usize);
        (a, b, self.source.get(a..b).unwrap_or(""))
    }

    /// Written in capitals (`LOVE`) in a post that is not all capitals.
    fn is_shouted(&self, start: u32, end: u32) -> bool {
        let (_, _, span) = self.original(start, end);
        !self.all_caps
            && span.bytes().filter(u8::is_ascii_alphabetic).count() >= 2
            && !span.bytes().any(|b| b.is_ascii_lowercase())
    }

    /// Part of a run of capitalised words (`Bad Girls Club`, `Golden Globe`): a name, whose
    /// words carry no feeling of the writer.
    fn is_in_name(&self, start: u32, end: u32) -> bool {
        if self.title_case || self.all_caps {
            return false;
        }
        let (a, b, word) = self.original(start, end);
        if !is_capitalised(word) {
            return false;
        }
        let next = self
            .source
            .get(b..)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|rest| rest.split_whitespace().next());
        let before = self.source.get(..a).and_then(|s| s.strip_suffix(' '));
        let previous = before.and_then(|rest| rest.split_whitespace().next_back());
        let sentence_start = before.is_none_or(|rest| {
            rest.trim().is_empty() || rest.trim_end().ends_with(['.', '!', '?', ':', '"'])
        });
        // A capitalised first word of a sentence ("Happy Thursday!") is usually just that.
        !sentence_start
            && (next.is_some_and(is_capitalised) || previous.is_some_and(is_capitalised))
    }
}

/// `Word`: an ASCII capital followed by lower-case letters.
fn is_capitalised(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.clone().next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .take_while(|c| c.is_alphabetic())
            .all(|c| c.is_lowercase())
}

/// Scores `hits` (sorted by start; hits overlap only where several entries share one span,
/// like a word that is both a polarity word and a praise cue). Fills `out` with one contribution per
/// hit (zero for negations, modifiers and contrast words) and `notes` with why, each with the
/// index of its hit in order, and returns the score in [-1, 1].
pub(crate) fn score(
    params: &SentimentParams,
    entries: &[Entry],
    text: &Text<'_>,
    hits: &[LexHit],
    out: &mut Vec<Contribution>,
    notes: &mut Vec<(u32, Note)>,
) -> f64 {
    out.clear();
    out.resize(hits.len(), Contribution::default());
    notes.clear();
    let t = text.normalized;
    let mut sum = 0.0;
    for (i, hit) in hits.iter().enumerate() {
        let entry = &entries[hit.entry as usize];
        let EntryKind::Sentiment(valence) = entry.kind else {
            continue;
        };
        // Mild words (`want`, `okay`) say little on their own.
        let mut v = valence.signum() * (valence.abs() - params.word_floor).max(0.0);
        let mut note = |n: Note| notes.push((i as u32, n));
        let (mut negated, mut modified) = (false, false);
        if entry.lang == Lang::En
            && params.name_weight != 1.0
            && text.is_in_name(hit.start, hit.end)
        {
            v *= params.name_weight;
            note(Note::InName);
        }
        if entry.lang == Lang::En && text.is_shouted(hit.start, hit.end) {
            v += valence.signum() * params.caps;
            note(Note::Shouted);
        }
        match entry.lang {
            Lang::En => {
                for other in hits[..i].iter().rev() {
                    // A hit on the same span is not before this one.
                    let Some(gap) = between(t, other.end, hit.start) else {
                        continue;
                    };
                    let words = words_in(gap);
                    if words >= params.scope_en_words || has_break(gap) {
                        break;
                    }
                    let o = &entries[other.entry as usize];
                    if o.lang == Lang::Ja {
                        continue;
                    }
                    match o.kind {
                        EntryKind::Modifier(m) => {
                            let decay = [1.0, 0.95, 0.9].get(words).copied().unwrap_or(0.9);
                            v += v.signum() * m * decay;
                            modified = true;
                            note(Note::Modified {
                                by: other.entry,
                                strengthened: m >= 0.0,
                            });
                        }
                        EntryKind::Negation => {
                            v *= params.negation_en;
                            negated = true;
                            note(Note::Negated { by: other.entry });
                            break;
                        }
                        _ => {}
                    }
                }
            }
            Lang::Ja => {
                for other in hits[..i].iter().rev() {
                    let Some(gap) = between(t, other.end, hit.start) else {
                        continue;
                    };
                    if gap.chars().count() > params.scope_ja_modifier_chars || has_break(gap) {
                        break;
                    }
                    let o = &entries[other.entry as usize];
                    if let (EntryKind::Modifier(m), Lang::Ja) = (o.kind, o.lang) {
                        v += v.signum() * m;
                        modified = true;
                        note(Note::Modified {
                            by: other.entry,
                            strengthened: m >= 0.0,
                        });
                    }
                }
                for other in &hits[i + 1..] {
                    let Some(gap) = between(t, hit.end, other.start) else {
                        continue;
                    };
                    if gap.chars().count() > params.scope_ja_negation_chars
                        || has_break(gap)
                        || !is_particles(gap)
                    {
                        break;
                    }
                    let o = &entries[other.entry as usize];
                    if o.kind == EntryKind::Negation && o.lang == Lang::Ja {
                        v *= params.negation_ja;
                        negated = true;
                        note(Note::Negated { by: other.entry });
                        break;
                    }
                    if matches!(o.kind, EntryKind::Sentiment(_)) {
                        break;
                    }
                }
            }
            Lang::Any => {}
        }
        // Contrast: the clause after "but"/"けど" is what the writer means.
        let (sentence_start, sentence_end) = sentence_around(t, hit.start as usize);
        let mut before = false;
        let mut after = false;
        for other in hits {
            let o = &entries[other.entry as usize];
            if o.kind != EntryKind::Contrast
                || (other.start as usize) < sentence_start
                || (other.end as usize) > sentence_end
            {
                continue;
            }
            if other.start >= hit.end {
                before = true;
            } else if other.end <= hit.start {
                after = true;
            }
        }
        if params.question_weight != 1.0
            && t.get(sentence_end..).is_some_and(|r| r.starts_with('?'))
        {
            v *= params.question_weight;
            note(Note::InQuestion);
        }
        if before {
            v *= params.before_contrast;
            note(Note::BeforeContrast);
        }
        if after {
            v *= params.after_contrast;
            note(Note::AfterContrast);
        }
        out[i] = Contribution {
            value: v,
            negated,
            modified,
            before_contrast: before,
            after_contrast: after,
        };
        sum += v;
    }
    let polar = out.iter().filter(|c| c.value != 0.0).count();
    if polar > 1 && params.hit_damping != 0.0 {
        sum /= (polar as f64).powf(params.hit_damping);
    }
    if sum != 0.0 {
        let exclamations = t.bytes().filter(|&b| b == b'!').count().min(4) as f64;
        sum += sum.signum() * exclamations * params.exclamation;
        let magnitude = (sum.abs() - params.dead_zone).max(0.0);
        sum = sum.signum() * magnitude;
    }
    (sum / (sum * sum + params.alpha).sqrt()).clamp(-1.0, 1.0)
}

/// The text from the end of one hit to the start of a later one; `None` when the two
/// overlap (several entries can share a span), so that scope rules skip such pairs instead
/// of slicing backwards.
fn between(text: &str, from: u32, to: u32) -> Option<&str> {
    if from > to {
        return None;
    }
    text.get(from as usize..to as usize)
}

/// Words that start in `gap`.
fn words_in(gap: &str) -> usize {
    let mut words = 0;
    let mut in_word = false;
    for c in gap.chars() {
        let word = c.is_alphanumeric() || c == '\'';
        if word && !in_word {
            words += 1;
        }
        in_word = word;
    }
    words
}

/// A clause or sentence boundary: negation and modifiers do not reach across it.
fn has_break(gap: &str) -> bool {
    gap.contains(['.', '!', '?', ';', '。', '、', '\n', ',', '…'])
}

/// Hiragana particles and nothing else may stand between a Japanese word and its negation
/// (`良く|は|ない`, `好き|じゃ|ない`).
fn is_particles(gap: &str) -> bool {
    gap.chars().all(|c| {
        matches!(
            c,
            'は' | 'も' | 'で' | 'じ' | 'ゃ' | 'く' | 'そ' | 'う' | ' '
        )
    })
}

/// The sentence containing byte `at`, as a byte range (the whole text if `at` is not a
/// character boundary, which hits always are).
fn sentence_around(text: &str, at: usize) -> (usize, usize) {
    let is_end = |c: char| matches!(c, '.' | '!' | '?' | '。' | '\n');
    let (Some(head), Some(tail)) = (text.get(..at), text.get(at..)) else {
        return (0, text.len());
    };
    let start = head.rfind(is_end).map_or(0, |i| i + 1);
    let end = tail.find(is_end).map_or(text.len(), |i| at + i);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_between_offsets() {
        assert_eq!(words_in(&"not very good"[3..9]), 1);
        assert_eq!(words_in(&"not good"[3..4]), 0);
        assert_eq!(words_in(&"don't really like"[5..13]), 1);
    }

    #[test]
    fn overlapping_hits_have_nothing_between_them() {
        assert_eq!(between("オススメ", 12, 0), None);
        assert_eq!(between("オススメ", 3, 4), None, "not a character boundary");
        assert_eq!(between("good but", 4, 5), Some(" "));
    }

    #[test]
    fn sentences_end_at_punctuation() {
        let t = "bad. but good!";
        assert_eq!(sentence_around(t, 6), (4, 13));
        assert_eq!(sentence_around(t, 0), (0, 3));
    }
}
