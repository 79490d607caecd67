//! The canonical text of a query: explicit `AND`, the fewest parentheses, terms quoted only
//! when they must be.
//!
//! The printer is the parser's inverse: for every tree [`crate::parse`] can return,
//! `parse(&expr.to_string())` gives the same tree back. That is what lets tools rewrite or
//! normalise stored queries, and lets match explanations quote the query safely. Trees built by
//! hand print too, but only trees the parser could have produced are guaranteed to round-trip
//! (for example `And` directly inside `And` prints with parentheses and re-parses flattened).

use std::fmt::{self, Write};

use crate::ast::{Expr, RegexAtom, Term};
use crate::lex::{classify_word, ends_word, TokKind};

/// Binding strength, loosest first: OR < AND < NOT < NEAR < atoms.
fn precedence(e: &Expr) -> u8 {
    match e {
        Expr::Or(_) => 0,
        Expr::And(_) => 1,
        Expr::Not(_) => 2,
        Expr::Near { .. } => 3,
        _ => 4,
    }
}

/// Writes `e`, in parentheses when it binds less tightly than its position requires.
fn operand(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if precedence(e) >= min {
        write!(f, "{e}")
    } else {
        write!(f, "({e})")
    }
}

fn join(f: &mut fmt::Formatter<'_>, items: &[Expr], sep: &str, min: u8) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        operand(f, item, min)?;
    }
    Ok(())
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Term(t) => write!(f, "{t}"),
            Expr::Group(name) => write!(f, "${name}"),
            Expr::Hashtag(tag) => write!(f, "#{tag}"),
            Expr::Mention(handle) => write!(f, "@{handle}"),
            Expr::Lang(code) => write!(f, "lang:{code}"),
            Expr::Platform(name) => write!(f, "platform:{name}"),
            Expr::Followers(cmp, n) => write!(f, "author.followers{cmp}{n}"),
            Expr::Verified(true) => f.write_str("author.verified"),
            Expr::Verified(false) => f.write_str("author.verified:false"),
            Expr::AuthorList(name) => write!(f, "author:{name}"),
            Expr::Regex(r) => write!(f, "{r}"),
            // NEAR is left-associative: a NEAR on the left needs no parentheses, on the right it
            // does.
            Expr::Near {
                left,
                right,
                distance,
            } => {
                operand(f, left, 3)?;
                write!(f, " NEAR/{distance} ")?;
                operand(f, right, 4)
            }
            Expr::Not(inner) => {
                f.write_str("NOT ")?;
                operand(f, inner, 2)
            }
            Expr::And(children) => join(f, children, " AND ", 2),
            Expr::Or(children) => join(f, children, " OR ", 1),
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.phrase && is_bare_word(&self.text) {
            return f.write_str(&self.text);
        }
        f.write_char('"')?;
        for c in self.text.chars() {
            if matches!(c, '"' | '\\') {
                f.write_char('\\')?;
            }
            f.write_char(c)?;
        }
        f.write_char('"')
    }
}

impl fmt::Display for RegexAtom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("regex:/")?;
        // Walk escapes as pairs, exactly as the lexer reads them, so that `\\` followed by `/`
        // is not mistaken for an escaped slash.
        let mut chars = self.pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '/' => f.write_str("\\/")?,
                '\\' => {
                    f.write_char('\\')?;
                    if let Some(next) = chars.next() {
                        f.write_char(next)?;
                    }
                }
                _ => f.write_char(c)?,
            }
        }
        f.write_char('/')?;
        if self.case_insensitive {
            f.write_char('i')?;
        }
        Ok(())
    }
}

/// Whether `text` reads back as the unquoted term `text`: one word, not starting with the `-`
/// of negation, and not a keyword, `NEAR/n` or a prefixed atom. Asking the lexer's own
/// classifier, instead of keeping a second list of special cases, keeps the two in step.
pub(crate) fn is_bare_word(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('-')
        && !text.chars().any(ends_word)
        && matches!(
            classify_word(text),
            Ok(TokKind::Atom(Expr::Term(Term { text: ref t, phrase: false }))) if t == text
        )
}

#[cfg(test)]
mod tests;
