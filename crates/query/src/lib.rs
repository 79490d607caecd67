//! The watch-query language: the boolean query a support team writes, per watchlist, to decide
//! whether a post belongs to it.
//!
//! This crate is pure logic: it turns query text into an [`Expr`] tree ([`parse`]), prints a
//! tree back as canonical text ([`Expr`]'s `Display`), and answers the questions the evaluator
//! asks before it looks at any post: which literals to put in its single Aho-Corasick automaton
//! ([`Expr::terms`], [`Expr::groups`]) and whether a watchlist can match a post that hit none of
//! them ([`Expr::can_match_without_terms`]). How a term matches text (word boundaries, CJK,
//! NEAR distances) is the analyzer's business, not this crate's.
//!
//! # Grammar
//!
//! Keywords (`AND`, `OR`, `NOT`, `NEAR`) and prefixes are case-insensitive. Precedence, loosest
//! first: `OR` < `AND` < `NOT` < `NEAR`.
//!
//! ```text
//! query    := or_expr
//! or_expr  := and_expr ( "OR" and_expr )*
//! and_expr := unary ( ["AND"] unary )*           -- juxtaposition means AND
//! unary    := "NOT" unary | "-" unary | near
//! near     := primary ( "NEAR/" INT primary )*   -- left-associative, INT in 0..=1000
//! primary  := "(" or_expr ")" | atom
//! atom     := WORD                               -- run of chars other than whitespace ( ) "
//!           | "\"" phrase "\""                   -- escapes \" and \\
//!           | "$" NAME                           -- term group of the watchlist
//!           | "#" TAG | "hashtag:" TAG
//!           | "@" HANDLE | "mention:" HANDLE
//!           | "lang:" CODE | "platform:" NAME
//!           | "author.followers" (">=" | ">" | "<=" | "<" | "=") INT
//!           | "author.verified" [":true" | ":false"]
//!           | "author:" LIST
//!           | "regex:/" PATTERN "/" ["i"]       -- "/" escaped as \/
//! ```
//!
//! Decisions beyond the grammar:
//!
//! * A `-` at the start of a token is negation (`-spam`); a `-` inside a word is not (`HZ-A52`).
//! * Words that would mean something else must be quoted to be searched for: the keywords
//!   (`"not"`), `"NEAR/3"`, words starting with `-`, `$`, `#` or `@`, and words starting with a
//!   known prefix (`hashtag:`, `mention:`, `lang:`, `platform:`, `author:`, `author.`,
//!   `regex:`).
//! * A word with a `:` and an unknown prefix is a plain term, so `9:00` and
//!   `example.com/x` need no quotes. A known prefix with a bad value is an error, never a term.
//! * A bare `NEAR` without `/n` is an error rather than the word "near".
//! * NEAR joins only things with a position in the text: terms, `$groups`, hashtags, mentions,
//!   regexes, `( .. OR .. )` of those, and other NEARs.
//! * `lang:` and `platform:` values are lower-cased; every other value is kept as written.
//!
//! # Example
//!
//! ```
//! use earshot_query::{parse, Expr, Term};
//!
//! let q = parse(r#"$brand AND (繋がらない OR 圏外 OR "no signal") -$exclude"#).unwrap();
//! assert_eq!(
//!     q.to_string(),
//!     r#"$brand AND (繋がらない OR 圏外 OR "no signal") AND NOT $exclude"#
//! );
//! assert_eq!(q.groups(), ["brand", "exclude"]);
//! assert!(q.terms().contains(&&Term { text: "圏外".into(), phrase: false }));
//! assert!(!q.can_match_without_terms());
//!
//! assert!(parse("lang:ja NOT spam").unwrap().can_match_without_terms());
//! assert_eq!(parse("lang:JA").unwrap(), Expr::Lang("ja".into()));
//!
//! let err = parse("\"HZ-A52\" NEAR/ battery").unwrap_err();
//! assert_eq!((err.line, err.column), (1, 10));
//! assert_eq!(err.message, "NEAR/ needs a number, e.g. NEAR/3");
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod ast;
mod lex;
mod parse;
mod print;

pub use ast::{Cmp, Expr, RegexAtom, Term};
pub use parse::{parse, ParseError, MAX_DEPTH};

/// The largest `n` accepted in `NEAR/n`, in analyzer tokens.
pub const MAX_NEAR_DISTANCE: u32 = 1000;

/// The compiled-size limit, in bytes, a `regex:` pattern must fit when parsed: the `regex`
/// crate's default, so an evaluator that compiles with the defaults (or a larger limit) never
/// fails on a parsed query.
pub const REGEX_SIZE_LIMIT: usize = 10 * (1 << 20);
