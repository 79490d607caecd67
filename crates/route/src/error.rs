//! What can be wrong with a route configuration, and where.
//!
//! Every problem is a [`RouteError`] (with a stable [`RouteError::code`] for metrics and
//! scripts) placed in a [`Diagnostic`] that says file, line, column and the offending text.
//! The loader collects all of them before it gives up, so `earshot check` lists everything
//! a support lead has to fix in one run.

use std::fmt;
use std::ops::Range;

/// One problem in the route configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RouteError {
    #[error("{0}")]
    Syntax(String),
    #[error("unknown key `{key}` in {section}")]
    UnknownKey { key: String, section: String },
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{section} needs `{key}`")]
    MissingKey { key: &'static str, section: String },
    #[error("{what} `{id}` is defined twice (first at line {first_line})")]
    DuplicateId {
        what: &'static str,
        id: String,
        first_line: u32,
    },
    #[error("`[{0}]` is defined in more than one place")]
    DuplicateSection(&'static str),
    #[error("unknown watchlist `{0}`")]
    UnknownWatchlist(String),
    #[error("unknown queue `{0}`")]
    UnknownQueue(String),
    #[error("unknown calendar `{0}`")]
    UnknownCalendar(String),
    #[error("unknown author list `{0}`")]
    UnknownList(String),
    #[error("unknown holiday list `{0}` (built in: `jp`; others come from [[holiday_list]])")]
    UnknownHolidayList(String),
    #[error("unknown intent `{0}` (one of complaint, question, request, outage, praise, other)")]
    UnknownIntent(String),
    #[error("bad priority `{0}` (one of P1, P2, P3, P4)")]
    BadPriority(String),
    #[error("bad range: {0}")]
    BadRange(String),
    #[error("bad duration `{text}`: {why}")]
    BadDuration { text: String, why: &'static str },
    #[error("unknown time zone `{0}` (use an IANA name such as Asia/Tokyo)")]
    BadTimeZone(String),
    #[error("bad opening hours `{text}`: {why}")]
    BadHours { text: String, why: &'static str },
    #[error("bad date `{text}`: {why}")]
    BadDate { text: String, why: &'static str },
    #[error("bad value for `{key}`: {why}")]
    BadValue { key: String, why: String },
    #[error("rule `{0}` does nothing: give it a `queue`, `suppress = true`, or `continue = true` to make it add tags, a team or a priority floor to later rules")]
    RuleWithoutAction(String),
    #[error("rule `{rule}` can never match: rule `{by}` (line {by_line}) takes every post it would and does not continue")]
    ShadowedRule {
        rule: String,
        by: String,
        by_line: u32,
    },
    #[error("queue `{queue}` has no SLA target for {priority}, which rule `{rule}` assigns: its tickets get no due_at")]
    MissingSla {
        queue: String,
        priority: &'static str,
        rule: String,
    },
    #[error("calendar `{0}` is never open: set `hours` or `always_open = true`")]
    NeverOpen(String),
    #[error("no rules: every post becomes an unrouted record")]
    NoRules,
}

impl RouteError {
    /// A short, stable name for metrics labels and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            RouteError::Syntax(_) => "syntax",
            RouteError::UnknownKey { .. } => "unknown_key",
            RouteError::WrongType { .. } => "wrong_type",
            RouteError::MissingKey { .. } => "missing_key",
            RouteError::DuplicateId { .. } => "duplicate_id",
            RouteError::DuplicateSection(_) => "duplicate_section",
            RouteError::UnknownWatchlist(_) => "unknown_watchlist",
            RouteError::UnknownQueue(_) => "unknown_queue",
            RouteError::UnknownCalendar(_) => "unknown_calendar",
            RouteError::UnknownList(_) => "unknown_list",
            RouteError::UnknownHolidayList(_) => "unknown_holiday_list",
            RouteError::UnknownIntent(_) => "unknown_intent",
            RouteError::BadPriority(_) => "bad_priority",
            RouteError::BadRange(_) => "bad_range",
            RouteError::BadDuration { .. } => "bad_duration",
            RouteError::BadTimeZone(_) => "bad_time_zone",
            RouteError::BadHours { .. } => "bad_hours",
            RouteError::BadDate { .. } => "bad_date",
            RouteError::BadValue { .. } => "bad_value",
            RouteError::RuleWithoutAction(_) => "rule_without_action",
            RouteError::ShadowedRule { .. } => "shadowed_rule",
            RouteError::MissingSla { .. } => "missing_sla",
            RouteError::NeverOpen(_) => "never_open",
            RouteError::NoRules => "no_rules",
        }
    }

    /// Warnings leave a usable configuration; errors do not.
    pub fn severity(&self) -> Severity {
        match self {
            RouteError::ShadowedRule { .. }
            | RouteError::MissingSla { .. }
            | RouteError::NoRules => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// Whether a problem stops the configuration from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A problem with its place: `rules.toml:12:9: error[unknown_queue]: unknown queue `biling``.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub error: RouteError,
    pub file: String,
    /// 1-based; 0 when the problem has no place (e.g. no rules at all).
    pub line: u32,
    /// 1-based, in characters.
    pub column: u32,
    /// The offending text, first line only, at most 80 characters.
    pub text: String,
}

impl Diagnostic {
    /// Places `error` at the byte span `span` of `source`.
    pub fn new(error: RouteError, file: &str, source: &str, span: Range<usize>) -> Diagnostic {
        let start = floor_char_boundary(source, span.start);
        let end = floor_char_boundary(source, span.end.max(start));
        let before = &source[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = source[line_start..start].chars().count() + 1;
        let text: String = source[start..end]
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(80)
            .collect();
        Diagnostic {
            error,
            file: file.to_string(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            text,
        }
    }

    /// A problem of the whole configuration, with no line.
    pub fn global(error: RouteError, file: &str) -> Diagnostic {
        Diagnostic {
            error,
            file: file.to_string(),
            line: 0,
            column: 0,
            text: String::new(),
        }
    }

    pub fn severity(&self) -> Severity {
        self.error.severity()
    }

    pub fn code(&self) -> &'static str {
        self.error.code()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sev, code) = (self.severity(), self.code());
        if self.line == 0 {
            write!(f, "{}: {sev}[{code}]: {}", self.file, self.error)
        } else {
            write!(
                f,
                "{}:{}:{}: {sev}[{code}]: {}",
                self.file, self.line, self.column, self.error
            )?;
            if !self.text.is_empty() {
                write!(f, "\n    | {}", self.text)?;
            }
            Ok(())
        }
    }
}

/// Every problem found, errors first, each group in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity() == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.severity() == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.severity() == Severity::Warning)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            (a.severity(), &a.file, a.line, a.column).cmp(&(
                b.severity(),
                &b.file,
                b.line,
                b.column,
            ))
        });
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
