//! Kana and long-vowel variants of a term, for terms that ask for them.
//!
//! Folding kana everywhere would merge words that must stay apart (the carrier ドコモ and
//! どこも, "everywhere"), so variants are generated per term instead, at compile time, and the
//! text is left as written.

/// Hiragana to katakana; other characters unchanged.
pub fn to_katakana(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            c => c,
        })
        .collect()
}

/// Katakana to hiragana; other characters (and katakana with no hiragana twin) unchanged.
pub fn to_hiragana(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            c => c,
        })
        .collect()
}

/// Spellings of a term as people stretch it in casual writing: `すごい` → `すごーい`,
/// `すごいー`; `ありがとう` → `ありがとー`. The term itself is not included.
pub fn long_vowel_variants(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.chars().collect();
    let Some(&last) = chars.last() else {
        return Vec::new();
    };
    if !(crate::script::is_hiragana(last) || crate::script::is_katakana(last)) {
        return Vec::new();
    }
    let mut variants = Vec::with_capacity(3);
    let head: String = chars[..chars.len() - 1].iter().collect();
    if chars.len() >= 2 {
        variants.push(format!("{head}ー{last}"));
    }
    variants.push(format!("{term}ー"));
    if chars.len() >= 2 && matches!(last, 'う' | 'い' | 'ウ' | 'イ') {
        variants.push(format!("{head}ー"));
    }
    variants.retain(|v| v != term);
    variants.dedup();
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kana_conversion_round_trips() {
        assert_eq!(to_katakana("すごい"), "スゴイ");
        assert_eq!(to_hiragana("スゴイ"), "すごい");
        assert_eq!(to_hiragana("サーバー"), "さーばー");
        assert_eq!(to_katakana("圏外だよ"), "圏外ダヨ");
    }

    #[test]
    fn long_vowel_spellings() {
        assert_eq!(
            long_vowel_variants("すごい"),
            ["すごーい", "すごいー", "すごー"]
        );
        assert_eq!(
            long_vowel_variants("ありがとう"),
            ["ありがとーう", "ありがとうー", "ありがとー"]
        );
        assert!(long_vowel_variants("最高").is_empty());
    }
}
