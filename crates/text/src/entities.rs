//! URLs, @mentions and #hashtags found in normalised text.
//!
//! A hand-written scanner rather than regexes: it runs on every post, and the rules are
//! simple enough to read in one screen. Spans are byte offsets in the text scanned.

use crate::script::is_word_char;

/// The entities of one text, as byte ranges of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entities {
    pub urls: Vec<(usize, usize)>,
    /// Spans include the `@`.
    pub mentions: Vec<(usize, usize)>,
    /// Spans include the `#`.
    pub hashtags: Vec<(usize, usize)>,
}

impl Entities {
    pub fn clear(&mut self) {
        self.urls.clear();
        self.mentions.clear();
        self.hashtags.clear();
    }

    /// Whether `start..end` lies inside a URL (keywords inside links do not count).
    pub fn in_url(&self, start: usize, end: usize) -> bool {
        self.urls.iter().any(|&(a, b)| a <= start && end <= b)
    }
}

/// Finds the entities of `text` (normalised text: `＃` and `＠` already became `#` and `@`).
pub fn find_entities(text: &str, out: &mut Entities) {
    out.clear();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !matches!(b, b'h' | b'w' | b'@' | b'#') {
            i += 1;
            continue;
        }
        let prev = text[..i].chars().next_back();
        let at_word_start = prev.is_none_or(|c| !is_word_char(c) && c != '/' && c != '&');
        if (b == b'h' || b == b'w') && at_word_start {
            if let Some(len) = url_len(&text[i..]) {
                out.urls.push((i, i + len));
                i += len;
                continue;
            }
        }
        if (b == b'@' || b == b'#') && at_word_start {
            let body = &text[i + 1..];
            let len: usize = if b == b'@' {
                body.bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count()
            } else {
                body.chars()
                    .take_while(|&c| is_word_char(c))
                    .map(char::len_utf8)
                    .sum()
            };
            // A hashtag of digits only (`#1`) is a number, not a tag.
            let is_tag = len > 0 && !(b == b'#' && body[..len].bytes().all(|c| c.is_ascii_digit()));
            if is_tag {
                let span = (i, i + 1 + len);
                if b == b'@' {
                    out.mentions.push(span)
                } else {
                    out.hashtags.push(span)
                }
                i += 1 + len;
                continue;
            }
        }
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
}

fn url_len(s: &str) -> Option<usize> {
    let rest = ["https://", "http://", "www."]
        .iter()
        .find_map(|p| s.strip_prefix(p))?;
    let body: usize = rest
        .chars()
        .take_while(|&c| c.is_ascii_graphic() && c != '"' && c != '<' && c != '>')
        .map(char::len_utf8)
        .sum();
    if body == 0 {
        return None;
    }
    // Sentence punctuation right after a link is not part of it.
    let trimmed = rest[..body].trim_end_matches(['.', ',', ')', '!', '?', ';', ':', '\'']);
    Some(s.len() - rest.len() + trimmed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(text: &'a str, spans: &[(usize, usize)]) -> Vec<&'a str> {
        spans.iter().map(|&(a, b)| &text[a..b]).collect()
    }

    #[test]
    fn finds_urls_mentions_and_hashtags() {
        let text =
            "@hoshizora_help 圏外です #星空障害 #1 詳細 https://example.com/a?b=1. mail@x.jp";
        let mut e = Entities::default();
        find_entities(text, &mut e);
        assert_eq!(texts(text, &e.mentions), ["@hoshizora_help"]);
        assert_eq!(texts(text, &e.hashtags), ["#星空障害"]);
        assert_eq!(texts(text, &e.urls), ["https://example.com/a?b=1"]);
        assert!(e.in_url(
            text.find("example").unwrap(),
            text.find("example").unwrap() + 7
        ));
    }

    #[test]
    fn hashtag_in_japanese_text_needs_no_space() {
        let text = "繋がらない。#星空モバイル、最悪";
        let mut e = Entities::default();
        find_entities(text, &mut e);
        assert_eq!(texts(text, &e.hashtags), ["#星空モバイル"]);
    }
}
