//! Features of one post for the learned model: hashed word and character n-grams, and what
//! the lexicon pass already found, as one sparse vector.
//!
//! * **Words** (text in spaced scripts): unigrams and bigrams of lower-cased words; a word
//!   within three words after a negation (`not`, `never`, `n't`, …) is a different feature
//!   (`not good` teaches `good` under negation, not `good`); links, mentions and numbers
//!   become one token each (`<url>`, `<mention>`, `<num>`), hashtags keep their word.
//! * **Characters** (runs of kana, kanji, hangul): 1- to 3-grams, plus the first and last one
//!   and two characters of each run marked as such (`ない$` ends a clause), so Japanese needs
//!   no tokenizer.
//! * **Lexicon** ([`Dense`]): polarity sums by kind, negation in scope, contrast, modifiers,
//!   intent and urgency cue evidence, emoji and kaomoji, `?`/`!`, elongation, capitals,
//!   links/mentions/hashtags, durations and amounts, and positive words in a negative
//!   situation (sarcasm). Each is present three times — shared, and once more for the post's
//!   language — so what is learned from plentiful English data carries over to Japanese
//!   through the shared copy while each language keeps its own corrections.
//!
//! Hashing is xxh3 with a fixed seed per feature kind for words, and for character n-grams a
//! rolling combination of per-character hashes (each character is hashed once, each n-gram
//! is one multiply-and-mix away from the one before): integer arithmetic only, so the same
//! text gives the same buckets on every platform and a model trained anywhere runs anywhere.

use earshot_text::script::{is_cjk, is_spaced_word_char};
use earshot_text::{Entities, Normalized};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::lexicon::{Entry, EntryKind, Lang};
use crate::sentiment::{Contribution, LexHit};
use earshot_model::Intent;

/// How features are hashed; stored in every model file, so a model is always read with
/// the configuration it was trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    /// log2 of the number of hash buckets for n-grams.
    pub bits: u8,
    /// Longest word n-gram (1 or 2).
    pub word_ngrams: u8,
    /// Longest character n-gram (1 to 3).
    pub char_ngrams: u8,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            bits: 18,
            word_ngrams: 2,
            char_ngrams: 3,
        }
    }
}

impl FeatureConfig {
    /// Rows of the weight table: hash buckets, the dense features in three copies, then
    /// the stacked sentiment features.
    pub fn rows(&self) -> usize {
        (1usize << self.bits) + Dense::COUNT * 3 + Stacked::ALL.len()
    }

    /// The row of a stacked feature.
    pub fn stacked_row(&self, feature: Stacked) -> u32 {
        ((1usize << self.bits) + Dense::COUNT * 3 + feature as usize) as u32
    }

    /// Whether the values are ones this code can use.
    pub fn check(&self) -> Result<(), String> {
        if !(10..=24).contains(&self.bits) {
            return Err(format!("bits = {} (must be 10 to 24)", self.bits));
        }
        if !(1..=2).contains(&self.word_ngrams) {
            return Err(format!(
                "word_ngrams = {} (must be 1 or 2)",
                self.word_ngrams
            ));
        }
        if !(1..=3).contains(&self.char_ngrams) {
            return Err(format!(
                "char_ngrams = {} (must be 1 to 3)",
                self.char_ngrams
            ));
        }
        Ok(())
    }

    fn bucket(&self, hash: u64) -> u32 {
        (hash & ((1u64 << self.bits) - 1)) as u32
    }

    fn dense_row(&self, copy: usize, feature: Dense) -> u32 {
        ((1usize << self.bits) + copy * Dense::COUNT + feature as usize) as u32
    }
}

/// Where a feature came from, for the explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A word, at a span of the normalised text.
    Word { start: u32, end: u32 },
    /// A word under negation.
    NegatedWord { start: u32, end: u32 },
    /// Two words in a row (the span covers both).
    WordPair { start: u32, end: u32 },
    /// A link, a mention or a number, as one token.
    Token { start: u32, end: u32 },
    /// A character n-gram; `anchor` says whether it starts or ends its run.
    Chars {
        start: u32,
        end: u32,
        anchor: Anchor,
    },
    /// A lexicon feature, in the shared copy (`lang: None`) or the post's language's.
    Lexicon { feature: Dense, lang: Option<Lang> },
    /// The model's own sentiment, feeding its intents and flags.
    Stacked(Stacked),
}

/// The sentiment the model itself predicts, as a feature of its yes/no outputs: what is
/// learned about negativity from a quarter of a million tweets informs the complaint
/// output, whose labelled examples are far fewer (stacking; only the yes/no columns of
/// these rows have weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stacked {
    Negative,
    Positive,
}

impl Stacked {
    pub const ALL: [Stacked; 2] = [Stacked::Negative, Stacked::Positive];

    pub fn describe(self) -> &'static str {
        match self {
            Stacked::Negative => "the post reads negative (model sentiment)",
            Stacked::Positive => "the post reads positive (model sentiment)",
        }
    }
}

/// Whether a character n-gram is tied to the start or end of its run of characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    None,
    Start,
    End,
}

/// One feature occurrence: its row in the weight table, its value and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feature {
    pub row: u32,
    pub value: f32,
    pub origin: Origin,
}

/// The lexicon features. The order is part of the model format: append, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Dense {
    Bias,
    LexiconScore,
    PositiveSum,
    NegativeSum,
    PositiveWords,
    NegativeWords,
    Negated,
    AfterContrast,
    BeforeContrast,
    Contrast,
    Modified,
    ComplaintCues,
    QuestionCues,
    RequestCues,
    OutageCues,
    PraiseCues,
    UrgencyCues,
    QuestionMark,
    Exclamations,
    Elongated,
    Capitals,
    Links,
    Mentions,
    Hashtags,
    ReplyToAccount,
    EmojiPositive,
    EmojiNegative,
    PositiveInComplaint,
    PositiveWithDuration,
    PositiveAndNegative,
    Duration,
    Amount,
    Length,
    EndsWithQuestion,
    LastSentencePositive,
    LastSentenceNegative,
}

impl Dense {
    pub const COUNT: usize = 36;

    pub const ALL: [Dense; Dense::COUNT] = [
        Dense::Bias,
        Dense::LexiconScore,
        Dense::PositiveSum,
        Dense::NegativeSum,
        Dense::PositiveWords,
        Dense::NegativeWords,
        Dense::Negated,
        Dense::AfterContrast,
        Dense::BeforeContrast,
        Dense::Contrast,
        Dense::Modified,
        Dense::ComplaintCues,
        Dense::QuestionCues,
        Dense::RequestCues,
        Dense::OutageCues,
        Dense::PraiseCues,
        Dense::UrgencyCues,
        Dense::QuestionMark,
        Dense::Exclamations,
        Dense::Elongated,
        Dense::Capitals,
        Dense::Links,
        Dense::Mentions,
        Dense::Hashtags,
        Dense::ReplyToAccount,
        Dense::EmojiPositive,
        Dense::EmojiNegative,
        Dense::PositiveInComplaint,
        Dense::PositiveWithDuration,
        Dense::PositiveAndNegative,
        Dense::Duration,
        Dense::Amount,
        Dense::Length,
        Dense::EndsWithQuestion,
        Dense::LastSentencePositive,
        Dense::LastSentenceNegative,
    ];

    /// How the explanation names the feature.
    pub fn describe(self) -> &'static str {
        match self {
            Dense::Bias => "prior",
            Dense::LexiconScore => "lexicon sentiment score",
            Dense::PositiveSum => "positive words (lexicon)",
            Dense::NegativeSum => "negative words (lexicon)",
            Dense::PositiveWords => "number of positive words",
            Dense::NegativeWords => "number of negative words",
            Dense::Negated => "negated polarity words",
            Dense::AfterContrast => "polarity after a contrast",
            Dense::BeforeContrast => "polarity before a contrast",
            Dense::Contrast => "contrast word",
            Dense::Modified => "intensified or softened words",
            Dense::ComplaintCues => "complaint cues (lexicon)",
            Dense::QuestionCues => "question cues (lexicon)",
            Dense::RequestCues => "request cues (lexicon)",
            Dense::OutageCues => "outage cues (lexicon)",
            Dense::PraiseCues => "praise cues (lexicon)",
            Dense::UrgencyCues => "urgency cues (lexicon)",
            Dense::QuestionMark => "question mark",
            Dense::Exclamations => "exclamation marks",
            Dense::Elongated => "elongated word",
            Dense::Capitals => "words in capitals",
            Dense::Links => "links",
            Dense::Mentions => "mentions",
            Dense::Hashtags => "hashtags",
            Dense::ReplyToAccount => "addressed to an account",
            Dense::EmojiPositive => "positive emoji or kaomoji",
            Dense::EmojiNegative => "negative emoji or kaomoji",
            Dense::PositiveInComplaint => "positive words inside a complaint (sarcasm)",
            Dense::PositiveWithDuration => "positive words next to a wait or a count (sarcasm)",
            Dense::PositiveAndNegative => "positive and negative words together",
            Dense::Duration => "a duration or a count (45分, 3 hours, 3回)",
            Dense::Amount => "an amount of money",
            Dense::Length => "length",
            Dense::EndsWithQuestion => "ends with a question",
            Dense::LastSentencePositive => "positive words in the last sentence",
            Dense::LastSentenceNegative => "negative words in the last sentence",
        }
    }
}

/// What the lexicon pass found in a post: the input of the lexicon features.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lexical<'a> {
    pub entries: &'a [Entry],
    /// Polarity words, modifiers, negations, contrast words, with their contributions.
    pub hits: &'a [LexHit],
    pub contributions: &'a [Contribution],
    /// Intent and urgency cues.
    pub cues: &'a [LexHit],
    /// The lexicon's sentiment score.
    pub score: f64,
}

/// Seeds that keep feature kinds apart in the hash space.
mod seed {
    pub const WORD: u64 = 0x5744;
    pub const NEGATED: u64 = 0x4e57;
    pub const PAIR: u64 = 0x5750;
    pub const TOKEN: u64 = 0x544b;
    pub const CHARS: u64 = 0x4348;
    pub const CHARS_START: u64 = 0x4353;
    pub const CHARS_END: u64 = 0x4345;
}

/// English words after which up to three words are read as negated.
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "cannot", "cant", "nothing", "nobody", "none", "neither", "nor",
    "without", "dont", "doesnt", "didnt", "isnt", "wasnt", "arent", "werent", "wont", "wouldnt",
    "couldnt", "shouldnt", "havent", "hasnt", "hadnt",
];

/// Fills `out` with the features of a post: n-grams of `text`, and lexicon features from
/// `lexical`. `is_ja` selects which language copy of the lexicon features is set.
pub(crate) fn extract(
    config: &FeatureConfig,
    source: &str,
    text: &Normalized,
    entities: &Entities,
    lexical: &Lexical<'_>,
    is_ja: bool,
    out: &mut Vec<Feature>,
) {
    out.clear();
    let t = text.as_str();
    ngrams(config, t, entities, out);
    // Binary n-grams, scaled to unit length: long posts do not outvote short ones.
    if !out.is_empty() {
        let scale = 1.0 / (out.len() as f32).sqrt();
        out.iter_mut().for_each(|f| f.value = scale);
    }
    let mut dense = dense_values(t, entities, lexical);
    dense[Dense::Capitals as usize] = ln1p(shouted_words(source) as f64) as f32;
    dense[Dense::Elongated as usize] = f32::from(u8::from(text.is_elongated(0, t.len())));
    let lang = if is_ja { Lang::Ja } else { Lang::En };
    for (feature, value) in Dense::ALL.into_iter().zip(dense) {
        if value == 0.0 {
            continue;
        }
        for (copy, lang) in [(0, None), (1 + usize::from(is_ja), Some(lang))] {
            out.push(Feature {
                row: config.dense_row(copy, feature),
                value,
                origin: Origin::Lexicon { feature, lang },
            });
        }
    }
}

/// Word n-grams for spaced scripts and character n-grams for runs of CJK characters.
fn ngrams(config: &FeatureConfig, t: &str, entities: &Entities, out: &mut Vec<Feature>) {
    let mut words = Words::default();
    let mut i = 0;
    let bytes = t.as_bytes();
    while i < t.len() {
        if let Some(end) = entity_at(entities, i) {
            let token = if bytes[i] == b'#' {
                // A hashtag is its word (#refund is about refunds).
                let word = &t[i + 1..end];
                if !word.is_empty() && word.chars().all(is_spaced_word_char) {
                    words.push(config, word, i + 1, end, seed::WORD, out);
                } else {
                    cjk_run(config, word, i + 1, out);
                }
                i = end;
                continue;
            } else if bytes[i] == b'@' {
                "<mention>"
            } else {
                "<url>"
            };
            words.push(config, token, i, end, seed::TOKEN, out);
            i = end;
            continue;
        }
        let Some(c) = t[i..].chars().next() else {
            break;
        };
        if is_cjk(c) {
            let run = t[i..]
                .char_indices()
                .find(|&(_, c)| !is_cjk(c))
                .map_or(t.len() - i, |(n, _)| n);
            cjk_run(config, &t[i..i + run], i, out);
            words.break_sequence();
            i += run;
        } else if is_spaced_word_char(c) {
            let len = word_len(&t[i..]);
            let word = &t[i..i + len];
            if word.bytes().all(|b| b.is_ascii_digit()) {
                words.push(config, "<num>", i, i + len, seed::TOKEN, out);
            } else {
                words.push(config, word, i, i + len, seed::WORD, out);
            }
            i += len;
        } else {
            if matches!(
                c,
                '.' | ',' | '!' | '?' | ';' | ':' | '\n' | '。' | '、' | '…'
            ) {
                words.break_clause();
            }
            i += c.len_utf8();
        }
    }
}

/// The end of the URL, mention or hashtag starting at byte `at`, if one does.
fn entity_at(entities: &Entities, at: usize) -> Option<usize> {
    [&entities.urls, &entities.mentions, &entities.hashtags]
        .into_iter()
        .flat_map(|spans| spans.iter())
        .find(|&&(a, _)| a == at)
        .map(|&(_, b)| b)
}

/// Bytes of the word at the start of `s`: word characters, with apostrophes inside
/// (`don't`).
fn word_len(s: &str) -> usize {
    let mut len = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_spaced_word_char(c) {
            len = i + c.len_utf8();
        } else if c == '\''
            && len == i
            && chars
                .peek()
                .is_some_and(|&(_, next)| next.is_ascii_alphabetic())
        {
            continue;
        } else {
            break;
        }
    }
    len
}

/// The word-level state of the scan: the previous word (for bigrams) and how many words
/// remain in a negation's scope.
#[derive(Default)]
struct Words {
    previous: Option<(u64, u32)>,
    negated: u8,
}

impl Words {
    fn push(
        &mut self,
        config: &FeatureConfig,
        word: &str,
        start: usize,
        end: usize,
        seed: u64,
        out: &mut Vec<Feature>,
    ) {
        let (start, end) = (start as u32, end as u32);
        let hash = xxh3_64_with_seed(word.as_bytes(), seed);
        let (hash, origin) = if self.negated > 0 && seed == seed::WORD {
            self.negated -= 1;
            (
                xxh3_64_with_seed(word.as_bytes(), seed::NEGATED),
                Origin::NegatedWord { start, end },
            )
        } else if seed == seed::WORD {
            (hash, Origin::Word { start, end })
        } else {
            (hash, Origin::Token { start, end })
        };
        out.push(Feature {
            row: config.bucket(hash),
            value: 1.0,
            origin,
        });
        if config.word_ngrams >= 2 {
            if let Some((previous, previous_start)) = self.previous {
                let pair = combine(combine(seed::PAIR, previous), hash);
                out.push(Feature {
                    row: config.bucket(pair),
                    value: 1.0,
                    origin: Origin::WordPair {
                        start: previous_start,
                        end,
                    },
                });
            }
        }
        self.previous = Some((hash, start));
        if is_negation(word) {
            self.negated = 3;
        }
    }

    /// Punctuation ends a negation's scope and a bigram sequence.
    fn break_clause(&mut self) {
        self.previous = None;
        self.negated = 0;
    }

    /// Words on either side of Japanese text do not form a bigram.
    fn break_sequence(&mut self) {
        self.previous = None;
    }
}

fn is_negation(word: &str) -> bool {
    if word.ends_with("n't") {
        return true;
    }
    NEGATIONS.contains(&word)
}

/// Character 1- to `char_ngrams`-grams of a run of CJK characters starting at byte `at`,
/// and its first and last one and two characters, marked as such.
fn cjk_run(config: &FeatureConfig, run: &str, at: usize, out: &mut Vec<Feature>) {
    let n = usize::from(config.char_ngrams);
    // For the last three characters: where each starts, and the hash of the gram that ends
    // at the current character and starts there.
    let mut starts = [0usize; 3];
    let mut grams = [0u64; 3];
    let mut count = 0usize;
    let (mut first_two, mut last_two) = ([0u64; 2], [0u64; 2]);
    let (mut first_ends, mut last_starts) = ([0usize; 2], [0usize; 2]);
    for (i, c) in run.char_indices() {
        let end = i + c.len_utf8();
        let own = mix(u64::from(c) ^ seed::CHARS);
        // Grams ending here: the 1-gram, then each longer one extends the previous start's.
        grams = [own, combine(grams[0], own), combine(grams[1], own)];
        starts.rotate_right(1);
        starts[0] = i;
        count += 1;
        for len in 1..=n.min(count) {
            let (from, hash) = (starts[len - 1], grams[len - 1]);
            push_gram(config, hash, at, from, end, Anchor::None, out);
        }
        if count <= 2 {
            first_two[count - 1] = grams[count - 1];
            first_ends[count - 1] = end;
        }
        last_two = [own, if count >= 2 { grams[1] } else { own }];
        last_starts = [i, if count >= 2 { starts[1] } else { i }];
    }
    for len in 1..=count.min(2) {
        let head = combine(seed::CHARS_START, first_two[len - 1]);
        push_gram(config, head, at, 0, first_ends[len - 1], Anchor::Start, out);
        let tail = combine(seed::CHARS_END, last_two[len - 1]);
        push_gram(
            config,
            tail,
            at,
            last_starts[len - 1],
            run.len(),
            Anchor::End,
            out,
        );
    }
}

fn push_gram(
    config: &FeatureConfig,
    hash: u64,
    at: usize,
    from: usize,
    to: usize,
    anchor: Anchor,
    out: &mut Vec<Feature>,
) {
    out.push(Feature {
        row: config.bucket(hash),
        value: 1.0,
        origin: Origin::Chars {
            start: (at + from) as u32,
            end: (at + to) as u32,
            anchor,
        },
    });
}

/// A 64-bit finaliser (the one of SplitMix64): every input bit affects every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The hash of a sequence from the hash of its prefix and of its next element (order
/// matters: `combine(a, b) != combine(b, a)`).
fn combine(prefix: u64, next: u64) -> u64 {
    mix(prefix.rotate_left(23) ^ next.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The lexicon features' values, indexed like [`Dense::ALL`].
fn dense_values(t: &str, entities: &Entities, lexical: &Lexical<'_>) -> [f32; Dense::COUNT] {
    let mut v = [0f32; Dense::COUNT];
    let mut set = |feature: Dense, value: f64| v[feature as usize] = value as f32;
    set(Dense::Bias, 1.0);
    set(Dense::LexiconScore, lexical.score);

    let (mut pos, mut neg, mut pos_words, mut neg_words) = (0.0, 0.0, 0.0, 0.0);
    let (mut negated, mut after, mut before, mut modified) = (0.0, 0.0, 0.0, 0.0);
    let (mut emoji_pos, mut emoji_neg, mut contrast) = (0.0, 0.0, false);
    let (mut last_pos, mut last_neg) = (0.0, 0.0);
    // Reviews and long posts end with their verdict (「…でも満足です」).
    let last_sentence = last_sentence_start(t);
    for (hit, c) in lexical.hits.iter().zip(lexical.contributions) {
        let entry = &lexical.entries[hit.entry as usize];
        match entry.kind {
            EntryKind::Contrast => contrast = true,
            EntryKind::Sentiment(_) if c.value != 0.0 => {
                let value = c.value / 4.0;
                if hit.start as usize >= last_sentence {
                    if value > 0.0 {
                        last_pos += value;
                    } else {
                        last_neg -= value;
                    }
                }
                if entry.lang == Lang::Any {
                    if value > 0.0 {
                        emoji_pos += value;
                    } else {
                        emoji_neg -= value;
                    }
                } else if value > 0.0 {
                    pos += value;
                    pos_words += 1.0;
                } else {
                    neg -= value;
                    neg_words += 1.0;
                }
                negated += f64::from(u8::from(c.negated));
                modified += f64::from(u8::from(c.modified));
                if c.after_contrast {
                    after += value;
                }
                if c.before_contrast {
                    before += value;
                }
            }
            _ => {}
        }
    }
    set(Dense::PositiveSum, pos.min(2.0));
    set(Dense::NegativeSum, neg.min(2.0));
    set(Dense::PositiveWords, ln1p(pos_words));
    set(Dense::NegativeWords, ln1p(neg_words));
    set(Dense::Negated, ln1p(negated));
    set(Dense::AfterContrast, after.clamp(-2.0, 2.0));
    set(Dense::BeforeContrast, before.clamp(-2.0, 2.0));
    set(Dense::Contrast, f64::from(u8::from(contrast)));
    set(Dense::Modified, ln1p(modified));
    set(Dense::LastSentencePositive, last_pos.min(2.0));
    set(Dense::LastSentenceNegative, last_neg.min(2.0));
    set(Dense::EmojiPositive, emoji_pos.min(2.0));
    set(Dense::EmojiNegative, emoji_neg.min(2.0));

    let mut evidence = [0.0f64; 6];
    let mut urgency = 0.0;
    for cue in lexical.cues {
        match lexical.entries[cue.entry as usize].kind {
            EntryKind::Intent(intent, weight) => evidence[intent as usize] += weight,
            EntryKind::Urgency(weight, _) => urgency += weight,
            _ => {}
        }
    }
    let cue = |intent: Intent| evidence[intent as usize].min(2.0);
    set(Dense::ComplaintCues, cue(Intent::Complaint));
    set(Dense::QuestionCues, cue(Intent::Question));
    set(Dense::RequestCues, cue(Intent::Request));
    set(Dense::OutageCues, cue(Intent::Outage));
    set(Dense::PraiseCues, cue(Intent::Praise));
    set(Dense::UrgencyCues, urgency.min(2.0));

    // One pass for the punctuation, length and digit counts the features below need. A
    // `?` or a digit inside a link (`/?c=7`) is not the writer's.
    let (mut questions, mut exclamations, mut chars, mut digits) = (0usize, 0usize, 0usize, false);
    let mut links = entities.urls.iter().peekable();
    for (i, b) in t.bytes().enumerate() {
        while links.peek().is_some_and(|&&(_, end)| end <= i) {
            links.next();
        }
        // Count characters by their first byte.
        chars += usize::from(b & 0xC0 != 0x80);
        if links.peek().is_some_and(|&&(start, _)| start <= i) {
            continue;
        }
        match b {
            b'?' => questions += 1,
            b'!' => exclamations += 1,
            b'0'..=b'9' => digits = true,
            _ => {}
        }
    }
    set(Dense::QuestionMark, f64::from(u8::from(questions > 0)));
    set(Dense::Exclamations, exclamations.min(4) as f64 / 4.0);
    set(
        Dense::EndsWithQuestion,
        f64::from(u8::from(t.trim_end().ends_with('?'))),
    );
    set(Dense::Links, ln1p(entities.urls.len() as f64));
    set(Dense::Mentions, ln1p(entities.mentions.len() as f64));
    set(Dense::Hashtags, ln1p(entities.hashtags.len() as f64));
    set(
        Dense::ReplyToAccount,
        f64::from(u8::from(
            entities.mentions.first().is_some_and(|m| m.0 == 0),
        )),
    );
    let duration = digits && has_duration(t);
    let amount = digits && has_amount(t);
    set(Dense::Duration, f64::from(u8::from(duration)));
    set(Dense::Amount, f64::from(u8::from(amount)));
    let complaint_cues = cue(Intent::Complaint) + cue(Intent::Outage);
    let positive = pos.min(1.0);
    set(
        Dense::PositiveInComplaint,
        positive * complaint_cues.min(1.0),
    );
    set(
        Dense::PositiveWithDuration,
        positive * f64::from(u8::from(duration)),
    );
    set(Dense::PositiveAndNegative, positive * neg.min(1.0));
    set(Dense::Length, ln1p(chars as f64) / 6.0);
    v
}

/// Where the last sentence of `t` starts: after the last sentence end that has text after
/// it (a closing `。` or `!` does not start an empty sentence).
fn last_sentence_start(t: &str) -> usize {
    let body = t.trim_end_matches(|c: char| {
        c.is_whitespace() || matches!(c, '.' | '!' | '?' | '。' | '！' | '？' | '…')
    });
    body.rfind(['.', '!', '?', '。', '\n']).map_or(0, |i| {
        i + body[i..].chars().next().map_or(1, char::len_utf8)
    })
}

/// Words of two or more capitals in a text that is not all capitals (`charged TWICE`).
fn shouted_words(source: &str) -> usize {
    if !source.bytes().any(|b| b.is_ascii_lowercase()) {
        return 0;
    }
    source
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 2 && w.bytes().all(|b| b.is_ascii_uppercase()))
        .count()
}

fn ln1p(x: f64) -> f64 {
    x.ln_1p()
}

/// Units that turn a number into a wait or a count: `45分`, `3 hours`, `3回`, `third`.
const DURATION_UNITS: &[&str] = &[
    "分", "時間", "日", "週間", "週", "ヶ月", "か月", "カ月", "回", "度", "件", "年", "min",
    "mins", "minute", "minutes", "hr", "hrs", "hour", "hours", "day", "days", "week", "weeks",
    "month", "months", "times", "calls", "emails", "attempts", "tries",
];

/// A number followed by a unit of time or a count.
fn has_duration(t: &str) -> bool {
    let mut rest = t;
    while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
        let after = rest[i..].trim_start_matches(|c: char| c.is_ascii_digit() || c == ',');
        let after = after.trim_start_matches([' ', '+']);
        if DURATION_UNITS.iter().any(|u| {
            after.starts_with(u)
                && after[u.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_ascii_alphabetic())
        }) {
            return true;
        }
        rest = after;
    }
    false
}

/// An amount of money: `¥3,000`, `3000円`, `$40`, `40 dollars`.
fn has_amount(t: &str) -> bool {
    let mut rest = t;
    while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
        let before = rest[..i].chars().next_back();
        if matches!(before, Some('$' | '¥' | '€' | '£')) {
            return true;
        }
        let after =
            rest[i..].trim_start_matches(|c: char| c.is_ascii_digit() || c == ',' || c == '.');
        let after = after.trim_start();
        if ["円", "万円", "ドル", "dollars", "bucks", "usd", "yen"]
            .iter()
            .any(|u| after.starts_with(u))
        {
            return true;
        }
        rest = after;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_text::find_entities;

    fn grams(text: &str) -> Vec<(String, Origin)> {
        let config = FeatureConfig::default();
        let mut n = Normalized::new();
        n.normalize(text);
        let mut e = Entities::default();
        find_entities(n.as_str(), &mut e);
        let mut out = Vec::new();
        ngrams(&config, n.as_str(), &e, &mut out);
        out.into_iter()
            .map(|f| {
                let (a, b) = match f.origin {
                    Origin::Word { start, end }
                    | Origin::NegatedWord { start, end }
                    | Origin::WordPair { start, end }
                    | Origin::Token { start, end }
                    | Origin::Chars { start, end, .. } => (start, end),
                    Origin::Lexicon { .. } | Origin::Stacked(_) => (0, 0),
                };
                (n.as_str()[a as usize..b as usize].to_string(), f.origin)
            })
            .collect()
    }

    #[test]
    fn words_pairs_negation_and_tokens() {
        let g = grams("@help not good at all. Call 3 times https://x.co/a #refund");
        let words: Vec<&str> = g.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            words,
            [
                "@help",
                "not",
                "@help not",
                "good",
                "not good",
                "at",
                "good at",
                "all",
                "at all",
                "call",
                "3",
                "call 3",
                "times",
                "3 times",
                "https://x.co/a",
                "times https://x.co/a",
                "refund",
                "https://x.co/a #refund"
            ]
        );
        assert!(matches!(g[3].1, Origin::NegatedWord { .. }), "{:?}", g[3]);
        assert!(matches!(g[9].1, Origin::Word { .. }), "the clause ended");
        assert!(matches!(g[10].1, Origin::Token { .. }), "a number is <num>");
    }

    #[test]
    fn japanese_runs_give_character_grams_with_anchors() {
        let g = grams("待たされた");
        let texts: Vec<&str> = g.iter().map(|(s, _)| s.as_str()).collect();
        assert!(texts.contains(&"待たさ"));
        assert!(texts.contains(&"れた"));
        let ends: Vec<&str> = g
            .iter()
            .filter(|(_, o)| {
                matches!(
                    o,
                    Origin::Chars {
                        anchor: Anchor::End,
                        ..
                    }
                )
            })
            .map(|(s, _)| s.as_str())
            .collect();
        assert_eq!(ends, ["た", "れた"]);
        // 5 characters: 5 + 4 + 3 grams, and 2 + 2 anchored.
        assert_eq!(g.len(), 16);
    }

    #[test]
    fn durations_and_amounts() {
        assert!(has_duration("サポートに繋がるまで45分"));
        assert!(has_duration("on hold for 2 hours"));
        assert!(has_duration("3回電話して"));
        assert!(!has_duration("iphone 15 pro"));
        assert!(!has_duration("45minutesago"));
        assert!(has_amount("¥3,000"));
        assert!(has_amount("3000円も"));
        assert!(has_amount("charged $40 twice"));
        assert!(!has_amount("3回"));
    }

    #[test]
    fn the_last_sentence_is_the_verdict() {
        let t = "高かった。でも満足です。";
        assert_eq!(&t[last_sentence_start(t)..], "でも満足です。");
        assert_eq!(last_sentence_start("one sentence"), 0);
        assert_eq!(&"bad. good!"[last_sentence_start("bad. good!")..], " good!");
    }

    #[test]
    fn punctuation_inside_links_is_not_the_writers() {
        let features = |text: &str| {
            let mut n = Normalized::new();
            n.normalize(text);
            let mut e = Entities::default();
            find_entities(n.as_str(), &mut e);
            let lexical = Lexical {
                entries: &[],
                hits: &[],
                contributions: &[],
                cues: &[],
                score: 0.0,
            };
            dense_values(n.as_str(), &e, &lexical)
        };
        let in_link = features("claim it: https://x.example.net/?c=1");
        assert_eq!(in_link[Dense::QuestionMark as usize], 0.0);
        let asked = features("is it down? https://x.example.net/");
        assert_eq!(asked[Dense::QuestionMark as usize], 1.0);
    }

    #[test]
    fn config_is_checked() {
        assert!(FeatureConfig::default().check().is_ok());
        let bad = FeatureConfig {
            bits: 40,
            ..FeatureConfig::default()
        };
        assert!(bad.check().unwrap_err().contains("bits"));
    }
}
