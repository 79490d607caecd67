//! The one automaton: every watch term, mask, lexicon entry and cue, found in one pass.
//!
//! Leftmost-longest matching would hide terms that overlap (`星空モバイル` inside
//! `星空モバイル光`, or a brand inside a lexicon phrase), and boolean queries need every term
//! that occurs, so the automaton reports *overlapping* matches; each consumer then picks what
//! it needs (the sentiment scorer takes the longest non-overlapping entries, queries take
//! everything). Checks that a byte automaton cannot express run on each match:
//!
//! * word boundaries for terms that begin or end with a letter of a spaced script
//!   (`au` must not match inside `audio`; `圏外` matches inside `圏外です`);
//! * emoticons (`:)`, `(^^)`) stand apart from ASCII words and punctuation;
//! * aliases that only exist to catch elongations (`goooood` normalises to `god`, which may
//!   only count as `good` where the text really was elongated);
//! * nothing inside a URL counts.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use earshot_text::script::is_spaced_word_char;
use earshot_text::{Entities, Normalized};

use crate::error::AnalyzeError;
use crate::lexicon::is_emoticon;

/// What a pattern stands for. Several targets can share one pattern (`繋がらない` is a
/// polarity word, an outage cue and perhaps a watch term).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// An index into the analyzer's lexicon entries.
    Lexicon(u32),
    /// An index into the analyzer's watch terms.
    Watch(u32),
    /// A watchlist mask: that watchlist's terms inside this match do not count.
    Mask(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boundary {
    /// Japanese and other unspaced text, punctuation: match anywhere.
    None,
    /// A word of a spaced script: no letter or digit of such a script right before and/or after.
    Word { left: bool, right: bool },
    /// An emoticon: nothing ASCII-alphanumeric or punctuation glued to it.
    Emoticon,
}

#[derive(Debug, Clone)]
struct Pattern {
    boundary: Boundary,
    elongation_only: bool,
    targets: Vec<Target>,
}

/// Collects patterns and their targets, then builds the automaton.
#[derive(Debug, Default)]
pub(crate) struct MatcherBuilder {
    /// Start-up registers tens of thousands of texts: foldhash rather than SipHash (the
    /// texts are the operator's own files, not input an attacker chooses).
    ids: HashMap<String, usize, foldhash::fast::RandomState>,
    texts: Vec<String>,
    patterns: Vec<Pattern>,
}

impl MatcherBuilder {
    /// Registers `target` for the (already normalised) `text`.
    pub fn add(&mut self, text: &str, target: Target) {
        if text.is_empty() {
            return;
        }
        let id = match self.ids.get(text) {
            Some(&id) => id,
            None => {
                let id = self.texts.len();
                self.ids.insert(text.to_string(), id);
                self.texts.push(text.to_string());
                self.patterns.push(Pattern {
                    boundary: boundary_of(text),
                    elongation_only: false,
                    targets: Vec::new(),
                });
                id
            }
        };
        let pattern = &mut self.patterns[id];
        // A real registration of a text that was first an elongation alias makes it real.
        if pattern.elongation_only && !pattern.targets.contains(&target) {
            pattern.elongation_only = false;
        }
        if !pattern.targets.contains(&target) {
            pattern.targets.push(target);
        }
    }

    /// Registers `text` as a spelling of `target` that only counts where the post's text was
    /// elongated. Ignored when `text` is already a pattern in its own right.
    pub fn add_elongation_alias(&mut self, text: &str, target: Target) {
        if text.is_empty() || self.ids.contains_key(text) {
            return;
        }
        self.add(text, target);
        if let Some(&id) = self.ids.get(text) {
            self.patterns[id].elongation_only = true;
        }
    }

    pub fn build(self) -> Result<Matcher, AnalyzeError> {
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&self.texts)
            .map_err(|e| AnalyzeError::Automaton(e.to_string()))?;
        Ok(Matcher {
            automaton,
            patterns: self.patterns,
        })
    }
}

fn boundary_of(text: &str) -> Boundary {
    if is_emoticon(text) {
        return Boundary::Emoticon;
    }
    let first = text.chars().next().is_some_and(is_spaced_word_char);
    let last = text.chars().next_back().is_some_and(is_spaced_word_char);
    // `n't` is written glued to its verb (`don't`).
    let left = first && !text.starts_with("n'");
    if left || last {
        Boundary::Word { left, right: last }
    } else {
        Boundary::None
    }
}

/// One match that passed every check, in normalised-text offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawMatch {
    pub pattern: u32,
    pub start: u32,
    pub end: u32,
}

/// The compiled automaton and what each pattern stands for.
#[derive(Debug)]
pub(crate) struct Matcher {
    automaton: AhoCorasick,
    patterns: Vec<Pattern>,
}

impl Matcher {
    /// Finds every match in `text`, overlapping ones included, in order of their end.
    pub fn scan(&self, text: &Normalized, entities: &Entities, out: &mut Vec<RawMatch>) {
        out.clear();
        let haystack = text.as_str();
        for m in self.automaton.find_overlapping_iter(haystack) {
            let pattern = &self.patterns[m.pattern().as_usize()];
            let (start, end) = (m.start(), m.end());
            if !boundary_ok(pattern.boundary, haystack, start, end)
                || (pattern.elongation_only && !text.is_elongated(start, end))
                || (!entities.urls.is_empty() && entities.in_url(start, end))
            {
                continue;
            }
            out.push(RawMatch {
                pattern: m.pattern().as_u32(),
                start: start as u32,
                end: end as u32,
            });
        }
    }

    pub fn targets(&self, pattern: u32) -> &[Target] {
        &self.patterns[pattern as usize].targets
    }

    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Heap bytes held by the automaton.
    pub fn memory_usage(&self) -> usize {
        self.automaton.memory_usage()
    }
}

fn boundary_ok(boundary: Boundary, text: &str, start: usize, end: usize) -> bool {
    let before = || text[..start].chars().next_back();
    let after = || text[end..].chars().next();
    match boundary {
        Boundary::None => true,
        Boundary::Word { left, right } => {
            (!left || !before().is_some_and(is_spaced_word_char))
                && (!right || !after().is_some_and(is_spaced_word_char))
        }
        Boundary::Emoticon => {
            let glued = |c: Option<char>, trailing: bool| {
                c.is_some_and(|c| {
                    c.is_ascii_alphanumeric()
                        || (c.is_ascii_punctuation()
                            && !(trailing && matches!(c, '.' | ',' | '!' | '?')))
                })
            };
            !glued(before(), false) && !glued(after(), true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_text::find_entities;

    fn matches(builder: MatcherBuilder, text: &str) -> Vec<String> {
        let matcher = builder.build().unwrap();
        let mut n = Normalized::new();
        n.normalize(text);
        let mut entities = Entities::default();
        find_entities(n.as_str(), &mut entities);
        let mut out = Vec::new();
        matcher.scan(&n, &entities, &mut out);
        out.iter()
            .map(|m| n.as_str()[m.start as usize..m.end as usize].to_string())
            .collect()
    }

    #[test]
    fn ascii_terms_need_word_boundaries_japanese_terms_do_not() {
        let mut b = MatcherBuilder::default();
        b.add("au", Target::Watch(0));
        b.add("圏外", Target::Watch(1));
        assert_eq!(matches(b, "audio au 圏外です、AU!"), ["au", "圏外", "au"]);
    }

    #[test]
    fn overlapping_terms_are_all_reported() {
        let mut b = MatcherBuilder::default();
        b.add("星空モバイル", Target::Watch(0));
        b.add("星空モバイル光", Target::Watch(1));
        b.add("モバイル", Target::Watch(2));
        let mut found = matches(b, "星空モバイル光が遅い");
        found.sort();
        assert_eq!(found, ["モバイル", "星空モバイル", "星空モバイル光"]);
    }

    #[test]
    fn elongation_aliases_count_only_where_the_text_was_elongated() {
        let mut b = MatcherBuilder::default();
        b.add("good", Target::Lexicon(0));
        b.add_elongation_alias("god", Target::Lexicon(0));
        assert_eq!(matches(b, "oh god, this is goooood"), ["god"]);
        let mut b = MatcherBuilder::default();
        b.add_elongation_alias("god", Target::Lexicon(0));
        b.add("god", Target::Lexicon(1));
        assert_eq!(matches(b, "oh god"), ["god"]);
    }

    #[test]
    fn emoticons_stand_apart_and_urls_do_not_count() {
        let mut b = MatcherBuilder::default();
        b.add(":/", Target::Lexicon(0));
        b.add("(^^)", Target::Lexicon(1));
        b.add("example", Target::Watch(0));
        assert_eq!(
            matches(b, "hmm :/ see https://example.com/a ありがとう(^^)"),
            [":/", "(^^)"]
        );
    }

    #[test]
    fn negation_suffix_matches_inside_its_word() {
        let mut b = MatcherBuilder::default();
        b.add("n't", Target::Lexicon(0));
        assert_eq!(matches(b, "I don't like it"), ["n't"]);
    }
}
