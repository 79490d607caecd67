//! Rules compiled for speed: watchlists as a bit set, intents as a bit mask, author lists
//! as a bit mask, thresholds as plain floats (absent ones as −∞), so testing a post against
//! fifty rules is a few hundred instructions and no allocation.

use earshot_model::{Analysis, Flag, Intent, Priority};

use crate::authors::AuthorLists;
use crate::intern::Interner;
use crate::rules::{Rule, Signal};
use crate::spike::intent_index;

/// Team or tag index meaning "none".
pub(crate) const NONE: u16 = u16::MAX;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Route {
        queue: u16,
        priority: Priority,
        fold: bool,
    },
    Suppress,
    Modifier {
        floor: Option<Priority>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    /// Bit set over watchlist ids; empty = any.
    watch: Box<[u64]>,
    /// Bit mask over intents; 0 = any.
    intents: u8,
    sentiment: (f64, f64),
    min_urgency: f64,
    min_influence: f64,
    platforms: Box<[Box<str>]>,
    langs: Box<[Box<str>]>,
    author_in: u64,
    author_not_in: u64,
    in_incident: Option<bool>,
    /// Bit mask over flags; 0 = any.
    flags: u8,
    /// (signal index, minimum probability), all of which must hold.
    min_probability: Box<[(u8, f64)]>,
    pub kind: Kind,
    pub tags: Box<[u16]>,
    pub team: u16,
    pub cont: bool,
}

/// What the rules look at, computed once per post.
#[derive(Debug)]
pub(crate) struct Facts<'a> {
    pub watch: &'a [u64],
    pub intents: u8,
    pub sentiment: f64,
    pub urgency: f64,
    pub influence: f64,
    pub platform: &'a str,
    pub lang: &'a str,
    pub authors: u64,
    pub in_incident: bool,
    pub flags: u8,
    /// Indexed like [`Signal::ALL`].
    pub probabilities: [f64; 7],
}

pub(crate) fn flag_mask(flags: &[Flag]) -> u8 {
    flags.iter().fold(0, |m, f| {
        m | 1 << Flag::ALL.iter().position(|x| x == f).unwrap_or(0)
    })
}

/// The probability of each signal: the model's when it scored the post, otherwise 1 for
/// the intents and flags the analysis reports and 0 for the others.
pub(crate) fn probabilities(a: &Analysis) -> [f64; 7] {
    Signal::ALL.map(|signal| match (signal, &a.model) {
        (Signal::Intent(i), Some(m)) => m.intents.get(i).unwrap_or(0.0),
        (Signal::Flag(f), Some(m)) => m.flags.get(f),
        (Signal::Intent(i), None) => f64::from(u8::from(a.intents.contains(&i))),
        (Signal::Flag(f), None) => f64::from(u8::from(a.flags.contains(&f))),
    })
}

pub(crate) fn intent_mask(intents: &[Intent]) -> u8 {
    intents.iter().fold(0, |m, i| m | 1 << intent_index(*i))
}

/// Interns a string into a table of names, returning its index.
pub(crate) fn index_of(table: &mut Vec<String>, name: &str) -> u16 {
    match table.iter().position(|t| t == name) {
        Some(i) => u16::try_from(i).unwrap_or(NONE),
        None => {
            table.push(name.to_string());
            u16::try_from(table.len() - 1).unwrap_or(NONE)
        }
    }
}

impl CompiledRule {
    /// Compiles a validated rule. `queue` is the index of its queue.
    pub fn new(
        rule: &Rule,
        queue: Option<u16>,
        watchlists: &mut Interner,
        lists: &AuthorLists,
        tags: &mut Vec<String>,
        teams: &mut Vec<String>,
    ) -> CompiledRule {
        let c = &rule.when;
        let mut watch = Vec::new();
        for w in &c.watchlists {
            if let Some(id) = watchlists.intern(w) {
                let (word, bit) = (id as usize / 64, id % 64);
                if watch.len() <= word {
                    watch.resize(word + 1, 0u64);
                }
                watch[word] |= 1 << bit;
            }
        }
        let mask = |names: &[String]| {
            names
                .iter()
                .filter_map(|n| lists.index_of(n))
                .fold(0u64, |m, i| m | 1 << i)
        };
        let boxed = |v: &[String]| v.iter().map(|s| s.as_str().into()).collect();
        let a = &rule.then;
        let kind = match (a.suppress, queue) {
            (true, _) => Kind::Suppress,
            (false, Some(queue)) => Kind::Route {
                queue,
                priority: a.priority.unwrap_or(Priority::P3),
                fold: a.fold_into_incident,
            },
            (false, None) => Kind::Modifier { floor: a.priority },
        };
        CompiledRule {
            watch: watch.into(),
            intents: intent_mask(&c.intents),
            sentiment: c.sentiment.unwrap_or((f64::NEG_INFINITY, f64::INFINITY)),
            min_urgency: c.min_urgency.unwrap_or(f64::NEG_INFINITY),
            min_influence: c.min_influence.unwrap_or(f64::NEG_INFINITY),
            platforms: boxed(&c.platforms),
            langs: boxed(&c.langs),
            author_in: mask(&c.author_in),
            author_not_in: mask(&c.author_not_in),
            in_incident: c.in_incident,
            flags: flag_mask(&c.flags),
            min_probability: c
                .min_probability
                .iter()
                .map(|(s, p)| (s.index() as u8, *p))
                .collect(),
            kind,
            tags: a.tags.iter().map(|t| index_of(tags, t)).collect(),
            team: a.team.as_deref().map_or(NONE, |t| index_of(teams, t)),
            cont: a.continue_matching,
        }
    }

    /// Whether the rule reads the author lists.
    pub fn needs_authors(&self) -> bool {
        self.author_in != 0 || self.author_not_in != 0
    }

    /// Cheapest tests first: most rules fail on watchlist or intent.
    #[inline]
    pub fn matches(&self, f: &Facts<'_>) -> bool {
        if !self.watch.is_empty() && !self.watch.iter().zip(f.watch).any(|(a, b)| a & b != 0) {
            return false;
        }
        if self.intents != 0 && self.intents & f.intents == 0 {
            return false;
        }
        if f.sentiment < self.sentiment.0
            || f.sentiment > self.sentiment.1
            || f.urgency < self.min_urgency
            || f.influence < self.min_influence
        {
            return false;
        }
        if self.in_incident.is_some_and(|want| want != f.in_incident) {
            return false;
        }
        if self.flags != 0 && self.flags & f.flags == 0 {
            return false;
        }
        if self
            .min_probability
            .iter()
            .any(|&(i, p)| f.probabilities[usize::from(i)] < p)
        {
            return false;
        }
        if self.author_in != 0 && self.author_in & f.authors == 0 {
            return false;
        }
        if self.author_not_in & f.authors != 0 {
            return false;
        }
        if !self.platforms.is_empty()
            && !self
                .platforms
                .iter()
                .any(|p| p.eq_ignore_ascii_case(f.platform))
        {
            return false;
        }
        if !self.langs.is_empty() && !self.langs.iter().any(|l| lang_matches(l, f.lang)) {
            return false;
        }
        true
    }
}

/// `ja` matches `ja` and `ja-JP`; `ja-JP` matches only `ja-JP` (case-insensitive).
fn lang_matches(rule: &str, lang: &str) -> bool {
    match lang.get(..rule.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(rule) => {
            lang.len() == rule.len()
                || lang.as_bytes()[rule.len()] == b'-'
                || lang.as_bytes()[rule.len()] == b'_'
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_match_by_prefix() {
        assert!(lang_matches("ja", "ja"));
        assert!(lang_matches("ja", "ja-JP"));
        assert!(lang_matches("JA", "ja"));
        assert!(!lang_matches("ja", "jav"));
        assert!(!lang_matches("ja-JP", "ja"));
        assert!(!lang_matches("en", "und"));
    }
}
