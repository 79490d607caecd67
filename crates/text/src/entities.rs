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
        if !(b.is_ascii_alphanumeric() || b == b'@' || b == b'#') {
            i += 1;
            continue;
        }
        let prev = text[..i].chars().next_back();
        let at_word_start = prev.is_none_or(|c| !is_word_char(c) && c != '/' && c != '&');
        // Japanese writes links straight after kana (`こちらhttps://…`): only ASCII word
        // characters and URL punctuation before a letter keep it from starting a link.
        let at_link_start = prev.is_none_or(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '&' | '@'))
        });
        if b.is_ascii_alphanumeric() && at_link_start {
            // `www.` and schemes first; then a bare domain (`secure-login.top/verify`), which
            // phishing posts favour.
            let link = url_len(&text[i..]).or_else(|| bare_domain_len(&text[i..]));
            if let Some(len) = link {
                out.urls.push((i, i + len));
                i += len;
                continue;
            }
        }
        if b.is_ascii_alphanumeric() {
            // The rest of an ASCII word cannot start an entity.
            i += bytes[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            continue;
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

/// Top-level domains a bare domain must end with to count as a link: the common generic
/// ones, those phishing favours, and country codes, so that `e.g.` or `Node.js` do not.
const TOP_LEVEL_DOMAINS: &[&str] = &[
    "com", "net", "org", "info", "biz", "io", "co", "me", "ly", "app", "dev", "xyz", "top", "shop",
    "site", "online", "link", "club", "live", "store", "tech", "icu", "vip", "cc", "tk", "ml",
    "ga", "cf", "gq", "work", "click", "buzz", "fun", "space", "website", "email", "support",
    "help", "today", "life", "world", "pro", "mobi", "asia", "jp", "us", "uk", "de", "fr", "cn",
    "ru", "in", "au", "ca", "br", "kr", "tw", "hk", "sg", "gift", "delivery", "money", "bank",
    "page", "ink", "cam", "rest", "bond", "cyou", "sbs",
];

/// The length of a domain without a scheme at the start of `s` (`bit.ly/x`,
/// `hoshizora-gift.example.net/?c=1`): labels of letters, digits and hyphens joined by
/// dots, ending in a known top-level domain, then an optional path.
fn bare_domain_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let label = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-')
            .count()
    };
    let mut end = label(0);
    let mut labels = 1;
    let mut last = (0, end);
    while end > 0 && bytes.get(end) == Some(&b'.') {
        let next = label(end + 1);
        if next == 0 {
            break;
        }
        last = (end + 1, end + 1 + next);
        end += 1 + next;
        labels += 1;
    }
    let tld = &s[last.0..last.1];
    if labels < 2 || !TOP_LEVEL_DOMAINS.contains(&tld) {
        return None;
    }
    if matches!(bytes.get(end), Some(b'/' | b'?')) {
        let path = s[end..]
            .chars()
            .take_while(|&c| c.is_ascii_graphic() && c != '"' && c != '<' && c != '>')
            .map(char::len_utf8)
            .sum::<usize>();
        let trimmed =
            s[end..end + path].trim_end_matches(['.', ',', ')', '!', '?', ';', ':', '\'']);
        end += trimmed.len();
    }
    Some(end)
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
    fn bare_domains_are_links_but_abbreviations_are_not() {
        let text = "verify at secure-login.top/acct?id=3. or bit.ly/abc, e.g. Node.js v1.5 ok.jp mail@x.jp 詳しくはsorapay-gift.example.netへ";
        let mut e = Entities::default();
        find_entities(text, &mut e);
        assert_eq!(
            texts(text, &e.urls),
            [
                "secure-login.top/acct?id=3",
                "bit.ly/abc",
                "ok.jp",
                "sorapay-gift.example.net"
            ]
        );
    }

    #[test]
    fn hashtag_in_japanese_text_needs_no_space() {
        let text = "繋がらない。#星空モバイル、最悪";
        let mut e = Entities::default();
        find_entities(text, &mut e);
        assert_eq!(texts(text, &e.hashtags), ["#星空モバイル"]);
    }
}
