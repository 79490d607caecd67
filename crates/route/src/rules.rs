//! Routing rules: ordered conditions on a scored post, and what to do with a post that meets
//! them.
//!
//! Rules are tried in order; the first that matches decides, unless it says
//! `continue = true`, in which case its actions apply and the next rules are tried too. A
//! rule with a queue opens (or updates) a ticket there; a rule with `suppress = true` drops
//! the post on purpose (counted, never silent); a `continue` rule without a queue is a
//! *modifier*: its tags, team and priority floor apply to the tickets later rules open.
//! A post no rule takes becomes an `unrouted` record.
//!
//! Every condition left out matches everything; a list condition matches when any of its
//! entries does. This module holds the rules as configured and the containment test behind
//! the "unreachable rule" warning; `matcher` holds the compiled form the router runs.

use earshot_model::{Flag, Intent, Priority};

/// One rule as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    /// Where it was defined, for diagnostics and reasons.
    pub file: String,
    pub line: u32,
    pub when: Conditions,
    pub then: Actions,
}

/// What a post must satisfy. Empty lists and `None` match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditions {
    /// The post matched any of these watchlists.
    pub watchlists: Vec<String>,
    /// The post has any of these intents.
    pub intents: Vec<Intent>,
    /// Sentiment score within `[min, max]`.
    pub sentiment: Option<(f64, f64)>,
    /// Urgency ≥ this.
    pub min_urgency: Option<f64>,
    /// Influence ≥ this.
    pub min_influence: Option<f64>,
    /// The post's platform is one of these.
    pub platforms: Vec<String>,
    /// The analysis language is one of these (`ja` also matches `ja-JP`).
    pub langs: Vec<String>,
    /// The author is on any of these lists.
    pub author_in: Vec<String>,
    /// The author is on none of these lists.
    pub author_not_in: Vec<String>,
    /// The post is (or is not) part of an open incident.
    pub in_incident: Option<bool>,
    /// The post carries any of these risk flags.
    pub flags: Vec<Flag>,
    /// The model's probability of each signal (an intent or a flag) is at least this;
    /// every entry must hold.
    pub min_probability: Vec<(Signal, f64)>,
}

/// Something the model gives a probability for: an intent (not `other`) or a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Intent(Intent),
    Flag(Flag),
}

impl Signal {
    /// Every signal, in the order of [`Signal::index`].
    pub const ALL: [Signal; 7] = [
        Signal::Intent(Intent::Complaint),
        Signal::Intent(Intent::Question),
        Signal::Intent(Intent::Request),
        Signal::Intent(Intent::Outage),
        Signal::Intent(Intent::Praise),
        Signal::Flag(Flag::Scam),
        Signal::Flag(Flag::Spam),
    ];

    pub fn parse(name: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Intent(i) => i.as_str(),
            Signal::Flag(f) => f.as_str(),
        }
    }

    /// Position in [`Signal::ALL`].
    pub fn index(self) -> usize {
        Signal::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// What a matching rule does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actions {
    /// Open or update a ticket in this queue.
    pub queue: Option<String>,
    /// The ticket's priority; on a modifier, a floor for later tickets.
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    /// The answering team; the queue's team when absent.
    pub team: Option<String>,
    /// Drop the post on purpose.
    pub suppress: bool,
    /// Keep trying later rules after this one.
    pub continue_matching: bool,
    /// When the post belongs to an open incident, count it into the incident instead of
    /// opening a ticket; otherwise act as a normal queue rule.
    pub fold_into_incident: bool,
}

impl Rule {
    /// Whether matching stops at this rule.
    pub fn is_terminal(&self) -> bool {
        !self.then.continue_matching
    }

    /// Whether the rule is a modifier (continues and opens no ticket).
    pub fn is_modifier(&self) -> bool {
        self.then.continue_matching && self.then.queue.is_none() && !self.then.suppress
    }
}

impl Conditions {
    /// Whether every post these conditions match is also matched by `self`. Checked one
    /// condition at a time, so it can miss a containment that only holds for the conditions
    /// together; it never claims one that does not hold.
    pub fn covers(&self, other: &Conditions) -> bool {
        superset(&self.watchlists, &other.watchlists)
            && superset(&self.intents, &other.intents)
            && superset(&self.platforms, &other.platforms)
            && superset(&self.langs, &other.langs)
            && match (self.sentiment, other.sentiment) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some((a, b)), Some((c, d))) => a <= c && d <= b,
            }
            && at_most(self.min_urgency, other.min_urgency)
            && at_most(self.min_influence, other.min_influence)
            // Author on any of A's lists ⊇ on any of B's lists when A's lists ⊇ B's.
            && superset(&self.author_in, &other.author_in)
            // Excluding fewer lists admits more authors.
            && self.author_not_in.iter().all(|l| other.author_not_in.contains(l))
            && (self.in_incident.is_none() || self.in_incident == other.in_incident)
            && superset(&self.flags, &other.flags)
            // Each of A's thresholds must be admitted by one of B's at least as high.
            && self.min_probability.iter().all(|(signal, a)| {
                other
                    .min_probability
                    .iter()
                    .any(|(s, b)| s == signal && a <= b)
            })
    }

    /// A one-line description of the conditions, for ticket reasons.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let list = |name: &str, items: &[String]| format!("{name} {}", items.join(" | "));
        if !self.watchlists.is_empty() {
            parts.push(list("watchlist", &self.watchlists));
        }
        if !self.intents.is_empty() {
            let names: Vec<String> = self.intents.iter().map(|i| i.to_string()).collect();
            parts.push(list("intent", &names));
        }
        if let Some((a, b)) = self.sentiment {
            parts.push(format!("sentiment in [{a}, {b}]"));
        }
        if let Some(u) = self.min_urgency {
            parts.push(format!("urgency ≥ {u}"));
        }
        if let Some(i) = self.min_influence {
            parts.push(format!("influence ≥ {i}"));
        }
        if !self.platforms.is_empty() {
            parts.push(list("platform", &self.platforms));
        }
        if !self.langs.is_empty() {
            parts.push(list("lang", &self.langs));
        }
        if !self.author_in.is_empty() {
            parts.push(list("author on", &self.author_in));
        }
        if !self.author_not_in.is_empty() {
            parts.push(list("author not on", &self.author_not_in));
        }
        if !self.flags.is_empty() {
            let names: Vec<String> = self.flags.iter().map(|f| f.to_string()).collect();
            parts.push(list("flag", &names));
        }
        for (signal, p) in &self.min_probability {
            parts.push(format!("P({}) ≥ {p}", signal.as_str()));
        }
        match self.in_incident {
            Some(true) => parts.push("part of an open incident".into()),
            Some(false) => parts.push("not part of an open incident".into()),
            None => {}
        }
        if parts.is_empty() {
            "every post".into()
        } else {
            parts.join("; ")
        }
    }
}

/// Empty means "any", so an empty `a` covers everything and a non-empty `a` never covers
/// an empty `b`.
fn superset<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    a.is_empty() || (!b.is_empty() && b.iter().all(|x| a.contains(x)))
}

/// A lower bound `a` admits everything `b` does when it is absent or not higher.
fn at_most(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => a <= b,
    }
}

/// For each rule, the earlier terminal rule that makes it unreachable, if any.
pub(crate) fn shadowed_by(rules: &[Rule]) -> Vec<Option<usize>> {
    rules
        .iter()
        .enumerate()
        .map(|(j, later)| {
            rules[..j]
                .iter()
                .position(|earlier| earlier.is_terminal() && earlier.when.covers(&later.when))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond() -> Conditions {
        Conditions::default()
    }

    #[test]
    fn empty_conditions_cover_everything() {
        let narrow = Conditions {
            watchlists: vec!["a".into()],
            intents: vec![Intent::Outage],
            min_urgency: Some(0.5),
            ..cond()
        };
        assert!(cond().covers(&narrow));
        assert!(!narrow.covers(&cond()));
    }

    #[test]
    fn ranges_and_thresholds_nest() {
        let wide = Conditions {
            sentiment: Some((-1.0, 0.0)),
            min_urgency: Some(0.3),
            ..cond()
        };
        let inner = Conditions {
            sentiment: Some((-0.8, -0.2)),
            min_urgency: Some(0.7),
            ..cond()
        };
        assert!(wide.covers(&inner));
        assert!(!inner.covers(&wide));
    }

    #[test]
    fn author_exclusions_narrow() {
        let a = Conditions {
            author_not_in: vec!["blocklist".into()],
            ..cond()
        };
        let b = Conditions {
            author_not_in: vec!["blocklist".into(), "staff".into()],
            ..cond()
        };
        assert!(a.covers(&b));
        assert!(!b.covers(&a));
    }
}
