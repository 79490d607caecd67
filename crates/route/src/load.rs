//! Reading values out of the spanned TOML tree, one table at a time, reporting every
//! problem (wrong type, unknown key, bad duration, …) as a diagnostic instead of stopping.

use std::ops::Range;

use chrono::{Duration, NaiveDate, NaiveTime};
use toml::Spanned;

use crate::error::{Diagnostic, RouteError};
use earshot_toml::{Entries, Node};

/// One configuration file.
#[derive(Debug, Clone, Copy)]
pub struct ConfigFile<'a> {
    /// The name diagnostics show, usually the path as the user gave it.
    pub name: &'a str,
    pub text: &'a str,
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct At<T> {
    pub v: T,
    pub span: Range<usize>,
    /// Index of the file in the list given to the loader.
    pub file: usize,
}

/// Collects diagnostics for a set of files.
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    pub files: &'a [ConfigFile<'a>],
    pub diags: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub fn report(&mut self, file: usize, span: Range<usize>, error: RouteError) {
        let f = self.files[file];
        self.diags
            .push(Diagnostic::new(error, f.name, f.text, span));
    }

    pub fn at<T>(&mut self, at: &At<T>, error: RouteError) {
        self.report(at.file, at.span.clone(), error);
    }

    /// A problem of the configuration as a whole (no place in a file).
    pub fn global(&mut self, error: RouteError) {
        let name = self.files.first().map_or("<config>", |f| f.name);
        self.diags.push(Diagnostic::global(error, name));
    }

    /// The line of a span, for "first defined at line N" messages.
    pub fn line_of(&self, file: usize, span: &Range<usize>) -> u32 {
        let f = self.files[file];
        Diagnostic::new(RouteError::NoRules, f.name, f.text, span.clone()).line
    }
}

/// A table being read: remembers which keys were used so the rest can be reported as
/// unknown (usually a typo such as `queu`).
#[derive(Debug)]
pub(crate) struct Table<'a> {
    pub file: usize,
    pub span: Range<usize>,
    /// How diagnostics name the table: ``rule `outage-p1` ``, `[spike]`.
    pub what: String,
    entries: &'a Entries,
    used: Vec<bool>,
}

impl<'a> Table<'a> {
    pub fn new(file: usize, span: Range<usize>, what: String, entries: &'a Entries) -> Table<'a> {
        Table {
            file,
            span,
            what,
            entries,
            used: vec![false; entries.len()],
        }
    }

    /// Reads `node` as a table, or reports that it is not one.
    pub fn from_node(
        sink: &mut Sink<'_>,
        file: usize,
        key: &str,
        node: &'a Spanned<Node>,
        what: String,
    ) -> Option<Table<'a>> {
        match node.get_ref() {
            Node::Table(entries) => Some(Table::new(file, node.span(), what, entries)),
            other => {
                sink.report(file, node.span(), wrong(key, "a table", other));
                None
            }
        }
    }

    pub fn get(&mut self, key: &str) -> Option<&'a Spanned<Node>> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }

    fn at<T>(&self, v: T, node: &Spanned<Node>) -> At<T> {
        At {
            v,
            span: node.span(),
            file: self.file,
        }
    }

    pub fn str(&mut self, sink: &mut Sink<'_>, key: &str) -> Option<At<&'a str>> {
        let node = self.get(key)?;
        match node.get_ref() {
            Node::Str(s) => Some(self.at(s.as_str(), node)),
            other => {
                sink.report(self.file, node.span(), wrong(key, "a string", other));
                None
            }
        }
    }

    pub fn float(&mut self, sink: &mut Sink<'_>, key: &str) -> Option<At<f64>> {
        let node = self.get(key)?;
        number(sink, self.file, key, node).map(|v| self.at(v, node))
    }

    pub fn uint(&mut self, sink: &mut Sink<'_>, key: &str) -> Option<At<u64>> {
        let node = self.get(key)?;
        match node.get_ref() {
            Node::Int(i) if *i >= 0 => Some(self.at(i.unsigned_abs(), node)),
            other => {
                sink.report(
                    self.file,
                    node.span(),
                    wrong(key, "a non-negative integer", other),
                );
                None
            }
        }
    }

    pub fn bool(&mut self, sink: &mut Sink<'_>, key: &str) -> Option<At<bool>> {
        let node = self.get(key)?;
        match node.get_ref() {
            Node::Bool(b) => Some(self.at(*b, node)),
            other => {
                sink.report(self.file, node.span(), wrong(key, "true or false", other));
                None
            }
        }
    }

    /// A list of strings; a single string is a list of one.
    pub fn strs(&mut self, sink: &mut Sink<'_>, key: &str) -> Vec<At<&'a str>> {
        let Some(node) = self.get(key) else {
            return Vec::new();
        };
        self.str_items(sink, key, node)
    }

    pub fn str_items(
        &self,
        sink: &mut Sink<'_>,
        key: &str,
        node: &'a Spanned<Node>,
    ) -> Vec<At<&'a str>> {
        match node.get_ref() {
            Node::Str(s) => vec![self.at(s.as_str(), node)],
            Node::Array(items) => items
                .iter()
                .filter_map(|item| match item.get_ref() {
                    Node::Str(s) | Node::Datetime(s) => Some(self.at(s.as_str(), item)),
                    other => {
                        sink.report(
                            self.file,
                            item.span(),
                            wrong(key, "a list of strings", other),
                        );
                        None
                    }
                })
                .collect(),
            other => {
                sink.report(
                    self.file,
                    node.span(),
                    wrong(key, "a string or a list of strings", other),
                );
                Vec::new()
            }
        }
    }

    pub fn table(&mut self, sink: &mut Sink<'_>, key: &str) -> Option<Table<'a>> {
        let node = self.get(key)?;
        let what = format!("`{key}` of {}", self.what);
        Table::from_node(sink, self.file, key, node, what)
    }

    /// A duration such as `15m` or `1h30m`; days (`d`) only when `days` is set.
    pub fn duration(&mut self, sink: &mut Sink<'_>, key: &str, days: bool) -> Option<At<Duration>> {
        let s = self.str(sink, key)?;
        match parse_duration(s.v, days) {
            Ok(d) => Some(At {
                v: d,
                span: s.span,
                file: s.file,
            }),
            Err(why) => {
                sink.at(
                    &s,
                    RouteError::BadDuration {
                        text: s.v.to_string(),
                        why,
                    },
                );
                None
            }
        }
    }

    /// The keys of this table, in order, with their values (marks them all used).
    pub fn entries(&mut self) -> &'a Entries {
        self.used.iter_mut().for_each(|u| *u = true);
        self.entries
    }

    /// Reports every key that was never read.
    pub fn finish(self, sink: &mut Sink<'_>) {
        for ((key, value), used) in self.entries.iter().zip(&self.used) {
            if !used {
                let error = RouteError::UnknownKey {
                    key: key.clone(),
                    section: self.what.clone(),
                };
                sink.report(self.file, value.span(), error);
            }
        }
    }
}

pub(crate) fn number(
    sink: &mut Sink<'_>,
    file: usize,
    key: &str,
    node: &Spanned<Node>,
) -> Option<f64> {
    match node.get_ref() {
        // Config numbers are small: the conversion is exact.
        Node::Int(i) => Some(*i as f64),
        Node::Float(f) if f.is_finite() => Some(*f),
        other => {
            sink.report(file, node.span(), wrong(key, "a number", other));
            None
        }
    }
}

pub(crate) fn wrong(key: &str, expected: &'static str, found: &Node) -> RouteError {
    RouteError::WrongType {
        key: key.to_string(),
        expected,
        found: found.type_name(),
    }
}

/// Parses `90s`, `15m`, `1h30m`, `7d`. Days are refused for business-time targets, where
/// a "day" would depend on the calendar.
pub fn parse_duration(text: &str, days: bool) -> Result<Duration, &'static str> {
    let mut total = Duration::zero();
    let mut digits = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits
            .parse()
            .map_err(|_| "expected a number before each unit, e.g. 1h30m")?;
        digits.clear();
        let part =
            match c {
                'd' if days => Duration::try_days(n),
                'd' => return Err(
                    "business-time targets take h, m or s: a day depends on the calendar (e.g. 9h)",
                ),
                'h' => Duration::try_hours(n),
                'm' => Duration::try_minutes(n),
                's' => Duration::try_seconds(n),
                _ => return Err("units are d, h, m and s, e.g. 1h30m"),
            };
        total = part.and_then(|p| total.checked_add(&p)).ok_or("too long")?;
        any = true;
    }
    if !digits.is_empty() {
        return Err("a number needs a unit, e.g. 30m");
    }
    if !any {
        return Err("empty duration");
    }
    Ok(total)
}

/// Parses `09:00-18:00` (end may be `24:00`).
pub fn parse_hours(text: &str) -> Result<(NaiveTime, NaiveTime), &'static str> {
    let (a, b) = text
        .split_once('-')
        .ok_or("expected HH:MM-HH:MM, e.g. 09:00-18:00")?;
    let open = parse_clock(a.trim())?;
    let close = if b.trim() == "24:00" {
        NaiveTime::MIN
    } else {
        parse_clock(b.trim())?
    };
    if close != NaiveTime::MIN && close <= open {
        return Err("the end must be after the start; split hours past midnight over two days");
    }
    Ok((open, close))
}

fn parse_clock(text: &str) -> Result<NaiveTime, &'static str> {
    NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| "times are HH:MM between 00:00 and 24:00")
}

/// Parses `2026-05-06`.
pub fn parse_date(text: &str) -> Result<NaiveDate, &'static str> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| "expected YYYY-MM-DD")
}

/// Parses `12-29` (month-day).
pub fn parse_month_day(text: &str) -> Result<(u32, u32), &'static str> {
    let (m, d) = text
        .trim()
        .split_once('-')
        .ok_or("expected MM-DD, e.g. 12-29")?;
    let (m, d): (u32, u32) = (
        m.parse().map_err(|_| "expected MM-DD")?,
        d.parse().map_err(|_| "expected MM-DD")?,
    );
    // 2024 is a leap year, so 02-29 is accepted.
    NaiveDate::from_ymd_opt(2024, m, d).ok_or("no such day")?;
    Ok((m, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m", false), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("15m", false), Ok(Duration::minutes(15)));
        assert_eq!(parse_duration("7d", true), Ok(Duration::days(7)));
        assert!(parse_duration("1d", false).is_err());
        assert!(parse_duration("30", false).is_err());
        assert!(parse_duration("", false).is_err());
        assert!(parse_duration("1w", true).is_err());
    }

    #[test]
    fn hours_and_dates() {
        assert!(parse_hours("09:00-18:00").is_ok());
        assert!(parse_hours("00:00-24:00").is_ok());
        assert!(parse_hours("18:00-09:00").is_err());
        assert!(parse_hours("9-18").is_err());
        assert_eq!(parse_month_day("12-29"), Ok((12, 29)));
        assert!(parse_month_day("02-30").is_err());
        assert!(parse_date("2026-02-30").is_err());
    }
}
