//! Normalisation of post text for matching, with a map back to the original bytes.
//!
//! Posts arrive in every shape a keyboard allows: full-width `ＡＰＰ`, half-width `ｽﾏﾎ`,
//! `LOOOOVE`, `すごーーい`, curly apostrophes, zero-width spaces that spammers use to dodge
//! filters. Matching terms against all of that directly would need a variant of every term
//! for every shape, so instead the text and the terms go through the same [`normalize`]:
//!
//! 1. NFKC (full/half width, compatibility characters, composed kana);
//! 2. lower case;
//! 3. elongations collapsed: a run of three or more of the same letter becomes one
//!    (`loooove` → `love`, `ｗｗｗ` → `w`), a run of long-vowel marks becomes one
//!    (`すごーーい` → `すごーい`), and `〜` used as a long vowel becomes `ー`;
//! 4. invisible characters dropped (zero-width space, BOM, soft hyphen, variation selectors),
//!    curly quotes made straight.
//!
//! Explanations must point into the text the author wrote, so [`Normalized`] keeps, for each
//! byte of the normalised text, the byte offset in the original it came from.

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// The normalised form of a text with its offset map. Reuse one value across posts to avoid
/// allocating: [`Normalized::normalize`] clears and refills it.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    text: String,
    /// `map[i]` is the offset in the source of the character cluster that produced byte `i`
    /// of `text`; `map[text.len()]` is the source length. A span `a..b` of `text` therefore
    /// came from `map[a]..map[b]` of the source, including characters that were dropped or
    /// collapsed inside it.
    map: Vec<u32>,
    /// Offsets in `text` of characters that stand for a collapsed run (`ooo` → `o`).
    elongated: Vec<u32>,
    scratch: String,
}

impl Normalized {
    pub fn new() -> Normalized {
        Normalized::default()
    }

    /// Normalises `source` into `self`, replacing what was there.
    pub fn normalize(&mut self, source: &str) {
        self.text.clear();
        self.map.clear();
        self.elongated.clear();
        // NFKC rarely lengthens a text: one allocation up front instead of several.
        self.text.reserve(source.len());
        self.map.reserve(source.len() + 1);
        let mut run = Run::default();
        let mut cluster = std::mem::take(&mut self.scratch);
        let bytes = source.as_bytes();
        let mut at = 0;
        while at < source.len() {
            // Most text is ASCII: a run of it needs no clustering and no Unicode tables,
            // except its last character when a non-ASCII one follows (it may take a
            // combining mark), which goes through the cluster path below.
            let ascii = bytes[at..].iter().position(|b| !b.is_ascii());
            let fast_end = ascii.map_or(source.len(), |n| at + n.saturating_sub(1));
            for (offset, &b) in (at..fast_end).zip(&bytes[at..fast_end]) {
                let c = char::from(b.to_ascii_lowercase());
                if c == run.ch {
                    // A repeat may be an elongation: the general path decides.
                    self.push(c, offset, &mut run);
                } else {
                    // What `push` does with an ASCII character that does not repeat the one
                    // before (none is invisible or folded): start a run and emit it, one
                    // byte of text and one of map, without the calls.
                    run = Run {
                        ch: c,
                        len: 1,
                        at: self.text.len(),
                    };
                    self.text.push(c);
                    self.map.push(to_u32(offset));
                }
            }
            at = fast_end;
            if at < source.len() {
                let after_cjk = self.plain_cjk_run(source, at, &mut run);
                at = if after_cjk > at {
                    after_cjk
                } else {
                    self.cluster(source, at, &mut cluster, &mut run)
                };
            }
        }
        self.scratch = cluster;
        self.map.push(to_u32(source.len()));
    }

    /// Pushes the kana and kanji from byte `at` of `source` that stand alone (followed by
    /// ASCII, another kana or kanji, or the end) and returns where it stopped (`at` when it
    /// pushed nothing). This is what [`Normalized::cluster`] does with each of them, without
    /// building a cluster: nothing combines with them, and they have no case and are their
    /// own NFKC form.
    fn plain_cjk_run(&mut self, source: &str, mut at: usize, run: &mut Run) -> usize {
        let mut chars = source[at..].chars().peekable();
        while let Some(c) = chars.next() {
            let alone = chars
                .peek()
                .is_none_or(|&next| next.is_ascii() || is_plain_cjk(next));
            if !is_plain_cjk(c) || !alone {
                break;
            }
            if c == run.ch {
                // A repeat may be an elongation: the general path decides.
                self.push(c, at, run);
            } else {
                // What `push` does with a character that needs no mapping and does not
                // repeat the one before.
                *run = Run {
                    ch: c,
                    len: 1,
                    at: self.text.len(),
                };
                self.emit(c, at);
            }
            at += c.len_utf8();
        }
        at
    }

    /// Normalises the character cluster at byte `at` of `source` (a character and the marks
    /// that combine with it) and returns where the next one starts.
    fn cluster(&mut self, source: &str, at: usize, cluster: &mut String, run: &mut Run) -> usize {
        // Invisible characters are skipped before clustering, so that marks on either side
        // of one cluster the same way on a second pass (idempotence).
        let mut chars = source[at..]
            .char_indices()
            .map(|(i, c)| (at + i, c))
            .filter(|&(_, c)| !is_invisible(c))
            .peekable();
        let Some((start, first)) = chars.next() else {
            return source.len();
        };
        let mut next = start + first.len_utf8();
        if chars.peek().is_none_or(|&(_, c)| !continues_cluster(c)) {
            // A character alone, as most are: no cluster to build.
            if first.is_ascii() {
                self.push(first.to_ascii_lowercase(), start, run);
            } else if is_plain_cjk(first) {
                // Kana and kanji have no case and are their own NFKC form: the common
                // case of Japanese text skips the Unicode tables entirely.
                self.push(first, start, run);
            } else if is_simple(first) {
                for lower in first.to_lowercase() {
                    self.push(lower, start, run);
                }
            } else {
                self.push_folded(std::iter::once(first), start, run);
            }
            return next;
        }
        // A cluster is a character and the marks that combine with it; NFKC of the
        // cluster alone equals its share of NFKC of the whole text.
        cluster.clear();
        cluster.push(first);
        while let Some(&(i, c)) = chars.peek() {
            if !continues_cluster(c) {
                break;
            }
            cluster.push(c);
            next = i + c.len_utf8();
            chars.next();
        }
        self.push_folded(cluster.chars(), start, run);
        next
    }

    /// Pushes the NFKC, lower-cased form of `chars`. Lower-casing can produce a sequence
    /// NFKC would reorder (`İ` + a mark), so it is normalised once more after it to stay
    /// idempotent.
    fn push_folded(&mut self, chars: impl Iterator<Item = char>, start: usize, run: &mut Run) {
        let folded: String = chars.nfkc().flat_map(char::to_lowercase).nfkc().collect();
        for c in folded.chars() {
            self.push(c, start, run);
        }
    }

    fn push(&mut self, c: char, source_offset: usize, run: &mut Run) {
        let c = match c {
            c if is_invisible(c) => return,
            '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            '\u{301C}' => 'ー',
            c => c,
        };
        if c == run.ch && collapses(c) {
            run.len += 1;
            let limit = if is_long_vowel_mark(c) { 1 } else { 2 };
            if run.len <= limit {
                // The second letter of `oo` may be a real double letter: keep it until a
                // third shows that this is an elongation.
                self.emit(c, source_offset);
            } else if run.len == limit + 1 && limit == 2 {
                // Third in a row: an elongation. Drop the tentative second copy.
                let keep = run.at + c.len_utf8();
                self.text.truncate(keep);
                self.map.truncate(keep);
                self.mark_elongated(run.at);
            } else if limit == 1 && run.len == 2 {
                self.mark_elongated(run.at);
            }
            return;
        }
        *run = Run {
            ch: c,
            len: 1,
            at: self.text.len(),
        };
        self.emit(c, source_offset);
    }

    fn emit(&mut self, c: char, source_offset: usize) {
        self.text.push(c);
        let offset = to_u32(source_offset);
        self.map.extend(std::iter::repeat_n(offset, c.len_utf8()));
    }

    fn mark_elongated(&mut self, at: usize) {
        let at = to_u32(at);
        if self.elongated.last() != Some(&at) {
            self.elongated.push(at);
        }
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The span of the original text that produced `start..end` of the normalised text.
    ///
    /// `start` and `end` must be character boundaries of [`Normalized::as_str`], as every
    /// match of a string is.
    pub fn source_span(&self, start: usize, end: usize) -> (usize, usize) {
        let at = |i: usize| self.map.get(i).copied().unwrap_or(0) as usize;
        (at(start), at(end))
    }

    /// Whether `start..end` of the normalised text contains a collapsed elongation.
    pub fn is_elongated(&self, start: usize, end: usize) -> bool {
        let first = self.elongated.partition_point(|&e| (e as usize) < start);
        self.elongated
            .get(first)
            .is_some_and(|&e| (e as usize) < end)
    }
}

#[derive(Debug, Default)]
struct Run {
    ch: char,
    len: usize,
    /// Where the run's first character starts in the normalised text.
    at: usize,
}

/// Normalises a term or a whole text when no offset map is needed.
pub fn normalize(text: &str) -> String {
    let mut normalized = Normalized::new();
    normalized.normalize(text);
    normalized.text
}

/// Posts are capped far below 4 GiB, so offsets fit in `u32`; saturate rather than wrap if
/// a caller passes something larger.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Characters with no visible form that only get in the way of matching.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{FEFF}' | '\u{00AD}' | '\u{FE0E}' | '\u{FE0F}' | '\u{2060}'
    )
}

/// Characters that NFKC would merge into the character before them.
fn continues_cluster(c: char) -> bool {
    if c < '\u{0300}' || is_plain_cjk(c) {
        return false;
    }
    matches!(
        c,
        '\u{FF9E}' | '\u{FF9F}'           // half-width (semi-)voiced sound marks
        | '\u{3099}' | '\u{309A}'         // combining (semi-)voiced sound marks
        | '\u{1160}'..='\u{11FF}' // conjoining Hangul vowels and final consonants
    ) || unicode_normalization::char::is_combining_mark(c)
}

/// A lone character whose NFKC form is itself, so the slow path can be skipped.
fn is_simple(c: char) -> bool {
    c.is_ascii() || is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes
}

fn is_long_vowel_mark(c: char) -> bool {
    c == 'ー'
}

/// Letters (Latin, kana, kanji…) collapse when elongated; digits and punctuation do not:
/// `1000` and `!!!` mean what they say.
fn collapses(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        is_plain_cjk(c) || c.is_alphabetic()
    }
}

/// Hiragana, katakana (full width) and common kanji, except the combining voicing marks.
fn is_plain_cjk(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}' | '\u{30FC}' | '\u{4E00}'..='\u{9FFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `normalize` without its short paths: every character through `cluster`.
    fn general(source: &str) -> Normalized {
        let mut n = Normalized::new();
        let (mut run, mut cluster, mut at) = (Run::default(), String::new(), 0);
        while at < source.len() {
            at = n.cluster(source, at, &mut cluster, &mut run);
        }
        n.map.push(to_u32(source.len()));
        n
    }

    #[test]
    fn short_paths_change_nothing() {
        // Every pair and triple of characters the short paths treat differently: ASCII,
        // kana and kanji (alone, repeated, elongated), and what combines, vanishes or folds.
        let pieces = [
            "a", "A", "o", "w", "1", "!", "'", "\u{0}", "あ", "ア", "ー", "草", "ｗ", "ｶ", "ﾞ",
            "\u{3099}", "\u{301C}", "\u{200B}", "\u{FE0F}", "\u{2019}", "é", "e\u{301}", "😡",
            "。", "Ａ",
        ];
        let mut texts = Vec::new();
        for a in pieces {
            for b in pieces {
                texts.push(format!("{a}{b}"));
                for c in pieces {
                    texts.push(format!("{a}{b}{c}"));
                    texts.push(format!("{a}{a}{a}{b}{c}{c}{c}"));
                }
            }
        }
        let mut n = Normalized::new();
        for text in texts {
            n.normalize(&text);
            let expected = general(&text);
            assert_eq!(n.text, expected.text, "{text:?}");
            assert_eq!(n.map, expected.map, "{text:?}");
            assert_eq!(n.elongated, expected.elongated, "{text:?}");
        }
    }

    #[test]
    fn width_and_case() {
        assert_eq!(normalize("ＡＰＰが重い"), "appが重い");
        assert_eq!(normalize("ｽﾏﾎｶﾞ"), "スマホガ");
        assert_eq!(normalize("HZ－A52"), "hz-a52");
        assert_eq!(normalize("①"), "1");
    }

    #[test]
    fn elongations_collapse_but_double_letters_stay() {
        assert_eq!(normalize("loooove"), "love");
        assert_eq!(normalize("good"), "good");
        assert_eq!(normalize("ｗｗｗｗ"), "w");
        assert_eq!(normalize("すごーーーい"), "すごーい");
        assert_eq!(normalize("すご〜い"), "すごーい");
        assert_eq!(normalize("ありがとうううう"), "ありがとう");
        assert_eq!(normalize("1000!!!"), "1000!!!");
        assert_eq!(normalize("いい"), "いい");
    }

    #[test]
    fn invisible_characters_and_quotes() {
        assert_eq!(normalize("a\u{200B}u"), "au");
        assert_eq!(normalize("don\u{2019}t"), "don't");
        assert_eq!(normalize("❤\u{FE0F}"), "❤");
    }

    #[test]
    fn spans_point_into_the_original() {
        let source = "I LOOOOVE ｽﾏﾎ";
        let mut n = Normalized::new();
        n.normalize(source);
        assert_eq!(n.as_str(), "i love スマホ");
        let start = n.as_str().find("love").unwrap();
        let (a, b) = n.source_span(start, start + 4);
        assert_eq!(&source[a..b], "LOOOOVE");
        assert!(n.is_elongated(start, start + 4));
        assert!(!n.is_elongated(0, 1));
        let start = n.as_str().find("スマホ").unwrap();
        let (a, b) = n.source_span(start, n.as_str().len());
        assert_eq!(&source[a..b], "ｽﾏﾎ");
    }

    #[test]
    fn reuse_clears_previous_text() {
        let mut n = Normalized::new();
        n.normalize("long text here");
        n.normalize("ab");
        assert_eq!(n.as_str(), "ab");
        assert_eq!(n.source_span(0, 2), (0, 2));
    }
}
