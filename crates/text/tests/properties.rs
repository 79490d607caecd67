//! Property tests: normalisation never panics, is idempotent, and its offset map always lands
//! on character boundaries of the original text.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use earshot_text::{find_entities, normalize, Entities, Normalized};
use proptest::prelude::*;

/// Text that looks like posts: Latin, kana (both widths), kanji, emoji, combining marks,
/// invisible characters, punctuation and runs.
fn post_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a",
        "A",
        "o",
        "ooo",
        "Ｏ",
        "ｗ",
        "w",
        "ー",
        "〜",
        "す",
        "ご",
        "い",
        "ｶ",
        "ﾞ",
        "ﾟ",
        "ガ",
        "\u{3099}",
        "\u{0301}",
        "e",
        "\u{200B}",
        "\u{FE0F}",
        "❤",
        "😡",
        "圏外",
        "!",
        "？",
        " ",
        "\n",
        "#",
        "@",
        "https://x.co/a",
        "İ",
        "ß",
        "ᄀ",
        "ᅡ",
        "ᆨ",
        "'",
        "\u{2019}",
        "①",
        "ｱ",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

fn check_map(source: &str) -> Result<(), TestCaseError> {
    let mut n = Normalized::new();
    n.normalize(source);
    let text = n.as_str();
    let mut previous = 0;
    for (i, _) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        let (a, b) = n.source_span(i, text.len());
        prop_assert!(source.is_char_boundary(a) && source.is_char_boundary(b));
        prop_assert!(a >= previous && a <= b && b == source.len());
        previous = a;
    }
    Ok(())
}

proptest! {
    #[test]
    fn idempotent_on_post_like_text(s in post_text()) {
        let once = normalize(&s);
        prop_assert_eq!(normalize(&once), once);
    }

    #[test]
    fn idempotent_on_any_text(s in any::<String>()) {
        let once = normalize(&s);
        prop_assert_eq!(normalize(&once), once);
    }

    #[test]
    fn offsets_stay_on_char_boundaries(s in post_text()) {
        check_map(&s)?;
    }

    #[test]
    fn offsets_stay_on_char_boundaries_for_any_text(s in any::<String>()) {
        check_map(&s)?;
    }

    #[test]
    fn entities_lie_on_char_boundaries(s in post_text()) {
        let text = normalize(&s);
        let mut e = Entities::default();
        find_entities(&text, &mut e);
        for (a, b) in e.urls.iter().chain(&e.mentions).chain(&e.hashtags) {
            prop_assert!(a < b && text.is_char_boundary(*a) && text.is_char_boundary(*b));
        }
    }

    /// JSON may carry escapes for lone surrogates, which are not valid UTF-8: decoding either
    /// refuses them or replaces them, and whatever comes out normalises without panicking.
    #[test]
    fn json_with_surrogate_escapes_never_panics(units in prop::collection::vec(0xD700u32..0xE100, 0..8), s in post_text()) {
        let escapes: String = units.iter().map(|u| format!("\\u{u:04x}")).collect();
        let json = format!("\"{}{}\"", serde_json::to_string(&s).unwrap().trim_matches('"'), escapes);
        if let Ok(decoded) = serde_json::from_str::<String>(&json) {
            check_map(&decoded)?;
        }
    }
}
