//! Watchlists: named sets of terms and a query that decides whether a post belongs.
//!
//! A watchlist file (TOML) is what a support team edits:
//!
//! ```toml
//! [lists]
//! vip = ["famous_reviewer", "12345"]          # handles (without @) or author ids
//!
//! [[watchlist]]
//! id = "hoshizora"
//! name = "星空モバイル (brand)"
//! query = "$brand AND NOT $jobs"               # optional: default is any term of any group
//! mask = ["星空がきれい"]                       # this watchlist's terms inside these do not count
//!
//! [watchlist.terms]
//! brand = ["星空モバイル", "hoshizora mobile", { text = "ほしぞら", kana = true, long_vowel = false }]
//! jobs = ["求人", { text = "まじ", not_inside = ["まじない"] }]
//! ```
//!
//! Parsing checks everything (duplicate ids, unknown groups and lists, bad regexes, NEAR on
//! things that have no position) and reports every problem with file, line and column.
//! Compiling turns each query into a [`Node`] tree whose terms are indexes into one shared
//! term table; the analyzer registers those terms in its single automaton.

use std::collections::{BTreeMap, HashMap, HashSet};

use earshot_query::{Cmp, Expr};
use earshot_text::kana::{long_vowel_variants, to_hiragana, to_katakana};
use earshot_text::normalize;
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::error::{line_column, Problem};

/// A compiled query node: [`Expr`] with terms, groups, lists and regexes resolved to indexes.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Terms(Vec<u32>),
    Hashtag(String),
    Mention(String),
    Lang(String),
    Platform(String),
    Followers(Cmp, u64),
    Verified(bool),
    AuthorList(u32),
    Regex(u32),
    Near(Box<Node>, Box<Node>, u32),
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

/// A term of some watchlist, shared by every watchlist that uses the same text.
#[derive(Debug, Clone)]
pub(crate) struct WatchTermDef {
    /// As written in the first watchlist that used it.
    pub display: String,
    /// The normalised text and the variants it asked for.
    pub patterns: Vec<String>,
}

/// Where a mask applies: to one watchlist's terms, or to one term everywhere.
#[derive(Debug, Clone)]
pub(crate) struct MaskDef {
    pub watchlist: Option<u32>,
    pub term: Option<u32>,
    pub patterns: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledWatchlist {
    pub id: String,
    pub node: Node,
    /// The query may hold for a post with none of its terms (`NOT x`, `lang:ja`).
    pub always_candidate: bool,
    /// Terms and regexes that count towards a match (not under a NOT), for the explanation.
    pub shown_terms: Vec<u32>,
    pub shown_regexes: Vec<u32>,
}

/// Every watchlist of a file, compiled.
#[derive(Debug, Clone, Default)]
pub struct Watchlists {
    pub(crate) watchlists: Vec<CompiledWatchlist>,
    pub(crate) terms: Vec<WatchTermDef>,
    pub(crate) masks: Vec<MaskDef>,
    pub(crate) regexes: Vec<(String, Regex)>,
    pub(crate) lists: Vec<HashSet<String>>,
    /// For each term, the watchlists that mention it.
    pub(crate) term_watchlists: Vec<Vec<u32>>,
    /// For each regex, the watchlists that use it.
    pub(crate) regex_watchlists: Vec<Vec<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    lists: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    watchlist: Vec<Spanned<WatchlistSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchlistSpec {
    id: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    query: Option<Spanned<String>>,
    #[serde(default)]
    terms: BTreeMap<String, Vec<Spanned<TermSpec>>>,
    #[serde(default)]
    mask: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TermSpec {
    Text(String),
    Full(FullTermSpec),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FullTermSpec {
    text: String,
    #[serde(default)]
    kana: bool,
    #[serde(default)]
    long_vowel: bool,
    #[serde(default)]
    not_inside: Vec<String>,
}

/// The shape of a watchlist without spans: used only to find every structural problem when
/// the file does not read, one per watchlist (serde stops at the first).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct WatchlistShape {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    query: Option<String>,
    #[serde(default)]
    terms: BTreeMap<String, Vec<TermSpec>>,
    #[serde(default)]
    mask: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct LooseFile {
    #[allow(dead_code)]
    lists: Option<toml::Value>,
    #[serde(default)]
    watchlist: Vec<Spanned<toml::Value>>,
}

/// Every watchlist's structural problem (wrong key, wrong type), each at its watchlist;
/// else the one problem toml reported.
fn structural_problems(file: &str, source: &str, first: &toml::de::Error) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Ok(loose) = toml::from_str::<LooseFile>(source) {
        for watchlist in loose.watchlist {
            let at = watchlist.span().start;
            if let Err(e) = WatchlistShape::deserialize(watchlist.into_inner()) {
                problems.push(Problem::at(file, source, at, e.message().to_string()));
            }
        }
    }
    if problems.len() < 2 {
        // The precise place toml gave is better than the watchlist's.
        problems = vec![Problem::at(
            file,
            source,
            first.span().map_or(0, |s| s.start),
            first.message().to_string(),
        )];
    }
    problems
}

/// Compilation state shared across the watchlists of one file.
struct Compiler<'a> {
    file: &'a str,
    source: &'a str,
    out: Watchlists,
    term_ids: HashMap<Vec<String>, u32>,
    regex_ids: HashMap<String, u32>,
    list_ids: HashMap<String, u32>,
    problems: Vec<Problem>,
}

impl Watchlists {
    /// No watchlists: every post matches none.
    pub fn empty() -> Watchlists {
        Watchlists::default()
    }

    /// Parses and compiles a watchlist file. `file` names it in problems.
    pub fn parse(file: &str, source: &str) -> Result<Watchlists, Vec<Problem>> {
        let spec: FileSpec =
            toml::from_str(source).map_err(|e| structural_problems(file, source, &e))?;
        let mut compiler = Compiler {
            file,
            source,
            out: Watchlists::default(),
            term_ids: HashMap::new(),
            regex_ids: HashMap::new(),
            list_ids: HashMap::new(),
            problems: Vec::new(),
        };
        for (name, members) in &spec.lists {
            let id = compiler.out.lists.len() as u32;
            compiler.list_ids.insert(name.clone(), id);
            let members = members
                .iter()
                .map(|m| m.trim_start_matches('@').to_lowercase())
                .collect();
            compiler.out.lists.push(members);
        }
        let mut seen = HashSet::new();
        for watchlist in &spec.watchlist {
            let id = watchlist.get_ref().id.get_ref();
            if !seen.insert(id.clone()) {
                compiler.problem(
                    watchlist.get_ref().id.span().start,
                    format!("duplicate watchlist id `{id}`"),
                );
            }
            compiler.watchlist(watchlist);
        }
        if compiler.problems.is_empty() {
            Ok(compiler.out)
        } else {
            Err(compiler.problems)
        }
    }

    pub fn len(&self) -> usize {
        self.watchlists.len()
    }

    pub fn is_empty(&self) -> bool {
        self.watchlists.is_empty()
    }

    /// The ids of the watchlists, in file order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.watchlists.iter().map(|w| w.id.as_str())
    }

    /// How many distinct terms the watchlists hold.
    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    /// Each watchlist's id with the terms that count towards a match (not those under a
    /// NOT), as written: what a platform-side filter (the X filtered stream's rules) should
    /// ask for.
    pub fn positive_terms(&self) -> Vec<(&str, Vec<&str>)> {
        self.watchlists
            .iter()
            .map(|w| {
                let terms = w
                    .shown_terms
                    .iter()
                    .filter_map(|&t| self.terms.get(t as usize))
                    .map(|t| t.display.as_str())
                    .collect();
                (w.id.as_str(), terms)
            })
            .collect()
    }
}

impl Compiler<'_> {
    fn problem(&mut self, offset: usize, message: String) {
        self.problems
            .push(Problem::at(self.file, self.source, offset, message));
    }

    fn watchlist(&mut self, spanned: &Spanned<WatchlistSpec>) {
        let spec = spanned.get_ref();
        let index = self.out.watchlists.len() as u32;
        let mut groups: HashMap<&str, Vec<u32>> = HashMap::new();
        for (name, terms) in &spec.terms {
            let mut ids = Vec::new();
            for term in terms {
                if let Some(id) = self.term(term) {
                    ids.push(id);
                }
            }
            groups.insert(name.as_str(), ids);
        }
        for mask in &spec.mask {
            let patterns = vec![normalize(mask.get_ref())];
            self.out.masks.push(MaskDef {
                watchlist: Some(index),
                term: None,
                patterns,
            });
        }
        let node = match &spec.query {
            Some(query) => self.query(query, &groups),
            None if groups.is_empty() => {
                self.problem(
                    spanned.span().start,
                    format!(
                        "watchlist `{}` has no terms and no query",
                        spec.id.get_ref()
                    ),
                );
                None
            }
            None => {
                let mut all: Vec<u32> = groups.values().flatten().copied().collect();
                all.sort_unstable();
                all.dedup();
                Some(Node::Terms(all))
            }
        };
        let Some(node) = node else { return };
        let mut shown_terms = Vec::new();
        let mut shown_regexes = Vec::new();
        collect_positive(&node, false, &mut shown_terms, &mut shown_regexes);
        shown_terms.sort_unstable();
        shown_terms.dedup();
        shown_regexes.sort_unstable();
        shown_regexes.dedup();
        let mut used_terms = Vec::new();
        let mut used_regexes = Vec::new();
        collect_positive(&node, true, &mut used_terms, &mut used_regexes);
        for &t in &used_terms {
            let watchers = &mut self.out.term_watchlists[t as usize];
            if !watchers.contains(&index) {
                watchers.push(index);
            }
        }
        for &r in &used_regexes {
            let watchers = &mut self.out.regex_watchlists[r as usize];
            if !watchers.contains(&index) {
                watchers.push(index);
            }
        }
        let always_candidate = can_match_without_terms(&node);
        self.out.watchlists.push(CompiledWatchlist {
            id: spec.id.get_ref().clone(),
            node,
            always_candidate,
            shown_terms,
            shown_regexes,
        });
    }

    fn term(&mut self, spanned: &Spanned<TermSpec>) -> Option<u32> {
        let (text, kana, long_vowel, not_inside) = match spanned.get_ref() {
            TermSpec::Text(text) => (text.as_str(), false, false, &[][..]),
            TermSpec::Full(f) => (f.text.as_str(), f.kana, f.long_vowel, &f.not_inside[..]),
        };
        let normalized = normalize(text.trim());
        if normalized.is_empty() {
            self.problem(spanned.span().start, "empty term".into());
            return None;
        }
        let id = self.term_id(text, &normalized, kana, long_vowel);
        if !not_inside.is_empty() {
            let patterns = not_inside
                .iter()
                .map(|t| normalize(t))
                .filter(|t| !t.is_empty())
                .collect();
            self.out.masks.push(MaskDef {
                watchlist: None,
                term: Some(id),
                patterns,
            });
        }
        Some(id)
    }

    fn term_id(&mut self, display: &str, normalized: &str, kana: bool, long_vowel: bool) -> u32 {
        let mut patterns = vec![normalized.to_string()];
        if kana {
            for v in [to_hiragana(normalized), to_katakana(normalized)] {
                if !patterns.contains(&v) {
                    patterns.push(v);
                }
            }
        }
        if long_vowel {
            for base in patterns.clone() {
                for v in long_vowel_variants(&base) {
                    if !patterns.contains(&v) {
                        patterns.push(v);
                    }
                }
            }
        }
        if let Some(&id) = self.term_ids.get(&patterns) {
            return id;
        }
        let id = self.out.terms.len() as u32;
        self.term_ids.insert(patterns.clone(), id);
        self.out.terms.push(WatchTermDef {
            display: display.to_string(),
            patterns,
        });
        self.out.term_watchlists.push(Vec::new());
        id
    }

    fn query(&mut self, query: &Spanned<String>, groups: &HashMap<&str, Vec<u32>>) -> Option<Node> {
        // Where the query text starts in the file: after the opening quote(s) and, for a
        // multi-line string, the newline that follows them.
        let span = query.span();
        let raw = &self.source[span.start..span.end.min(self.source.len())];
        let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        let newline = usize::from(quote == 3 && raw[quote..].starts_with('\n'));
        let content_start = span.start + quote + newline;
        let expr = match earshot_query::parse(query.get_ref()) {
            Ok(expr) => expr,
            Err(e) => {
                let (line, column) = line_column(self.source, content_start);
                let place = if e.line <= 1 {
                    (line, column + e.column.saturating_sub(1))
                } else {
                    (line + e.line - 1, e.column)
                };
                self.problems.push(Problem::new(
                    self.file,
                    place,
                    format!("in query: {}", e.message),
                ));
                return None;
            }
        };
        let before = self.problems.len();
        let node = self.node(&expr, groups, content_start);
        (self.problems.len() == before).then_some(node)
    }

    fn node(&mut self, expr: &Expr, groups: &HashMap<&str, Vec<u32>>, at: usize) -> Node {
        match expr {
            Expr::Term(term) => {
                let normalized = normalize(term.text.trim());
                if normalized.is_empty() {
                    self.problem(at, format!("term `{}` is empty once normalised", term.text));
                    return Node::Terms(Vec::new());
                }
                Node::Terms(vec![self.term_id(&term.text, &normalized, false, false)])
            }
            Expr::Group(name) => match groups.get(name.as_str()) {
                Some(ids) => Node::Terms(ids.clone()),
                None => {
                    let mut known: Vec<&str> = groups.keys().copied().collect();
                    known.sort_unstable();
                    self.problem(
                        at,
                        format!(
                            "unknown term group `${name}` (this watchlist has: {})",
                            join_or_none(&known)
                        ),
                    );
                    Node::Terms(Vec::new())
                }
            },
            Expr::Hashtag(tag) => Node::Hashtag(normalize(tag)),
            Expr::Mention(handle) => Node::Mention(handle.to_lowercase()),
            Expr::Lang(code) => Node::Lang(code.to_lowercase()),
            Expr::Platform(name) => Node::Platform(name.to_lowercase()),
            Expr::Followers(cmp, n) => Node::Followers(*cmp, *n),
            Expr::Verified(v) => Node::Verified(*v),
            Expr::AuthorList(name) => match self.list_ids.get(name) {
                Some(&id) => Node::AuthorList(id),
                None => {
                    let known: Vec<&str> = self.list_ids.keys().map(String::as_str).collect();
                    self.problem(
                        at,
                        format!(
                            "unknown author list `{name}` (the [lists] table has: {})",
                            join_or_none(&known)
                        ),
                    );
                    Node::AuthorList(0)
                }
            },
            Expr::Regex(atom) => {
                if let Some(&id) = self.regex_ids.get(&atom.pattern) {
                    return Node::Regex(id);
                }
                // Regexes run on the normalised (lower-case) text, so they are always
                // case-insensitive: `HZ-[A-Z]` must still find `hz-a52`.
                match regex::RegexBuilder::new(&atom.pattern)
                    .case_insensitive(true)
                    .size_limit(1 << 20)
                    .build()
                {
                    Ok(re) => {
                        let id = self.out.regexes.len() as u32;
                        self.out.regexes.push((atom.pattern.clone(), re));
                        self.out.regex_watchlists.push(Vec::new());
                        self.regex_ids.insert(atom.pattern.clone(), id);
                        Node::Regex(id)
                    }
                    Err(e) => {
                        self.problem(at, format!("invalid regex /{}/: {e}", atom.pattern));
                        Node::Terms(Vec::new())
                    }
                }
            }
            Expr::Near {
                left,
                right,
                distance,
            } => {
                let l = self.node(left, groups, at);
                let r = self.node(right, groups, at);
                for side in [&l, &r] {
                    if !has_positions(side) {
                        self.problem(at, format!("NEAR/{distance} needs words, phrases, groups, hashtags, mentions or regexes on both sides"));
                    }
                }
                Node::Near(Box::new(l), Box::new(r), *distance)
            }
            Expr::Not(inner) => Node::Not(Box::new(self.node(inner, groups, at))),
            Expr::And(children) => {
                Node::And(children.iter().map(|c| self.node(c, groups, at)).collect())
            }
            Expr::Or(children) => {
                Node::Or(children.iter().map(|c| self.node(c, groups, at)).collect())
            }
        }
    }
}

fn join_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Nodes that occur at places in the text, so NEAR can measure between them.
fn has_positions(node: &Node) -> bool {
    match node {
        Node::Terms(_) | Node::Regex(_) | Node::Hashtag(_) | Node::Mention(_) => true,
        Node::Or(children) => children.iter().all(has_positions),
        _ => false,
    }
}

/// Terms and regexes of `node`; under a NOT too when `include_negated`.
fn collect_positive(
    node: &Node,
    include_negated: bool,
    terms: &mut Vec<u32>,
    regexes: &mut Vec<u32>,
) {
    match node {
        Node::Terms(ids) => terms.extend(ids),
        Node::Regex(id) => regexes.push(*id),
        Node::Near(l, r, _) => {
            collect_positive(l, include_negated, terms, regexes);
            collect_positive(r, include_negated, terms, regexes);
        }
        Node::Not(inner) if include_negated => {
            collect_positive(inner, include_negated, terms, regexes)
        }
        Node::And(children) | Node::Or(children) => {
            for c in children {
                collect_positive(c, include_negated, terms, regexes);
            }
        }
        _ => {}
    }
}

/// Whether the query can hold for a post in which none of its terms or regexes occur; such
/// watchlists are evaluated for every post, the others only when one of their terms hit.
fn can_match_without_terms(node: &Node) -> bool {
    match node {
        Node::Terms(_) | Node::Regex(_) | Node::Near(..) => false,
        Node::Hashtag(_) | Node::Mention(_) => true,
        Node::Lang(_)
        | Node::Platform(_)
        | Node::Followers(..)
        | Node::Verified(_)
        | Node::AuthorList(_) => true,
        Node::Not(_) => true,
        Node::And(children) => children.iter().all(can_match_without_terms),
        Node::Or(children) => children.iter().any(can_match_without_terms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_groups_masks_lists_and_queries() {
        let source = r#"
[lists]
vip = ["@Famous"]

[[watchlist]]
id = "brand"
query = "$brand AND NOT $jobs"
mask = ["星空がきれい"]

[watchlist.terms]
brand = ["星空モバイル", { text = "ほしぞら", kana = true }]
jobs = ["求人"]

[[watchlist]]
id = "devices"
query = 'regex:/HZ-[A-Z][0-9]{2}/ OR author:vip'
"#;
        let w = Watchlists::parse("w.toml", source).unwrap();
        assert_eq!(w.ids().collect::<Vec<_>>(), ["brand", "devices"]);
        assert_eq!(w.terms[1].patterns, ["ほしぞら", "ホシゾラ"]);
        assert!(w.watchlists[1].always_candidate);
        assert!(!w.watchlists[0].always_candidate);
        assert_eq!(w.watchlists[0].shown_terms, [0, 1]);
        assert!(w.lists[0].contains("famous"));
        assert_eq!(
            w.positive_terms(),
            [
                ("brand", vec!["星空モバイル", "ほしぞら"]),
                ("devices", vec![])
            ]
        );
    }

    #[test]
    fn reports_every_problem_with_its_place() {
        let source = "[[watchlist]]\nid = \"a\"\nquery = \"$brnad OR author:nobody\"\n[watchlist.terms]\nbrand = [\"x\"]\n\n[[watchlist]]\nid = \"a\"\nquery = \"\"\"\nx AND (y\n\"\"\"\n\n[[watchlist]]\nid = \"c\"\n";
        let problems = Watchlists::parse("w.toml", source).unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 5, "{text:#?}");
        assert!(
            text[0].starts_with("w.toml:3:")
                && text[0].contains("$brnad")
                && text[0].contains("brand"),
            "{text:#?}"
        );
        assert!(
            text[1].contains("unknown author list `nobody`"),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("w.toml:8:") && t.contains("duplicate watchlist id")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("w.toml:10:") && t.contains("in query")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("w.toml:13:") && t.contains("no terms and no query")),
            "{text:#?}"
        );
    }

    #[test]
    fn toml_syntax_errors_have_a_line() {
        let problems =
            Watchlists::parse("w.toml", "[[watchlist]]\nid = \"a\"\nterms = 5\n").unwrap_err();
        assert_eq!(problems[0].line, 3, "{problems:?}");
    }

    #[test]
    fn near_needs_positions() {
        let source = "[[watchlist]]\nid = \"a\"\nquery = \"lang:ja NEAR/3 x\"\n";
        let problems = Watchlists::parse("w.toml", source).unwrap_err();
        assert!(problems[0].message.contains("NEAR"), "{problems:?}");
    }
}
