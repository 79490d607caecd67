//! HTML to plain text for Mastodon's `content`: Mastodon sanitises statuses to a handful of
//! tags (`p`, `br`, `a`, `span`, …), so dropping tags, turning paragraph and line breaks into
//! newlines and decoding character references gives the text the author typed.

/// The text of an HTML fragment.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find(['<', '&']) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if rest.starts_with('<') {
            let Some(end) = rest.find('>') else {
                // An unclosed `<` is text.
                out.push_str(rest);
                rest = "";
                break;
            };
            let tag = rest[1..end].trim().to_ascii_lowercase();
            let name = tag
                .trim_start_matches('/')
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("");
            match name {
                "br" => out.push('\n'),
                "p" if tag.starts_with('/') => out.push_str("\n\n"),
                _ => {}
            }
            rest = &rest[end + 1..];
        } else {
            let (decoded, used) = entity(rest);
            out.push_str(decoded.as_deref().unwrap_or("&"));
            rest = &rest[used..];
        }
    }
    out.push_str(rest);
    out.trim_end_matches('\n').to_string()
}

/// Decodes the character reference at the start of `text` (which starts with `&`): the text
/// and how many bytes it used, or `None` and 1 when it is not one.
fn entity(text: &str) -> (Option<String>, usize) {
    let Some(end) = text.find(';').filter(|&e| e <= 12) else {
        return (None, 1);
    };
    let name = &text[1..end];
    let decoded = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse().ok()
            } else {
                None
            };
            code.and_then(char::from_u32)
        }
    };
    match decoded {
        Some(c) => (Some(c.to_string()), end + 1),
        None => (None, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn mastodon_content() {
        let html = r#"<p>星空モバイル、また圏外 <a href="https://m.example/tags/障害" class="mention hashtag" rel="tag">#<span>障害</span></a></p><p>line&nbsp;two<br>third &amp; &lt;last&gt; &#39;q&#39; &#x1F621;</p>"#;
        assert_eq!(
            to_text(html),
            "星空モバイル、また圏外 #障害\n\nline\u{a0}two\nthird & <last> 'q' 😡"
        );
    }

    #[test]
    fn stray_characters_are_text() {
        assert_eq!(to_text("a < b & c &unknown; d"), "a < b & c &unknown; d");
        assert_eq!(to_text("1 &#99999999; 2"), "1 &#99999999; 2");
        assert_eq!(to_text("<br/>x<BR />y"), "\nx\ny");
        assert_eq!(to_text(""), "");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics_and_plain_text_is_kept(s in "[^<&]*", t in ".*") {
            proptest::prop_assert_eq!(to_text(&s), s.trim_end_matches('\n'));
            let _ = to_text(&t);
        }
    }
}
