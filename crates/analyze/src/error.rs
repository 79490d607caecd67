//! Errors of the analyze engine: problems in watchlist and lexicon files, each with a place.

use std::fmt;

/// One problem in a configuration file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// 1-based line, 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column in characters, 0 when unknown.
    pub column: usize,
    pub message: String,
}

impl Problem {
    pub fn new(file: &str, (line, column): (usize, usize), message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A problem located at byte `offset` of `source`.
    pub fn at(file: &str, source: &str, offset: usize, message: impl Into<String>) -> Problem {
        Problem::new(file, line_column(source, offset), message)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.file, self.message),
            (l, 0) => write!(f, "{}:{}: {}", self.file, l, self.message),
            (l, c) => write!(f, "{}:{}:{}: {}", self.file, l, c, self.message),
        }
    }
}

/// 1-based line and character column of byte `offset` in `source`.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Why an analyzer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// Watchlist or lexicon files have problems; every one is listed.
    #[error("{} problem(s):\n{}", .0.len(), render(.0))]
    Invalid(Vec<Problem>),
    /// The keyword automaton could not be built (far too many or too long terms).
    #[error("could not build the keyword automaton: {0}")]
    Automaton(String),
    /// The model could not be loaded.
    #[error("could not load the model: {0}")]
    Model(String),
}

impl AnalyzeError {
    /// A short, stable name for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            AnalyzeError::Invalid(_) => "invalid_config",
            AnalyzeError::Automaton(_) => "automaton_build_failed",
            AnalyzeError::Model(_) => "model_invalid",
        }
    }

    /// The problems, when the error is about file contents.
    pub fn problems(&self) -> &[Problem] {
        match self {
            AnalyzeError::Invalid(problems) => problems,
            AnalyzeError::Automaton(_) | AnalyzeError::Model(_) => &[],
        }
    }
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let source = "a = 1\nb = \"圏外\" x";
        assert_eq!(line_column(source, 0), (1, 1));
        assert_eq!(line_column(source, source.find('x').unwrap()), (2, 10));
        assert_eq!(line_column(source, 10_000), (2, 11));
    }

    #[test]
    fn problems_render_with_their_place() {
        let p = Problem::new("w.toml", (3, 7), "unknown group `$brnad`");
        assert_eq!(p.to_string(), "w.toml:3:7: unknown group `$brnad`");
    }
}
