//! The syntax tree of a watch query and the questions other crates ask of it.
//!
//! The tree is what [`crate::parse`] produces and what [`std::fmt::Display`] prints back. It is
//! deliberately close to the surface syntax (a phrase stays a phrase, `NOT NOT x` stays two
//! `Not`s) so that printing a parsed query gives back the same query, and an operator reading a
//! match explanation recognises what they wrote.

use std::fmt;

/// One node of a watch query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A literal word or `"quoted phrase"` looked for in the post text.
    Term(Term),
    /// `$name`: any term of the watchlist's named term group `name`.
    Group(String),
    /// `#tag` or `hashtag:tag`, stored without the `#`.
    Hashtag(String),
    /// `@handle` or `mention:handle`, stored without the `@`.
    Mention(String),
    /// `lang:code`, the code in lower case (`lang:ja`).
    Lang(String),
    /// `platform:name`, the name in lower case (`platform:x`).
    Platform(String),
    /// `author.followers>=10000`: the author's follower count compared with a number.
    Followers(Cmp, u64),
    /// `author.verified` (true) or `author.verified:false`.
    Verified(bool),
    /// `author:list`: the author is on the named list (`vip`, `blocklist`, ...).
    AuthorList(String),
    /// `regex:/pattern/` or `regex:/pattern/i`, checked to compile when parsed.
    Regex(RegexAtom),
    /// `left NEAR/distance right`: both sides occur at most `distance` tokens apart.
    Near {
        /// The operand before `NEAR/`.
        left: Box<Expr>,
        /// The operand after `NEAR/n`.
        right: Box<Expr>,
        /// The largest allowed gap, in analyzer tokens (0..=[`crate::MAX_NEAR_DISTANCE`]).
        distance: u32,
    },
    /// `NOT x` or `-x`.
    Not(Box<Expr>),
    /// All children hold; the parser never nests an `And` directly in an `And`.
    And(Vec<Expr>),
    /// At least one child holds; the parser never nests an `Or` directly in an `Or`.
    Or(Vec<Expr>),
}

/// A literal looked for in the post text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    /// The text as written, without quotes or escapes.
    pub text: String,
    /// Whether it was written in double quotes. The analyzer decides what this changes; the
    /// printer keeps it so that `"foo"` prints back as `"foo"`.
    pub phrase: bool,
}

/// A `regex:/.../` atom.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegexAtom {
    /// The pattern in `regex` crate syntax, with `\/` already turned into `/`.
    pub pattern: String,
    /// The trailing `i` flag.
    pub case_insensitive: bool,
}

/// A comparison in `author.followers<op><number>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cmp {
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `<`
    Lt,
    /// `=`
    Eq,
}

impl Cmp {
    /// Whether `lhs <op> rhs`, e.g. `Cmp::Ge.holds(followers, 10_000)`.
    pub fn holds(self, lhs: u64, rhs: u64) -> bool {
        match self {
            Cmp::Ge => lhs >= rhs,
            Cmp::Gt => lhs > rhs,
            Cmp::Le => lhs <= rhs,
            Cmp::Lt => lhs < rhs,
            Cmp::Eq => lhs == rhs,
        }
    }

    /// The operator as written in a query.
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Ge => ">=",
            Cmp::Gt => ">",
            Cmp::Le => "<=",
            Cmp::Lt => "<",
            Cmp::Eq => "=",
        }
    }
}

impl fmt::Display for Cmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Expr {
    /// Calls `f` on this node and every node below it, parents before children, left to right.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Near { left, right, .. } => {
                left.walk(f);
                right.walk(f);
            }
            Expr::Not(inner) => inner.walk(f),
            Expr::And(children) | Expr::Or(children) => {
                for child in children {
                    child.walk(f);
                }
            }
            Expr::Term(_)
            | Expr::Group(_)
            | Expr::Hashtag(_)
            | Expr::Mention(_)
            | Expr::Lang(_)
            | Expr::Platform(_)
            | Expr::Followers(..)
            | Expr::Verified(_)
            | Expr::AuthorList(_)
            | Expr::Regex(_) => {}
        }
    }

    /// Every [`Term`] literal, in query order, duplicates kept. The evaluator feeds these (with
    /// the groups' terms) to its single Aho-Corasick automaton.
    pub fn terms(&self) -> Vec<&Term> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Term(t) = e {
                out.push(t);
            }
        });
        out
    }

    /// Every `$group` name, in query order, duplicates kept, so a caller can check that each
    /// refers to a group the watchlist defines.
    pub fn groups(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Group(name) = e {
                out.push(name.as_str());
            }
        });
        out
    }

    /// Whether this expression could be true for a post in which none of its text atoms (terms,
    /// `$groups`, regexes, hashtags, mentions) occurs, e.g. `NOT spam`, `lang:ja`,
    /// `author.verified`. The evaluator skips a watchlist without hits only when this is false,
    /// so the answer errs towards `true`: combinations that can never hold together (such as
    /// `lang:ja AND lang:en`) still answer `true`.
    pub fn can_match_without_terms(&self) -> bool {
        outcomes_without_hits(self).can_be_true
    }
}

/// Which truth values an expression can take on a post with no text hits.
#[derive(Clone, Copy)]
struct Outcomes {
    can_be_true: bool,
    can_be_false: bool,
}

/// Tracking both values (not just "can be true") is what makes `NOT NOT spam` come out as
/// needing a hit while `NOT spam` does not. Children are treated as independent, which can only
/// over-approximate, never miss a possible match.
fn outcomes_without_hits(e: &Expr) -> Outcomes {
    const ONLY_FALSE: Outcomes = Outcomes {
        can_be_true: false,
        can_be_false: true,
    };
    const EITHER: Outcomes = Outcomes {
        can_be_true: true,
        can_be_false: true,
    };
    match e {
        Expr::Term(_) | Expr::Group(_) | Expr::Hashtag(_) | Expr::Mention(_) | Expr::Regex(_) => {
            ONLY_FALSE
        }
        // Metadata atoms do not depend on the text at all.
        Expr::Lang(_)
        | Expr::Platform(_)
        | Expr::Followers(..)
        | Expr::Verified(_)
        | Expr::AuthorList(_) => EITHER,
        Expr::Near { left, right, .. } => {
            let (l, r) = (outcomes_without_hits(left), outcomes_without_hits(right));
            Outcomes {
                can_be_true: l.can_be_true && r.can_be_true,
                can_be_false: true,
            }
        }
        Expr::Not(inner) => {
            let o = outcomes_without_hits(inner);
            Outcomes {
                can_be_true: o.can_be_false,
                can_be_false: o.can_be_true,
            }
        }
        Expr::And(children) => {
            let all: Vec<Outcomes> = children.iter().map(outcomes_without_hits).collect();
            Outcomes {
                can_be_true: all.iter().all(|o| o.can_be_true),
                can_be_false: all.iter().any(|o| o.can_be_false),
            }
        }
        Expr::Or(children) => {
            let all: Vec<Outcomes> = children.iter().map(outcomes_without_hits).collect();
            Outcomes {
                can_be_true: all.iter().any(|o| o.can_be_true),
                can_be_false: all.iter().all(|o| o.can_be_false),
            }
        }
    }
}
