//! What the pipeline must produce, computed offline with the same analyzer and router, and
//! comparisons of that with what the pipeline produced.
//!
//! The offline run is the pipeline core the stages and `earshot triage` use
//! ([`earshot_pipeline::Pipeline`]): only posts analyze passes on reach the router, in
//! order, on the event clock. With one partition per topic the pipeline sees the posts in
//! file order and must reproduce this exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use std::sync::Arc;

use earshot_analyze::Analyzer;
use earshot_model::Post;
use earshot_pipeline::{Pipeline, Pushed};
use earshot_route::{RouteConfig, RouteOutput, Router};

use crate::harness::Record;

/// One route output, reduced to what identifies it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Routed {
    Ticket {
        ticket_id: String,
        revision: u32,
        post_id: String,
    },
    Unrouted {
        post_id: String,
    },
    Incident {
        incident_id: String,
        revision: u32,
    },
}

impl Routed {
    pub fn of(output: &RouteOutput) -> Routed {
        match output {
            RouteOutput::Ticket(t) => Routed::Ticket {
                ticket_id: t.ticket_id.clone(),
                revision: t.revision,
                post_id: t.post.id.clone(),
            },
            RouteOutput::Unrouted(u) => Routed::Unrouted {
                post_id: u.post.id.clone(),
            },
            RouteOutput::Incident(i) => Routed::Incident {
                incident_id: i.incident_id.clone(),
                revision: i.revision,
            },
        }
    }

    /// Decodes route's output records; fails on one that is not a route output.
    pub fn decode<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<Routed> {
        records
            .into_iter()
            .map(|r| {
                let output: RouteOutput = serde_json::from_slice(&r.payload).unwrap_or_else(|e| {
                    panic!("{} offset {}: not a route output: {e}", r.topic, r.offset)
                });
                Routed::of(&output)
            })
            .collect()
    }
}

/// The offline result for a list of input lines.
#[derive(Debug, Default)]
pub struct Expected {
    /// Lines that are valid posts.
    pub posts: usize,
    /// Valid posts analyze drops (no watchlist, no conversation).
    pub discarded: usize,
    /// Ids of the posts analyze passes on, in order.
    pub relevant: Vec<String>,
    /// Route outputs in order.
    pub routed: Vec<Routed>,
}

impl Expected {
    pub fn compute(analyzer: &Arc<Analyzer>, router: Router, lines: &[Vec<u8>]) -> Expected {
        let mut expected = Expected::default();
        let mut pipeline = Pipeline::new(analyzer.clone(), router);
        expected.push(&mut pipeline, lines);
        expected
    }

    /// What the pipeline makes of `before`, then of `after` once a reload swapped
    /// `analyzer` and `route` in between them.
    pub fn compute_reloaded(
        first: (&Arc<Analyzer>, Router),
        before: &[Vec<u8>],
        then: (&Arc<Analyzer>, RouteConfig),
        after: &[Vec<u8>],
    ) -> Expected {
        let mut expected = Expected::default();
        let mut pipeline = Pipeline::new(first.0.clone(), first.1);
        expected.push(&mut pipeline, before);
        pipeline.reconfigure(then.0.clone(), then.1);
        expected.push(&mut pipeline, after);
        expected
    }

    fn push(&mut self, pipeline: &mut Pipeline, lines: &[Vec<u8>]) {
        let expected = self;
        let mut outputs = Vec::new();
        for line in lines {
            let Ok(post) = Post::from_json(line) else {
                continue;
            };
            expected.posts += 1;
            let id = post.id.clone();
            match pipeline.push(post, &mut outputs) {
                Pushed::Discarded => expected.discarded += 1,
                Pushed::Routed => expected.relevant.push(id),
            }
            expected
                .routed
                .extend(outputs.drain(..).map(|o| Routed::of(&o)));
        }
    }

    pub fn relevant_set(&self) -> BTreeSet<String> {
        self.relevant.iter().cloned().collect()
    }

    /// Ticket and unrouted records (what route emits per post, not per tick).
    pub fn post_outputs(&self) -> usize {
        self.routed
            .iter()
            .filter(|r| !matches!(r, Routed::Incident { .. }))
            .count()
    }
}

/// (ticket id, revision) → the ids of the posts records with that revision carried. A
/// redelivery may repeat a revision, but only with the same post.
pub fn ticket_revisions(routed: &[Routed]) -> BTreeMap<(String, u32), BTreeSet<String>> {
    let mut out: BTreeMap<(String, u32), BTreeSet<String>> = BTreeMap::new();
    for r in routed {
        if let Routed::Ticket {
            ticket_id,
            revision,
            post_id,
        } = r
        {
            out.entry((ticket_id.clone(), *revision))
                .or_default()
                .insert(post_id.clone());
        }
    }
    out
}

pub fn ticket_ids(routed: &[Routed]) -> BTreeSet<String> {
    routed
        .iter()
        .filter_map(|r| match r {
            Routed::Ticket { ticket_id, .. } => Some(ticket_id.clone()),
            _ => None,
        })
        .collect()
}

pub fn unrouted_posts(routed: &[Routed]) -> BTreeSet<String> {
    routed
        .iter()
        .filter_map(|r| match r {
            Routed::Unrouted { post_id } => Some(post_id.clone()),
            _ => None,
        })
        .collect()
}

/// Asserts two sets are equal, naming a few elements on each side when they are not.
pub fn assert_same_set<T: Ord + Debug>(what: &str, expected: &BTreeSet<T>, actual: &BTreeSet<T>) {
    if expected == actual {
        return;
    }
    let missing: Vec<&T> = expected.difference(actual).collect();
    let extra: Vec<&T> = actual.difference(expected).collect();
    panic!(
        "{what}: expected {} got {}; {} missing (first: {:?}), {} unexpected (first: {:?})",
        expected.len(),
        actual.len(),
        missing.len(),
        &missing[..missing.len().min(5)],
        extra.len(),
        &extra[..extra.len().min(5)],
    );
}

/// Asserts two lists hold the same elements the same number of times.
pub fn assert_same_multiset<T: Ord + Clone + Debug>(what: &str, expected: &[T], actual: &[T]) {
    let count = |items: &[T]| {
        let mut m: BTreeMap<T, usize> = BTreeMap::new();
        for i in items {
            *m.entry(i.clone()).or_default() += 1;
        }
        m
    };
    let (e, a) = (count(expected), count(actual));
    if e == a {
        return;
    }
    let differ: Vec<(&T, usize, usize)> = e
        .keys()
        .chain(a.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|k| {
            (
                k,
                e.get(k).copied().unwrap_or(0),
                a.get(k).copied().unwrap_or(0),
            )
        })
        .filter(|(_, x, y)| x != y)
        .collect();
    panic!(
        "{what}: expected {} records, got {}; {} differ (element, expected, got), first: {:?}",
        expected.len(),
        actual.len(),
        differ.len(),
        &differ[..differ.len().min(5)],
    );
}
