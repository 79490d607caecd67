//! Text handling for Earshot's matcher: everything done to a post's text before keywords
//! and lexicon entries are looked up in it.
//!
//! * [`Normalized`] / [`normalize`] — NFKC, lower case, elongations, invisible characters,
//!   with a map from every normalised byte back to the original text (for explanations);
//! * [`find_entities`] — URLs, @mentions and #hashtags;
//! * [`detect_lang`] and the character classes in [`script`] — which scripts a text uses and
//!   where word boundaries are;
//! * [`kana`] — hiragana/katakana and long-vowel variants for terms that ask for them.
//!
//! No I/O, no allocation per call once a [`Normalized`] is warmed up.
//!
//! ```
//! use earshot_text::Normalized;
//!
//! let source = "ｽﾏﾎが全然繋がらなーーい";
//! let mut text = Normalized::new();
//! text.normalize(source);
//! assert_eq!(text.as_str(), "スマホが全然繋がらなーい");
//! let (start, end) = text.source_span(0, "スマホ".len());
//! assert_eq!(&source[start..end], "ｽﾏﾎ");
//! ```

mod entities;
pub mod kana;
mod normalize;
pub mod script;

pub use entities::{find_entities, Entities};
pub use normalize::{normalize, Normalized};
pub use script::detect_lang;
