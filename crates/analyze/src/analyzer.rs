//! The analyzer: one scan of a post, then sentiment, intents, urgency, influence, watchlists
//! — decided by the learned model when there is one, by the lexicon's rules otherwise.

mod watch;

use std::collections::HashMap;

use earshot_model::{Analysis, Hit, HitKind, Intent, Post, Sentiment};
use earshot_text::{detect_lang, find_entities, normalize, Entities, Normalized};
use regex::RegexSet;

use crate::error::AnalyzeError;
use crate::learned::{self, features, Feature, FeatureConfig, Model};
use crate::lexicon::{Entry, EntryKind, Lang, Lexicon, UrgencyReason};
use crate::matcher::{Matcher, MatcherBuilder, RawMatch, Target};
use crate::sentiment::{self, Contribution, LexHit, Note, SentimentParams};
use crate::signals::{self, IntentEvidence, SignalParams};
use crate::watchlist::Watchlists;
use watch::entity_name;

/// Scores posts. Build one per configuration and share it (it is `Sync`); give each thread
/// its own [`Scratch`].
#[derive(Debug)]
pub struct Analyzer {
    entries: Vec<Entry>,
    /// For each intent cue entry, the polarity entry it lends where no polarity word is.
    cue_polarity: Vec<u32>,
    watchlists: Watchlists,
    regex_set: Option<RegexSet>,
    matcher: Matcher,
    sentiment: SentimentParams,
    signals: SignalParams,
    /// Decides sentiment, intents and flags when present.
    model: Option<Model>,
    /// How many features the explanation lists per model decision.
    explain_features: usize,
    /// Whether analyses carry their explanation (hits, reasons, entities, the model's
    /// features); the scores are the same either way.
    explain: bool,
}

/// Sizes of a built analyzer, for logs and capacity planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyzerStats {
    pub lexicon_entries: usize,
    pub watchlists: usize,
    pub watch_terms: usize,
    /// Distinct strings in the automaton (terms, variants, aliases).
    pub patterns: usize,
    /// Heap bytes of the automaton.
    pub automaton_bytes: usize,
}

/// Per-thread buffers reused from post to post, so analysing allocates little.
#[derive(Debug, Default)]
pub struct Scratch {
    text: Normalized,
    entities: Entities,
    raw: Vec<RawMatch>,
    lex: Vec<LexHit>,
    cues: Vec<LexHit>,
    contributions: Vec<Contribution>,
    /// Why each contribution is what it is: (index into `lex`, note).
    notes: Vec<(u32, Note)>,
    urgency_cues: Vec<(UrgencyReason, f64, u32)>,
    /// (term, start, end), sorted by term then start.
    watch_hits: Vec<(u32, u32, u32)>,
    /// (mask, start, end).
    mask_hits: Vec<(u32, u32, u32)>,
    /// (regex, start, end).
    regex_hits: Vec<(u32, u32, u32)>,
    candidates: Vec<bool>,
    features: Vec<Feature>,
    /// The lexicon's sentiment score of the post being analysed.
    lexicon_score: f64,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch::default()
    }
}

impl Analyzer {
    /// Builds an analyzer from a lexicon and watchlists with the default parameters.
    pub fn new(lexicon: &Lexicon, watchlists: Watchlists) -> Result<Analyzer, AnalyzeError> {
        Analyzer::with_params(
            lexicon,
            watchlists,
            SentimentParams::default(),
            SignalParams::default(),
        )
    }

    /// The built-in lexicon and model, and no watchlists: what `earshot explain` uses
    /// without a config.
    pub fn builtin() -> Result<Analyzer, AnalyzeError> {
        let model = Model::builtin().map_err(|e| AnalyzeError::Model(e.to_string()))?;
        Ok(Analyzer::new(&Lexicon::builtin(), Watchlists::empty())?.with_model(model))
    }

    /// The same analyzer, with `model` deciding sentiment, intents and flags.
    pub fn with_model(mut self, model: Model) -> Analyzer {
        self.model = Some(model);
        self
    }

    /// The same analyzer, with the lexicon's rules deciding (as before models existed).
    pub fn without_model(mut self) -> Analyzer {
        self.model = None;
        self
    }

    /// The model that decides, if any.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    /// How many features the explanation lists per model decision (default 3; 0 for none,
    /// which keeps scored records small and analysis fastest).
    pub fn with_explained_features(mut self, count: usize) -> Analyzer {
        self.explain_features = count;
        self
    }

    /// Whether analyses carry their explanation: the lexicon hits, the urgency and influence
    /// reasons, hashtags, mentions and links, and the model's features (on by default). Off,
    /// an analysis holds the scores, intents, flags, watch matches and model probabilities
    /// only — what routing reads — and no string is built for what would explain them.
    pub fn with_explanation(mut self, explain: bool) -> Analyzer {
        self.explain = explain;
        self
    }

    /// Whether analyses carry their explanation.
    pub fn explains(&self) -> bool {
        self.explain
    }

    pub fn with_params(
        lexicon: &Lexicon,
        watchlists: Watchlists,
        sentiment: SentimentParams,
        signals: SignalParams,
    ) -> Result<Analyzer, AnalyzeError> {
        let mut entries = dedupe(lexicon.entries());
        let matched = entries.len();
        let cue_polarity = add_cue_polarity(&mut entries, sentiment.cue_valence);
        let mut builder = MatcherBuilder::default();
        for (i, entry) in entries[..matched].iter().enumerate() {
            let target = Target::Lexicon(i as u32);
            builder.add(&entry.term, target);
            for variant in variants_of(entry) {
                builder.add(&variant, target);
            }
        }
        for (i, term) in watchlists.terms.iter().enumerate() {
            for pattern in &term.patterns {
                builder.add(pattern, Target::Watch(i as u32));
            }
        }
        for (i, mask) in watchlists.masks.iter().enumerate() {
            for pattern in &mask.patterns {
                builder.add(pattern, Target::Mask(i as u32));
            }
        }
        // Elongation aliases last, so that they never shadow a real term.
        for (i, entry) in entries[..matched].iter().enumerate() {
            if entry.lang == Lang::En && matches!(entry.kind, EntryKind::Sentiment(_)) {
                for alias in elongation_aliases(&entry.term) {
                    builder.add_elongation_alias(&alias, Target::Lexicon(i as u32));
                }
            }
        }
        let matcher = builder.build()?;
        let regex_set = if watchlists.regexes.is_empty() {
            None
        } else {
            let sources = watchlists.regexes.iter().map(|(_, re)| re.as_str());
            Some(
                regex::RegexSetBuilder::new(sources)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| AnalyzeError::Automaton(e.to_string()))?,
            )
        };
        Ok(Analyzer {
            entries,
            cue_polarity,
            watchlists,
            regex_set,
            matcher,
            sentiment,
            signals,
            model: None,
            explain_features: 3,
            explain: true,
        })
    }

    pub fn stats(&self) -> AnalyzerStats {
        AnalyzerStats {
            lexicon_entries: self.entries.len(),
            watchlists: self.watchlists.len(),
            watch_terms: self.watchlists.term_count(),
            patterns: self.matcher.pattern_count(),
            automaton_bytes: self.matcher.memory_usage(),
        }
    }

    /// The watchlists this analyzer evaluates.
    pub fn watchlists(&self) -> &Watchlists {
        &self.watchlists
    }

    /// Analyses one post with fresh buffers. Prefer [`Analyzer::analyze_with`] in loops.
    pub fn analyze(&self, post: &Post) -> Analysis {
        self.analyze_with(post, &mut Scratch::new())
    }

    /// Analyses one post, reusing `scratch`.
    pub fn analyze_with(&self, post: &Post, scratch: &mut Scratch) -> Analysis {
        let s = scratch;
        let source = post.text.as_str();
        let score = self.lexical_pass(source, s);
        let text = s.text.as_str();
        let lang = match post.lang.as_deref() {
            Some(lang) if !lang.is_empty() => lang.to_lowercase(),
            _ => detect_lang(text).to_string(),
        };
        let explain = self.explain;
        let mut evidence = IntentEvidence::default();
        s.urgency_cues.clear();
        for cue in &s.cues {
            let entry = &self.entries[cue.entry as usize];
            match entry.kind {
                EntryKind::Intent(intent, weight) => evidence.add(intent, weight),
                EntryKind::Urgency(weight, reason) => {
                    s.urgency_cues.push((reason, weight, cue.entry))
                }
                _ => {}
            }
        }
        let (sentiment, intents, flags, model) = match &self.model {
            Some(model) => {
                self.extract_features(source, model.features(), lang.starts_with("ja"), s);
                let explained = if explain { self.explain_features } else { 0 };
                let d = learned::decide(model, &s.features, &s.text, explained);
                (d.sentiment, d.intents, d.flags, Some(d.output))
            }
            None => {
                let intents = signals::intents(&self.signals, evidence, text.contains('?'), score);
                (Sentiment::from_score(score), intents, Vec::new(), None)
            }
        };
        let (urgency, urgency_reasons) = signals::urgency(
            &intents,
            sentiment.score,
            &s.urgency_cues,
            |entry| self.entries[entry as usize].term.as_str(),
            explain,
        );
        let (influence, influence_reasons) = signals::influence(
            post.author.followers,
            post.author.verified,
            &post.engagement,
            explain,
        );
        let watch = self.evaluate_watchlists(post, &lang, s);
        let mut analysis = Analysis {
            sentiment,
            intents,
            urgency,
            influence,
            watch,
            urgency_reasons,
            influence_reasons,
            lang,
            flags,
            model,
            ..Analysis::default()
        };
        if explain {
            analysis.hits = self.explain_hits(s);
            let entity_texts = |spans: &[(usize, usize)]| -> Vec<String> {
                spans
                    .iter()
                    .map(|&(a, b)| entity_name(s.text.as_str(), a, b).to_string())
                    .collect()
            };
            analysis.hashtags = entity_texts(&s.entities.hashtags);
            analysis.mentions = entity_texts(&s.entities.mentions);
            analysis.urls = s
                .entities
                .urls
                .iter()
                .map(|&(a, b)| {
                    let (a, b) = s.text.source_span(a, b);
                    source.get(a..b).unwrap_or_default().to_string()
                })
                .collect();
        }
        analysis
    }

    /// Why the model gives `output` the probability it does for `post`, decided or not: the
    /// `top` features that pushed toward it most. Empty without a model. For people asking
    /// "why is this not a complaint?" (`earshot explain --why complaint`).
    pub fn why(
        &self,
        post: &Post,
        output: learned::Output,
        top: usize,
        scratch: &mut Scratch,
    ) -> Vec<earshot_model::ModelFeature> {
        let Some(model) = &self.model else {
            return Vec::new();
        };
        let source = post.text.as_str();
        self.lexical_pass(source, scratch);
        let lang = match post.lang.as_deref() {
            Some(lang) if !lang.is_empty() => lang.to_lowercase(),
            _ => detect_lang(scratch.text.as_str()).to_string(),
        };
        self.extract_features(source, model.features(), lang.starts_with("ja"), scratch);
        learned::why(model, &scratch.features, &scratch.text, output, top)
    }

    /// The learned model's features of `text` under `config`, whether or not this
    /// analyzer has a model: what `earshot train` learns from.
    pub fn features_for<'s>(
        &self,
        text: &str,
        config: &FeatureConfig,
        scratch: &'s mut Scratch,
    ) -> &'s [Feature] {
        self.lexical_pass(text, scratch);
        let is_ja = detect_lang(scratch.text.as_str()) == "ja";
        self.extract_features(text, config, is_ja, scratch);
        &scratch.features
    }

    /// Normalises and scans `source`, picks the lexicon hits and scores them: fills the
    /// scratch's text, entities, hits, cues and contributions, and returns the lexicon's
    /// sentiment score.
    fn lexical_pass(&self, source: &str, s: &mut Scratch) -> f64 {
        s.text.normalize(source);
        find_entities(s.text.as_str(), &mut s.entities);
        self.matcher.scan(&s.text, &s.entities, &mut s.raw);
        s.lex.clear();
        s.cues.clear();
        s.watch_hits.clear();
        s.mask_hits.clear();
        for m in &s.raw {
            for target in self.matcher.targets(m.pattern) {
                match *target {
                    Target::Lexicon(e) => {
                        let hit = LexHit {
                            entry: e,
                            start: m.start,
                            end: m.end,
                        };
                        if self.entries[e as usize].kind.is_cue() {
                            s.cues.push(hit);
                        } else {
                            s.lex.push(hit);
                        }
                    }
                    Target::Watch(t) => s.watch_hits.push((t, m.start, m.end)),
                    Target::Mask(k) => s.mask_hits.push((k, m.start, m.end)),
                }
            }
        }
        longest_first(&mut s.lex, SameSpan::KeepLast);
        longest_first(&mut s.cues, SameSpan::KeepAll);
        self.lend_cue_polarity(&s.cues, &mut s.lex);
        let score_text = sentiment::Text::new(source, &s.text);
        let score = sentiment::score(
            &self.sentiment,
            &self.entries,
            &score_text,
            &s.lex,
            &mut s.contributions,
            &mut s.notes,
        );
        s.lexicon_score = signals::round3(score);
        s.lexicon_score
    }

    /// Fills the scratch's features from what [`Analyzer::lexical_pass`] left in it.
    fn extract_features(&self, source: &str, config: &FeatureConfig, is_ja: bool, s: &mut Scratch) {
        let lexical = features::Lexical {
            entries: &self.entries,
            hits: &s.lex,
            contributions: &s.contributions,
            cues: &s.cues,
            score: s.lexicon_score,
        };
        features::extract(
            config,
            source,
            &s.text,
            &s.entities,
            &lexical,
            is_ja,
            &mut s.features,
        );
    }

    /// Adds the polarity of complaint, outage and praise cues whose span holds no polarity
    /// word or modifier (see [`add_cue_polarity`]).
    fn lend_cue_polarity(&self, cues: &[LexHit], lex: &mut Vec<LexHit>) {
        let before = lex.len();
        let mut last: Option<(u32, u32)> = None;
        for cue in cues {
            let Some(&derived) = self.cue_polarity.get(cue.entry as usize) else {
                continue;
            };
            if derived == u32::MAX || last == Some((cue.start, cue.end)) {
                continue;
            }
            let overlaps = lex[..before]
                .iter()
                .any(|h| h.start < cue.end && cue.start < h.end);
            if !overlaps {
                lex.push(LexHit {
                    entry: derived,
                    start: cue.start,
                    end: cue.end,
                });
                last = Some((cue.start, cue.end));
            }
        }
        if lex.len() > before {
            lex.sort_unstable_by_key(|h| (h.start, h.end));
        }
    }

    fn explain_hits(&self, s: &Scratch) -> Vec<Hit> {
        let mut hits = Vec::with_capacity(s.lex.len() + s.cues.len());
        for (i, (hit, contribution)) in s.lex.iter().zip(&s.contributions).enumerate() {
            let entry = &self.entries[hit.entry as usize];
            let (kind, value) = match entry.kind {
                EntryKind::Sentiment(v) => (HitKind::Sentiment, v),
                EntryKind::Negation => (HitKind::Negation, 0.0),
                EntryKind::Modifier(m) => (HitKind::Modifier, m),
                EntryKind::Contrast => (HitKind::Contrast, 0.0),
                EntryKind::Intent(..) | EntryKind::Urgency(..) => continue,
            };
            let (start, end) = s.text.source_span(hit.start as usize, hit.end as usize);
            hits.push(Hit {
                term: entry.term.clone(),
                kind,
                start,
                end,
                value,
                contribution: signals::round3(contribution.value),
                intent: None,
                notes: s
                    .notes
                    .iter()
                    .filter(|(of, _)| *of as usize == i)
                    .map(|(_, note)| note.describe(&self.entries))
                    .collect(),
            });
        }
        for cue in &s.cues {
            let entry = &self.entries[cue.entry as usize];
            let (kind, value, intent) = match entry.kind {
                EntryKind::Intent(intent, w) => (HitKind::Intent, w, Some(intent)),
                EntryKind::Urgency(w, _) => (HitKind::Urgency, w, None),
                _ => continue,
            };
            let (start, end) = s.text.source_span(cue.start as usize, cue.end as usize);
            hits.push(Hit {
                term: entry.term.clone(),
                kind,
                start,
                end,
                value,
                contribution: value,
                intent,
                notes: Vec::new(),
            });
        }
        hits.sort_by_key(|h| (h.start, h.end));
        hits
    }
}

/// What [`longest_first`] does with several entries on the very same span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SameSpan {
    /// Keep them all: one text can be two cues (a complaint and an outage).
    KeepAll,
    /// Keep the entry loaded last: two polarity words on one span (`おすすめ` written in
    /// katakana is also `オススメ`) are one word, and later sources override earlier ones.
    KeepLast,
}

/// Sorts hits by start, longest first, and keeps the leftmost-longest non-overlapping ones.
fn longest_first(hits: &mut Vec<LexHit>, same_span: SameSpan) {
    hits.sort_unstable_by_key(|h| (h.start, std::cmp::Reverse(h.end), h.entry));
    let mut kept = 0;
    let mut last: Option<(u32, u32)> = None;
    for i in 0..hits.len() {
        let h = hits[i];
        match last {
            Some((start, end))
                if h.start == start && h.end == end && same_span == SameSpan::KeepLast =>
            {
                // Sorted by entry: this one was loaded later.
                hits[kept - 1] = h;
                continue;
            }
            Some((start, end)) if h.start == start && h.end == end => {}
            Some((_, end)) if h.start < end => continue,
            _ => {}
        }
        hits[kept] = h;
        kept += 1;
        last = Some((h.start, h.end));
    }
    hits.truncate(kept);
}

/// Keeps the last entry for each text and layer, so that later sources override earlier ones.
fn dedupe(entries: &[Entry]) -> Vec<Entry> {
    let layer = |kind: &EntryKind| -> u8 {
        match kind {
            EntryKind::Intent(intent, _) => 1 + *intent as u8,
            EntryKind::Urgency(..) => 20,
            _ => 0,
        }
    };
    let mut index: HashMap<(&str, u8), usize, _> =
        HashMap::with_capacity_and_hasher(entries.len(), foldhash::fast::RandomState::default());
    let mut out: Vec<Entry> = Vec::with_capacity(entries.len());
    for entry in entries {
        match index.get(&(entry.term.as_str(), layer(&entry.kind))) {
            Some(&i) => out[i] = entry.clone(),
            None => {
                index.insert((entry.term.as_str(), layer(&entry.kind)), out.len());
                out.push(entry.clone());
            }
        }
    }
    out
}

fn variants_of(entry: &Entry) -> Vec<String> {
    use earshot_text::kana::{long_vowel_variants, to_hiragana, to_katakana};
    let mut variants = Vec::new();
    if entry.variants.kana {
        for v in [to_hiragana(&entry.term), to_katakana(&entry.term)] {
            if v != entry.term && !variants.contains(&v) {
                variants.push(v);
            }
        }
    }
    if entry.variants.long_vowel {
        let bases: Vec<String> = std::iter::once(entry.term.clone())
            .chain(variants.clone())
            .collect();
        for base in bases {
            for v in long_vowel_variants(&base) {
                if !variants.contains(&v) {
                    variants.push(normalize(&v));
                }
            }
        }
    }
    variants
}

/// Complaint and outage cues (`has been down`, `can't log in`, `圏外`) are negative
/// experiences even without a feeling word, and praise cues positive. Each such cue gets a
/// polarity entry of its own (`valence` × its weight), appended to `entries` but not to the
/// automaton: the scorer uses it only where the cue's span holds no polarity word, so a cue
/// never hides one (`love this` still scores `love`). Returns, per entry, its cue polarity
/// entry or `u32::MAX`.
fn add_cue_polarity(entries: &mut Vec<Entry>, valence: f64) -> Vec<u32> {
    let mut links = vec![u32::MAX; entries.len()];
    if valence == 0.0 {
        return links;
    }
    for i in 0..entries.len() {
        let EntryKind::Intent(intent, weight) = entries[i].kind else {
            continue;
        };
        let sign = match intent {
            Intent::Complaint | Intent::Outage => -1.0,
            Intent::Praise => 1.0,
            _ => continue,
        };
        links[i] = entries.len() as u32;
        let derived = Entry {
            kind: EntryKind::Sentiment(sign * valence * weight),
            ..entries[i].clone()
        };
        entries.push(derived);
    }
    links
}

/// Spellings of an English word with one doubled letter made single, which is what an
/// elongated `goooood` or `sorrrry` normalises to.
fn elongation_aliases(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.chars().collect();
    let mut aliases = Vec::new();
    for i in 1..chars.len() {
        if chars[i] == chars[i - 1]
            && chars[i].is_alphabetic()
            && (i < 2 || chars[i - 2] != chars[i])
        {
            let alias: String = chars[..i].iter().chain(&chars[i + 1..]).collect();
            aliases.push(alias);
        }
    }
    aliases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_undo_one_double_letter() {
        assert_eq!(elongation_aliases("good"), ["god"]);
        assert_eq!(
            elongation_aliases("bookkeeper"),
            ["bokkeeper", "bookeeper", "bookkeper"]
        );
        assert!(elongation_aliases("bad").is_empty());
    }

    #[test]
    fn longest_first_keeps_leftmost_longest() {
        let h = |entry, start, end| LexHit { entry, start, end };
        let hits = vec![h(0, 0, 3), h(1, 0, 6), h(2, 3, 6), h(3, 6, 9), h(4, 6, 9)];
        let mut all = hits.clone();
        longest_first(&mut all, SameSpan::KeepAll);
        assert_eq!(all, [h(1, 0, 6), h(3, 6, 9), h(4, 6, 9)]);
        let mut last = hits;
        longest_first(&mut last, SameSpan::KeepLast);
        assert_eq!(last, [h(1, 0, 6), h(4, 6, 9)]);
    }
}
