//! The recursive-descent parser: tokens from [`crate::lex`] in, a validated [`Expr`] out.
//!
//! Everything that can be checked without the watchlist is checked here, so that a bad query is
//! rejected when the configuration is loaded, with a line and column, and never while posts are
//! flowing: regexes compile, NEAR distances are in range, NEAR joins only text, nesting is
//! bounded. The parser never panics, and [`MAX_DEPTH`] bounds both its recursion and the depth
//! of the trees it returns, so code that walks them recursively is safe too.

use std::iter::Peekable;
use std::vec;

use crate::ast::Expr;
use crate::lex::{tokenize, Pos, TokKind, Token};

/// The deepest nesting of parentheses, `NOT`s and chained `NEAR`s accepted. Far beyond what a person writes,
/// and low enough that parsing, printing and evaluating cannot exhaust a thread's stack.
pub const MAX_DEPTH: usize = 64;

/// Why a query was rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line of the offending text.
    pub line: usize,
    /// 1-based column, counted in characters (not bytes), of the offending text.
    pub column: usize,
    /// What is wrong, in words meant for the person who wrote the query.
    pub message: String,
}

impl ParseError {
    fn at(pos: Pos, message: impl Into<String>) -> Self {
        ParseError {
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }

    /// A short, stable name for metrics labels. There is one: the message and position already
    /// say which rule was broken, and a label per message would not stay stable.
    pub fn code(&self) -> &'static str {
        "invalid_query"
    }
}

/// Parses a watch query. See the crate documentation for the language.
///
/// ```
/// use earshot_query::{parse, Expr};
///
/// let q = parse("$brand 圏外").unwrap();
/// assert!(matches!(q, Expr::And(ref parts) if parts.len() == 2));
/// let err = parse("(圏外 OR 繋がらない").unwrap_err();
/// assert_eq!(err.message, "expected `)` to close `(` opened at column 1");
/// ```
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let (tokens, end) = tokenize(src).map_err(|(pos, message)| ParseError::at(pos, message))?;
    if tokens.is_empty() {
        return Err(ParseError::at(Pos { line: 1, column: 1 }, "empty query"));
    }
    let mut parser = Parser {
        tokens: tokens.into_iter().peekable(),
        end,
    };
    let expr = parser.or_expr(0)?;
    match parser.tokens.next() {
        None => Ok(expr),
        Some(Token {
            kind: TokKind::RParen,
            pos,
        }) => Err(ParseError::at(
            pos,
            "unmatched `)`: there is no `(` before it",
        )),
        Some(t) => Err(ParseError::at(
            t.pos,
            format!("unexpected {}", t.kind.describe()),
        )),
    }
}

struct Parser {
    tokens: Peekable<vec::IntoIter<Token>>,
    /// Just after the last token, for "the query ends there" errors.
    end: Pos,
}

impl Parser {
    fn peek_kind(&mut self) -> Option<&TokKind> {
        self.tokens.peek().map(|t| &t.kind)
    }

    fn peek_pos(&mut self) -> Pos {
        self.tokens.peek().map_or(self.end, |t| t.pos)
    }

    fn or_expr(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut items = vec![self.and_expr(depth)?];
        while let Some(op) = self.tokens.next_if(|t| t.kind == TokKind::Or) {
            self.expect_operand(&op)?;
            items.push(self.and_expr(depth)?);
        }
        Ok(flatten(items, Expr::Or, |e| match e {
            Expr::Or(children) => Ok(children),
            other => Err(other),
        }))
    }

    fn and_expr(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut items = vec![self.unary(depth)?];
        loop {
            match self.peek_kind() {
                Some(TokKind::And) => {
                    if let Some(op) = self.tokens.next() {
                        self.expect_operand(&op)?;
                    }
                }
                // Juxtaposition: `$brand 圏外` means `$brand AND 圏外`.
                Some(kind) if starts_operand(kind) => {}
                _ => break,
            }
            items.push(self.unary(depth)?);
        }
        Ok(flatten(items, Expr::And, |e| match e {
            Expr::And(children) => Ok(children),
            other => Err(other),
        }))
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let is_not = |t: &Token| matches!(t.kind, TokKind::Not | TokKind::Minus);
        let Some(op) = self.tokens.next_if(is_not) else {
            return self.near(depth);
        };
        let depth = deeper(depth, op.pos)?;
        self.expect_operand(&op)?;
        Ok(Expr::Not(Box::new(self.unary(depth)?)))
    }

    fn near(&mut self, mut depth: usize) -> Result<Expr, ParseError> {
        let left_pos = self.peek_pos();
        let mut left = self.primary(depth)?;
        // Later operands are checked as they arrive; a NEAR built from checked parts is fine.
        let mut checked_left = false;
        while let Some(op) = self.tokens.next_if(|t| matches!(t.kind, TokKind::Near(_))) {
            let TokKind::Near(distance) = op.kind else {
                break;
            };
            // Each NEAR nests the chain so far one level deeper in the tree.
            depth = deeper(depth, op.pos)?;
            if !checked_left {
                check_near_operand(&left).map_err(|m| ParseError::at(left_pos, m))?;
                checked_left = true;
            }
            let right_pos = self.peek_pos();
            if let Some(TokKind::Not | TokKind::Minus) = self.peek_kind() {
                return Err(ParseError::at(
                    right_pos,
                    "NOT cannot be used inside NEAR/; put it outside, e.g. NOT (a NEAR/3 b)",
                ));
            }
            self.expect_operand(&op)?;
            let right = self.primary(depth)?;
            check_near_operand(&right).map_err(|m| ParseError::at(right_pos, m))?;
            left = Expr::Near {
                left: Box::new(left),
                right: Box::new(right),
                distance,
            };
        }
        Ok(left)
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let Some(token) = self.tokens.next() else {
            return Err(ParseError::at(
                self.end,
                "expected a term, but the query ends there",
            ));
        };
        let pos = token.pos;
        match token.kind {
            TokKind::Atom(expr) => Ok(expr),
            TokKind::LParen => {
                let depth = deeper(depth, pos)?;
                if let Some(TokKind::RParen) = self.peek_kind() {
                    let at = self.peek_pos();
                    return Err(ParseError::at(at, "empty parentheses"));
                }
                let inner = self.or_expr(depth)?;
                match self.tokens.next() {
                    Some(Token {
                        kind: TokKind::RParen,
                        ..
                    }) => Ok(inner),
                    other => {
                        let at = other.map_or(self.end, |t| t.pos);
                        let opened = if at.line == pos.line {
                            format!("column {}", pos.column)
                        } else {
                            format!("line {}, column {}", pos.line, pos.column)
                        };
                        Err(ParseError::at(
                            at,
                            format!("expected `)` to close `(` opened at {opened}"),
                        ))
                    }
                }
            }
            TokKind::RParen => Err(ParseError::at(
                pos,
                "unmatched `)`: there is no `(` before it",
            )),
            kind @ (TokKind::And | TokKind::Or | TokKind::Near(_)) => Err(ParseError::at(
                pos,
                format!("{} needs a term on its left", kind.describe()),
            )),
            kind @ (TokKind::Not | TokKind::Minus) => Err(ParseError::at(
                pos,
                format!("unexpected {}", kind.describe()),
            )),
        }
    }

    /// After an operator, says what is missing instead of a generic "unexpected".
    fn expect_operand(&mut self, op: &Token) -> Result<(), ParseError> {
        let op = op.kind.describe();
        match self.tokens.peek() {
            Some(t) if starts_operand(&t.kind) => Ok(()),
            Some(t) => Err(ParseError::at(
                t.pos,
                format!("expected a term after {op}, found {}", t.kind.describe()),
            )),
            None => Err(ParseError::at(
                self.end,
                format!("expected a term after {op}, but the query ends there"),
            )),
        }
    }
}

fn starts_operand(kind: &TokKind) -> bool {
    matches!(
        kind,
        TokKind::Atom(_) | TokKind::LParen | TokKind::Not | TokKind::Minus
    )
}

fn deeper(depth: usize, pos: Pos) -> Result<usize, ParseError> {
    if depth >= MAX_DEPTH {
        Err(ParseError::at(
            pos,
            format!("the query is nested too deeply (more than {MAX_DEPTH} levels of parentheses, NOT and NEAR)"),
        ))
    } else {
        Ok(depth + 1)
    }
}

/// One item stays itself; several become `make(children)`, with children of the same kind
/// spliced in so that `(a OR b) OR c` and `a OR b OR c` give the same tree.
fn flatten(
    mut items: Vec<Expr>,
    make: fn(Vec<Expr>) -> Expr,
    same_kind: fn(Expr) -> Result<Vec<Expr>, Expr>,
) -> Expr {
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return only;
        }
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match same_kind(item) {
            Ok(children) => out.extend(children),
            Err(other) => out.push(other),
        }
    }
    make(out)
}

/// NEAR measures a distance between positions in the text, so each side must be something
/// that has a position: a text atom, alternatives of them, or another NEAR.
fn check_near_operand(e: &Expr) -> Result<(), String> {
    match e {
        Expr::Term(_) | Expr::Group(_) | Expr::Hashtag(_) | Expr::Mention(_) | Expr::Regex(_) => {
            Ok(())
        }
        Expr::Or(children) => children.iter().try_for_each(check_near_operand),
        Expr::Near { left, right, .. } => {
            check_near_operand(left)?;
            check_near_operand(right)
        }
        Expr::Not(_) => Err(
            "NOT cannot be used inside NEAR/; put it outside, e.g. NOT (a NEAR/3 b)".into(),
        ),
        Expr::And(_) => Err(
            "AND cannot be used inside NEAR/; use OR between alternatives, e.g. (電池 OR battery) NEAR/5 HZ-A52"
                .into(),
        ),
        Expr::Lang(_)
        | Expr::Platform(_)
        | Expr::Followers(..)
        | Expr::Verified(_)
        | Expr::AuthorList(_) => Err(format!(
            "`{e}` is not in the text, so it cannot be used with NEAR/"
        )),
    }
}

#[cfg(test)]
mod tests;
