//! Scripts, word characters and language guessing.
//!
//! Word boundaries only make sense for scripts that put spaces between words: `au` must not
//! match inside `audio`, but `圏外` must match inside `圏外です`. Language detection here is a
//! script count, which is all the scorer needs to pick Japanese or English rules; posts that
//! carry a platform-reported `lang` use that instead.

/// Letters, digits and `_` of scripts that separate words with spaces (Latin, Greek,
/// Cyrillic…), i.e. the characters that make a word boundary when absent.
pub fn is_spaced_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        c < '\u{2E80}' && c.is_alphanumeric()
    }
}

/// Any letter or digit or `_`, including CJK: the characters a hashtag may contain.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == 'ー' || c == '々'
}

pub fn is_hiragana(c: char) -> bool {
    ('\u{3041}'..='\u{309F}').contains(&c)
}

pub fn is_katakana(c: char) -> bool {
    ('\u{30A0}'..='\u{30FF}').contains(&c) || ('\u{31F0}'..='\u{31FF}').contains(&c)
}

pub fn is_han(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
        || ('\u{3400}'..='\u{4DBF}').contains(&c)
        || ('\u{F900}'..='\u{FAFF}').contains(&c)
        || c == '々'
}

pub fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7AF}').contains(&c) || ('\u{1100}'..='\u{11FF}').contains(&c)
}

/// Whether a character is written without spaces between words (kana, kanji, hangul).
pub fn is_cjk(c: char) -> bool {
    is_hiragana(c) || is_katakana(c) || is_han(c) || is_hangul(c)
}

/// Guesses the language of a text from its scripts: `ja` when kana appear (or kanji without
/// hangul), `ko` for hangul, `en` for Latin letters, `und` otherwise.
pub fn detect_lang(text: &str) -> &'static str {
    let (mut kana, mut han, mut hangul, mut latin) = (0usize, 0usize, 0usize, 0usize);
    for c in text.chars() {
        if is_hiragana(c) || is_katakana(c) {
            // Kana settle it: only Japanese writes them.
            return "ja";
        }
        if c.is_ascii_alphabetic() {
            latin += 1;
        } else if is_hiragana(c) || is_katakana(c) {
            kana += 1;
        } else if is_han(c) {
            han += 1;
        } else if is_hangul(c) {
            hangul += 1;
        }
    }
    if kana > 0 || (han > 0 && hangul == 0 && han * 2 >= latin / 4) {
        "ja"
    } else if hangul > 0 {
        "ko"
    } else if latin > 0 {
        "en"
    } else {
        "und"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_languages_by_script() {
        assert_eq!(detect_lang("回線が繋がらない"), "ja");
        assert_eq!(detect_lang("HZ-A52のバッテリー"), "ja");
        assert_eq!(detect_lang("my phone has no signal"), "en");
        assert_eq!(detect_lang("전화가 안 돼요"), "ko");
        assert_eq!(detect_lang("😡😡"), "und");
    }

    #[test]
    fn word_characters() {
        assert!(is_spaced_word_char('a') && is_spaced_word_char('é') && is_spaced_word_char('_'));
        assert!(!is_spaced_word_char('圏') && !is_spaced_word_char('-'));
        assert!(is_word_char('圏') && is_word_char('ー'));
    }
}
