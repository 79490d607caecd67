//! Scoring ahead: the records a stage took together are scored on threads of their own
//! while the stage's thread routes and produces them, one by one, in input order.
//!
//! Scoring needs nothing an earlier record changes (the analyzer is immutable, each thread
//! has its own scratch), so it can run ahead; routing, which folds conversations, cannot.
//! [`Ahead::prepare`] hands the records to the scoring threads and returns at once;
//! [`Ahead::take`] gives a record's scoring when its turn comes, so the stage's thread routes
//! record *n* while the scoring threads work on *n + 1* and after. Each record is claimed by
//! whoever starts scoring it first: when the stage's thread reaches a record no scoring
//! thread has started, it scores that record itself rather than wait, so it never idles
//! while there is work, and waits only for a record a scoring thread is on. A scoring is handed
//! out only to the record it was made for (same partition and offset), with the analyzer
//! that was in force when it was handed over; anything else is scored on the spot, so the
//! outcome never depends on whether scoring ahead ran. A panic while scoring ahead leaves
//! the record unscored: the stage scores it again under the runner's per-record guard,
//! which dead-letters that record alone.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use earshot_analyze::{Analyzer, Scratch};
use earshot_kafka::{Input, Reject};
use earshot_model::{PostLimits, ScoredPost};
use tracing::warn;

use crate::stages::analyze::score_payload;

/// A record's scoring: its scored post, `None` when it matched no watchlist, or why it
/// cannot be scored.
pub type Scoring = Result<Option<ScoredPost>, Reject>;

/// How many records each scoring thread is given per turn: enough to keep it busy while the
/// stage's thread routes, few enough that a turn takes a few milliseconds.
const RECORDS_PER_THREAD: usize = 64;

/// How long the stage's thread spins for a scoring a thread is on before it sleeps: a few
/// records' analysis.
const SPIN: Duration = Duration::from_micros(50);

/// How a record's payload is scored: [`score_payload`], or in tests one that panics.
type ScoreFn = fn(&Analyzer, &PostLimits, &mut Scratch, Option<&[u8]>) -> Scoring;

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

/// Which records of a turn someone started scoring, by index in the turn.
#[derive(Debug)]
struct Claims(Box<[AtomicBool]>);

impl Claims {
    fn new(records: usize) -> Claims {
        Claims((0..records).map(|_| AtomicBool::new(false)).collect())
    }

    /// True for the first caller only: that one scores the record. (A look first: a
    /// record already claimed is not written again, its cache line stays shared.)
    fn claim(&self, index: usize) -> bool {
        self.0.get(index).is_some_and(|claimed| {
            !claimed.load(Ordering::Acquire) && !claimed.swap(true, Ordering::AcqRel)
        })
    }
}

/// One record for a scoring thread, owned: the record itself borrows the consumer.
struct Job {
    seq: u64,
    index: usize,
    claims: Arc<Claims>,
    turn: Arc<Turn>,
    payload: Option<Arc<[u8]>>,
}

/// A job's sequence number and its scoring; `None` when scoring panicked.
type Done = (u64, Option<Scoring>);

/// The scoring threads: each has a job queue of its own, filled in turn; all answer on one
/// channel.
#[derive(Debug)]
struct Pool {
    jobs: Vec<Sender<Job>>,
    done: Receiver<Done>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `threads` scoring threads; fewer if the system refuses some (none: no pool).
    fn start(threads: usize, score: ScoreFn) -> Option<Pool> {
        let (done_tx, done) = channel();
        let mut pool = Pool {
            jobs: Vec::new(),
            done,
            threads: Vec::new(),
        };
        for _ in 0..threads {
            let (jobs_tx, jobs) = channel();
            let done = done_tx.clone();
            match thread::Builder::new()
                .name("earshot-score".into())
                .spawn(move || work(jobs, done, score))
            {
                Ok(thread) => {
                    pool.jobs.push(jobs_tx);
                    pool.threads.push(thread);
                }
                Err(e) => warn!(error = %e, "Could not start a scoring thread"),
            }
        }
        (!pool.threads.is_empty()).then_some(pool)
    }

    /// The next scoring to come back. A scoring thread is on a record the stage's thread
    /// waits for, which takes microseconds: the stage's thread spins that long before it
    /// sleeps, since being put to sleep and woken costs about as much again per record.
    fn next_done(&self) -> Option<Done> {
        let started = Instant::now();
        while started.elapsed() < SPIN {
            match self.done.try_recv() {
                Ok(done) => return Some(done),
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
                Err(TryRecvError::Disconnected) => return None,
            }
        }
        self.done.recv().ok()
    }
}

impl Drop for Pool {
    /// Closes the job queues, so that the threads finish what they hold and end.
    fn drop(&mut self) {
        self.jobs.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A scoring thread: scores the jobs nobody claimed first until its queue closes or nobody
/// waits for the answers.
fn work(jobs: Receiver<Job>, done: Sender<Done>, score: ScoreFn) {
    let mut scratch = Scratch::new();
    for job in jobs {
        if !job.claims.claim(job.index) {
            continue;
        }
        let scoring = score_caught(score, &job.turn, &mut scratch, job.payload.as_deref());
        if done.send((job.seq, scoring)).is_err() {
            return;
        }
    }
}

/// Scores one payload with what its turn scores with; `None` when scoring panicked, which
/// leaves the record to be scored again under the runner's per-record guard.
fn score_caught(
    score: ScoreFn,
    turn: &Turn,
    scratch: &mut Scratch,
    payload: Option<&[u8]>,
) -> Option<Scoring> {
    let scoring = catch_unwind(AssertUnwindSafe(|| {
        score(&turn.analyzer, &turn.limits, scratch, payload)
    }));
    if scoring.is_err() {
        // A panic may have left the buffers half-filled.
        *scratch = Scratch::new();
    }
    scoring.ok()
}

/// A record handed over this turn.
#[derive(Debug)]
struct Pending {
    position: Position,
    seq: u64,
    /// Its index in the turn, for its claim.
    index: usize,
    /// Its payload, shared with its job: the stage's thread scores it itself if it gets
    /// there first.
    payload: Option<Arc<[u8]>>,
}

/// What this turn's records are scored with.
#[derive(Debug)]
struct Turn {
    analyzer: Arc<Analyzer>,
    limits: PostLimits,
}

/// Scores records ahead of their turn on threads of their own.
#[derive(Debug)]
pub struct Ahead {
    pool: Option<Pool>,
    /// The records handed over this turn and not yet taken, in order.
    pending: VecDeque<Pending>,
    /// Who started scoring which of this turn's records.
    claims: Arc<Claims>,
    /// Scorings that came back (or that the stage's thread made while it waited) before
    /// their record's turn.
    arrived: HashMap<u64, Option<Scoring>>,
    next_seq: u64,
    turn: Option<Arc<Turn>>,
    /// The stage's thread's buffers for the records it scores while it waits.
    scratch: Scratch,
    score: ScoreFn,
}

impl Ahead {
    /// `threads` scoring threads beside the stage's; 0: nothing is scored ahead.
    pub fn new(threads: usize) -> Ahead {
        Ahead::scoring_with(threads, score_payload)
    }

    fn scoring_with(threads: usize, score: ScoreFn) -> Ahead {
        Ahead {
            pool: if threads > 0 {
                Pool::start(threads, score)
            } else {
                None
            },
            pending: VecDeque::new(),
            claims: Arc::new(Claims::new(0)),
            arrived: HashMap::new(),
            next_seq: 0,
            turn: None,
            scratch: Scratch::new(),
            score,
        }
    }

    /// How many records the stage should take per turn (1: one at a time).
    pub fn read_ahead(&self) -> usize {
        self.pool
            .as_ref()
            .map_or(1, |pool| pool.threads.len() * RECORDS_PER_THREAD)
    }

    /// Hands `inputs` to the scoring threads, to be scored with `analyzer`, and returns.
    /// What the previous turn left (records the stage did not process) is forgotten.
    pub fn prepare(&mut self, inputs: &[Input<'_>], analyzer: &Arc<Analyzer>, limits: PostLimits) {
        self.forget();
        let Some(pool) = &self.pool else {
            return;
        };
        self.claims = Arc::new(Claims::new(inputs.len()));
        let turn = Arc::new(Turn {
            analyzer: analyzer.clone(),
            limits,
        });
        self.turn = Some(turn.clone());
        for (index, (input, jobs)) in inputs.iter().zip(pool.jobs.iter().cycle()).enumerate() {
            let seq = self.next_seq;
            self.next_seq += 1;
            let payload: Option<Arc<[u8]>> = input.payload.map(Arc::from);
            let job = Job {
                seq,
                index,
                claims: self.claims.clone(),
                turn: turn.clone(),
                payload: payload.clone(),
            };
            if jobs.send(job).is_err() {
                // The thread is gone: the rest is scored on the spot.
                break;
            }
            self.pending.push_back(Pending {
                position: Position::of(input),
                seq,
                index,
                payload,
            });
        }
    }

    /// The scoring made ahead for `input`, waiting for it if a scoring thread is on it;
    /// `None` when the caller is to score it: not handed over, not started by any scoring
    /// thread (it is the caller's now), or its scoring panicked. Records handed over before
    /// it were skipped by the stage: their scorings are dropped.
    pub fn take(&mut self, input: &Input<'_>) -> Option<Scoring> {
        let at = Position::of(input);
        let found = self.pending.iter().position(|p| p.position == at)?;
        let mut skipped = self.pending.drain(..=found);
        let Pending { seq, index, .. } = skipped.next_back()?;
        for record in skipped {
            // Nobody needs it: a scoring thread that has not started it will not.
            self.claims.claim(record.index);
        }
        if let Some(scoring) = self.arrived.remove(&seq) {
            return scoring;
        }
        if self.claims.claim(index) {
            return None;
        }
        // A scoring thread is on it: score later records meanwhile, wait when none is left.
        loop {
            if let Some(scoring) = self.arrived.remove(&seq) {
                return scoring;
            }
            let done = match self.pool.as_ref()?.done.try_recv() {
                Ok(done) => done,
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {
                    if self.help() {
                        continue;
                    }
                    self.pool.as_ref()?.next_done()?
                }
            };
            // Earlier ones belong to records skipped or forgotten.
            if done.0 >= seq {
                self.arrived.insert(done.0, done.1);
            }
        }
    }

    /// Scores the first record handed over that nobody started, on the stage's thread;
    /// false when there is none. A panic leaves it unscored, as on a scoring thread: it is
    /// met again, under the runner's guard, when the record's turn comes.
    fn help(&mut self) -> bool {
        let Some(turn) = &self.turn else {
            return false;
        };
        let Some(record) = self.pending.iter().find(|p| self.claims.claim(p.index)) else {
            return false;
        };
        let scoring = score_caught(
            self.score,
            turn,
            &mut self.scratch,
            record.payload.as_deref(),
        );
        self.arrived.insert(record.seq, scoring);
        true
    }

    /// Forgets what was handed over (the analyzer changed, or a new turn began); scorings
    /// still on their way are dropped when they arrive.
    pub fn forget(&mut self) {
        for record in self.pending.drain(..) {
            self.claims.claim(record.index);
        }
        self.arrived.clear();
        self.turn = None;
    }

    /// Waits until the scoring threads have scored every record handed over (none is
    /// claimed by the caller meanwhile), so that each is handed out from them.
    #[cfg(test)]
    fn wait_for_all(&mut self) {
        let Some(pool) = &self.pool else {
            return;
        };
        while self
            .pending
            .iter()
            .any(|p| !self.arrived.contains_key(&p.seq))
        {
            let Ok((seq, scoring)) = pool.done.recv() else {
                return;
            };
            self.arrived.insert(seq, scoring);
        }
    }

    /// How many records are handed over and not yet taken.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzer() -> Arc<Analyzer> {
        let config = crate::commands::demo::default_config();
        let settings = crate::settings::Settings::load(Some(&config)).expect("the example loads");
        Arc::new(settings.analyzer().expect("its analyzer"))
    }

    /// Posts with the brand in Japanese and in English (scored), one without (no
    /// watchlist), one that is not JSON: each record has an outcome of its own.
    fn payloads() -> Vec<Vec<u8>> {
        (0..40)
            .map(|i| match i % 4 {
                0 => format!(r#"{{"id":"p{i}","text":"星空モバイル 繋がらない {i}"}}"#),
                1 => format!(r#"{{"id":"p{i}","text":"今日はいい天気 {i}"}}"#),
                2 => format!("not json {i}"),
                _ => format!(r#"{{"id":"p{i}","text":"Hoshizora Mobile is down again {i}"}}"#),
            })
            .map(String::into_bytes)
            .collect()
    }

    fn inputs(payloads: &[Vec<u8>]) -> Vec<Input<'_>> {
        payloads
            .iter()
            .enumerate()
            .map(|(i, p)| Input::bare("raw", (i % 3) as i32, i as i64, Some(p)))
            .collect()
    }

    fn outcome(scoring: &Scoring) -> String {
        match scoring {
            Ok(Some(s)) => format!("{} {:?}", s.post.id, s.analysis.sentiment),
            Ok(None) => "no watchlist".into(),
            Err(r) => format!("rejected {}", r.code),
        }
    }

    fn on_the_spot(analyzer: &Analyzer, input: &Input<'_>) -> String {
        let limits = PostLimits::default();
        outcome(&score_payload(
            analyzer,
            &limits,
            &mut Scratch::new(),
            input.payload,
        ))
    }

    #[test]
    fn each_record_gets_its_own_scoring_in_order() {
        let analyzer = analyzer();
        let payloads = payloads();
        let inputs = inputs(&payloads);
        for threads in [1, 2, 5] {
            let mut ahead = Ahead::new(threads);
            assert_eq!(ahead.read_ahead(), threads * RECORDS_PER_THREAD);
            ahead.prepare(&inputs, &analyzer, PostLimits::default());
            assert_eq!(ahead.len(), inputs.len());
            ahead.wait_for_all();
            for input in &inputs {
                let taken = ahead.take(input).expect("scored ahead");
                assert_eq!(outcome(&taken), on_the_spot(&analyzer, input), "{threads}");
            }
        }
    }

    #[test]
    fn skipped_records_are_dropped_and_unknown_or_forgotten_ones_get_nothing() {
        let analyzer = analyzer();
        let payloads = payloads();
        let inputs = inputs(&payloads);
        let mut ahead = Ahead::new(2);
        ahead.prepare(&inputs[..10], &analyzer, PostLimits::default());
        ahead.wait_for_all();
        // The stage skipped records 0–6 (say, dead-lettered before processing).
        let taken = ahead.take(&inputs[7]).expect("scored ahead");
        assert_eq!(outcome(&taken), on_the_spot(&analyzer, &inputs[7]));
        assert!(ahead.take(&inputs[3]).is_none(), "already dropped");
        assert!(ahead.take(&Input::bare("raw", 1, 7_000, None)).is_none());
        let taken = ahead.take(&inputs[8]).expect("scored ahead");
        assert_eq!(outcome(&taken), on_the_spot(&analyzer, &inputs[8]));
        ahead.forget();
        assert!(ahead.take(&inputs[9]).is_none());
        // A new turn: the scorings of the last one, still arriving, are not handed out.
        ahead.prepare(&inputs[10..], &analyzer, PostLimits::default());
        ahead.wait_for_all();
        for input in &inputs[10..] {
            let taken = ahead.take(input).expect("scored ahead");
            assert_eq!(outcome(&taken), on_the_spot(&analyzer, input));
        }
    }

    /// Scores as the stage does, but panics on record 6's payload.
    fn panics_on_six(
        analyzer: &Analyzer,
        limits: &PostLimits,
        scratch: &mut Scratch,
        payload: Option<&[u8]>,
    ) -> Scoring {
        if payload == Some(b"not json 6".as_slice()) {
            panic!("a bug met record 6");
        }
        score_payload(analyzer, limits, scratch, payload)
    }

    #[test]
    fn a_panic_while_scoring_leaves_its_record_alone_unscored() {
        let analyzer = analyzer();
        let payloads = payloads();
        let inputs = inputs(&payloads);
        let mut ahead = Ahead::scoring_with(1, panics_on_six);
        ahead.prepare(&inputs, &analyzer, PostLimits::default());
        ahead.wait_for_all();
        for input in &inputs {
            let taken = ahead.take(input);
            if input.offset == 6 {
                assert!(taken.is_none(), "scored on the spot instead");
            } else {
                let taken = taken.expect("scored ahead");
                assert_eq!(outcome(&taken), on_the_spot(&analyzer, input));
            }
        }
    }

    /// Holds scoring back until opened, and counts the records it was asked to score; a
    /// static of its own per test, since tests run side by side and [`ScoreFn`] is a plain
    /// function.
    struct Gate {
        open: AtomicBool,
        asked: std::sync::atomic::AtomicUsize,
    }

    impl Gate {
        const fn new() -> Gate {
            Gate {
                open: AtomicBool::new(false),
                asked: std::sync::atomic::AtomicUsize::new(0),
            }
        }

        /// Counts a record, then holds it while `hold` and the gate is shut; scores it as
        /// the stage does.
        fn score(
            &self,
            hold: bool,
            analyzer: &Analyzer,
            limits: &PostLimits,
            scratch: &mut Scratch,
            payload: Option<&[u8]>,
        ) -> Scoring {
            self.asked.fetch_add(1, Ordering::SeqCst);
            while hold && !self.open.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            score_payload(analyzer, limits, scratch, payload)
        }

        fn asked(&self) -> usize {
            self.asked.load(Ordering::SeqCst)
        }

        /// Waits until at least `records` were asked for.
        fn wait_until_asked(&self, records: usize) {
            while self.asked() < records {
                std::thread::sleep(Duration::from_millis(1));
            }
        }

        fn open(&self) {
            self.open.store(true, Ordering::SeqCst);
        }
    }

    static GATE: Gate = Gate::new();

    /// Scores as the stage does once the gate is open.
    fn gated(
        analyzer: &Analyzer,
        limits: &PostLimits,
        scratch: &mut Scratch,
        payload: Option<&[u8]>,
    ) -> Scoring {
        GATE.score(true, analyzer, limits, scratch, payload)
    }

    #[test]
    fn the_stage_scores_what_no_thread_started_and_waits_for_the_rest() {
        let analyzer = analyzer();
        let payloads = payloads();
        let inputs = inputs(&payloads[..10]);
        let mut ahead = Ahead::scoring_with(1, gated);
        ahead.prepare(&inputs, &analyzer, PostLimits::default());
        // The scoring thread is held on record 0.
        GATE.wait_until_asked(1);
        // Record 1: no thread started it, so the stage's thread scores it.
        assert!(ahead.take(&inputs[1]).is_none());
        GATE.open();
        // Each of the rest is handed out by the thread or left to the stage's thread, as
        // they race; either way it is the record's own scoring.
        let mut here = 0;
        for input in &inputs[2..] {
            let outcome = match ahead.take(input) {
                Some(scoring) => outcome(&scoring),
                None => {
                    here += 1;
                    on_the_spot(&analyzer, input)
                }
            };
            assert_eq!(outcome, on_the_spot(&analyzer, input));
        }
        // The thread scored record 0 and skipped record 1, the stage's.
        assert_eq!(GATE.asked(), inputs.len() - 1 - here);
    }

    static HELD: Gate = Gate::new();

    /// Scores as the stage does; record 0 only once `HELD` is open.
    fn holds_record_zero(
        analyzer: &Analyzer,
        limits: &PostLimits,
        scratch: &mut Scratch,
        payload: Option<&[u8]>,
    ) -> Scoring {
        let zero = payload.is_some_and(|p| p.starts_with(br#"{"id":"p0""#));
        HELD.score(zero, analyzer, limits, scratch, payload)
    }

    #[test]
    fn while_waiting_the_stage_scores_the_records_after() {
        let analyzer = analyzer();
        let payloads = payloads();
        let inputs = inputs(&payloads[..10]);
        let mut ahead = Ahead::scoring_with(1, holds_record_zero);
        ahead.prepare(&inputs, &analyzer, PostLimits::default());
        HELD.wait_until_asked(1);
        // The scoring thread is on record 0. Waiting for it, the stage's thread scores the
        // nine after it; then it is let go.
        let opener = std::thread::spawn(|| {
            HELD.wait_until_asked(10);
            HELD.open();
        });
        for input in &inputs {
            let taken = ahead.take(input).expect("scored ahead, there or here");
            assert_eq!(outcome(&taken), on_the_spot(&analyzer, input));
        }
        opener.join().unwrap();
        assert_eq!(HELD.asked(), 10, "each record scored once");
    }

    #[test]
    fn without_threads_nothing_is_scored_ahead() {
        let analyzer = analyzer();
        let payloads = payloads();
        let inputs = inputs(&payloads);
        let mut ahead = Ahead::new(0);
        assert_eq!(ahead.read_ahead(), 1);
        ahead.prepare(&inputs, &analyzer, PostLimits::default());
        assert!(inputs.iter().all(|i| ahead.take(i).is_none()));
    }
}
