//! Scoring ahead: the records a stage took together are decoded and scored on several
//! threads at once, then handed out one by one as the stage processes them in order.
//!
//! Scoring needs nothing an earlier record changes (the analyzer is immutable, each thread
//! has its own scratch), so it parallelises; routing, which folds conversations, stays on
//! the stage's thread, in input order. A scored record is handed out only to the record it
//! was scored for (same partition and offset); anything else is scored on the spot, so the
//! outcome never depends on whether scoring ahead ran. A panic while scoring ahead leaves
//! the record unscored: the stage scores it again under the runner's per-record guard,
//! which dead-letters that record alone.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread;

use earshot_analyze::Scratch;
use earshot_kafka::{Input, Reject};
use earshot_model::ScoredPost;
use tracing::warn;

/// A record's scoring: its scored post, `None` when it matched no watchlist, or why it
/// cannot be scored.
pub type Scoring = Result<Option<ScoredPost>, Reject>;

/// How many records each scoring thread gets per turn: enough that starting the threads
/// (tens of microseconds) is a small part of the turn, few enough that a turn takes a few
/// milliseconds.
const RECORDS_PER_THREAD: usize = 64;

/// Where a record sits in the input topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    partition: i32,
    offset: i64,
}

impl Position {
    fn of(input: &Input<'_>) -> Position {
        Position {
            partition: input.partition,
            offset: input.offset,
        }
    }
}

/// Scores records ahead of their turn on `threads` threads (the stage's own included).
#[derive(Debug)]
pub struct Ahead {
    threads: usize,
    /// One per thread besides the stage's, which brings its own.
    scratches: Vec<Scratch>,
    /// What was scored ahead, in the order of the records.
    scored: VecDeque<(Position, Scoring)>,
}

impl Ahead {
    /// `threads` ≤ 1: nothing is scored ahead.
    pub fn new(threads: usize) -> Ahead {
        let threads = threads.max(1);
        Ahead {
            threads,
            scratches: (1..threads).map(|_| Scratch::new()).collect(),
            scored: VecDeque::new(),
        }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// How many records the stage should take per turn.
    pub fn read_ahead(&self) -> usize {
        if self.threads > 1 {
            self.threads * RECORDS_PER_THREAD
        } else {
            1
        }
    }

    /// Scores `inputs` with `score`, split among the threads: the first share on this
    /// thread with `scratch`, the others on threads started for this turn. What the
    /// previous turn left (records the stage did not process) is dropped.
    pub fn prepare<F>(&mut self, inputs: &[Input<'_>], scratch: &mut Scratch, score: &F)
    where
        F: Fn(&mut Scratch, &Input<'_>) -> Scoring + Sync,
    {
        self.scored.clear();
        if self.threads < 2 || inputs.len() < 2 {
            return;
        }
        let share = inputs.len().div_ceil(self.threads);
        let mut shares = inputs.chunks(share);
        let Some(first) = shares.next() else {
            return;
        };
        let scored = &mut self.scored;
        thread::scope(|scope| {
            let started: Vec<_> = shares
                .zip(self.scratches.iter_mut())
                .map(|(share, scratch)| {
                    thread::Builder::new()
                        .name("earshot-score".into())
                        .spawn_scoped(scope, move || score_share(share, scratch, score))
                })
                .collect();
            scored.extend(score_share(first, scratch, score));
            for thread in started {
                match thread.map(|t| t.join()) {
                    Ok(Ok(share)) => scored.extend(share),
                    // Those records are scored on the spot when their turn comes.
                    Ok(Err(_)) => warn!("A scoring thread panicked outside a record"),
                    Err(e) => warn!(error = %e, "Could not start a scoring thread"),
                }
            }
        });
    }

    /// What was scored ahead for `input`, if anything. Entries before it are dropped:
    /// records are taken in the order they were prepared.
    pub fn take(&mut self, input: &Input<'_>) -> Option<Scoring> {
        let at = Position::of(input);
        let index = self.scored.iter().position(|(p, _)| *p == at)?;
        self.scored.drain(..index);
        self.scored.pop_front().map(|(_, scoring)| scoring)
    }

    /// How many records are scored ahead and not yet taken.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.scored.len()
    }

    /// Forgets what was scored ahead (the analyzer changed).
    pub fn clear(&mut self) {
        self.scored.clear();
    }
}

/// Scores one thread's share; a record whose scoring panics is left out.
fn score_share<F>(
    inputs: &[Input<'_>],
    scratch: &mut Scratch,
    score: &F,
) -> Vec<(Position, Scoring)>
where
    F: Fn(&mut Scratch, &Input<'_>) -> Scoring + Sync,
{
    inputs
        .iter()
        .filter_map(|input| {
            catch_unwind(AssertUnwindSafe(|| score(scratch, input)))
                .ok()
                .map(|scoring| (Position::of(input), scoring))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_model::{Analysis, Post};

    fn inputs(n: usize) -> Vec<Input<'static>> {
        (0..n)
            .map(|i| Input::bare("raw", (i % 3) as i32, i as i64, None))
            .collect()
    }

    /// A scoring that tells which record it was for, rejects every fifth and panics on
    /// offset 13.
    fn score(_: &mut Scratch, input: &Input<'_>) -> Scoring {
        match input.offset {
            13 => panic!("offset 13"),
            o if o % 5 == 0 => Err(Reject::new("test", format!("{o}"))),
            o => Ok(Some(ScoredPost {
                post: Post {
                    id: format!("{}-{o}", input.partition),
                    ..Post::default()
                },
                analysis: Analysis::default(),
            })),
        }
    }

    fn id(scoring: &Scoring) -> String {
        match scoring {
            Ok(Some(s)) => s.post.id.clone(),
            Ok(None) => "none".into(),
            Err(r) => format!("rejected {}", r.reason),
        }
    }

    #[test]
    fn each_record_gets_its_own_scoring_in_order_and_a_panic_leaves_one_unscored() {
        for threads in [2, 3, 8] {
            let mut ahead = Ahead::new(threads);
            assert_eq!(ahead.read_ahead(), threads * RECORDS_PER_THREAD);
            let inputs = inputs(40);
            ahead.prepare(&inputs, &mut Scratch::new(), &score);
            for input in &inputs {
                let taken = ahead.take(input);
                if input.offset == 13 {
                    assert!(
                        taken.is_none(),
                        "the panicking record is scored on the spot"
                    );
                    continue;
                }
                let expected = catch_unwind(|| score(&mut Scratch::new(), input)).unwrap();
                assert_eq!(
                    taken.as_ref().map(id),
                    Some(id(&expected)),
                    "{threads} threads"
                );
            }
        }
    }

    #[test]
    fn skipped_records_are_dropped_and_unknown_ones_get_nothing() {
        let mut ahead = Ahead::new(2);
        let inputs = inputs(10);
        ahead.prepare(&inputs, &mut Scratch::new(), &score);
        // The stage skipped records 0–6 (say, dead-lettered before processing).
        assert_eq!(ahead.take(&inputs[7]).as_ref().map(id), Some("1-7".into()));
        assert!(ahead.take(&inputs[3]).is_none(), "already dropped");
        let other = Input::bare("raw", 1, 7_000, None);
        assert!(ahead.take(&other).is_none());
        assert_eq!(ahead.take(&inputs[8]).as_ref().map(id), Some("2-8".into()));
        ahead.clear();
        assert!(ahead.take(&inputs[9]).is_none());
    }

    #[test]
    fn one_thread_scores_nothing_ahead() {
        let mut ahead = Ahead::new(1);
        assert_eq!(ahead.read_ahead(), 1);
        let inputs = inputs(10);
        ahead.prepare(&inputs, &mut Scratch::new(), &score);
        assert!(inputs.iter().all(|i| ahead.take(i).is_none()));
    }
}
