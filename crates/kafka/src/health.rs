//! What a process reports to its admin endpoints (readiness, liveness) and how it is asked to
//! stop. Written by the process's loops, read by the admin server: plain atomics, no locks.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Outputs waiting this long with no acknowledgement at all make a stage not ready: the
/// broker accepts connections but does not answer (frozen, overloaded, partitioned away).
pub const READY_STALL: Duration = Duration::from_secs(10);

/// What a process needs before it can work: partitions of its input topic (a consumer stage,
/// the default), or an input of its own (a webhook listener, a platform stream) for
/// producer-only processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum InputKind {
    Partitions = 0,
    Listener = 1,
    Stream = 2,
}

/// Readiness and liveness of one stage or producer.
#[derive(Debug, Default)]
pub struct Health {
    /// Partitions of the input topic assigned to this replica (consumer stages).
    pub assigned_partitions: AtomicUsize,
    /// Producer-only processes: which input they have, and whether it is up (listening,
    /// connected to the platform).
    input_kind: AtomicU8,
    input_up: AtomicBool,
    /// Set while the state of newly assigned partitions is being restored.
    pub restoring: AtomicBool,
    /// Whether the client reached a broker lately: set by fetched records and librdkafka's
    /// statistics, cleared when all broker connections are down.
    pub connected: AtomicBool,
    /// Set once shutdown began (or the stage stopped).
    pub stopping: AtomicBool,
    /// Last time (ms since the epoch) the processing loop went round.
    pub last_progress_ms: AtomicU64,
    /// Input records whose outputs await acknowledgement, and since when (ms since the
    /// epoch) some have been waiting.
    pub in_flight: AtomicUsize,
    pub in_flight_since_ms: AtomicU64,
    /// Last time (ms since the epoch) the broker acknowledged an output.
    pub last_ack_ms: AtomicU64,
}

impl Health {
    /// The health of a consumer stage: ready once partitions are assigned.
    pub fn new() -> Arc<Health> {
        Arc::new(Health::default())
    }

    /// The health of a producer-only process whose input is `kind`: ready while it is up.
    pub fn for_input(kind: InputKind) -> Arc<Health> {
        let health = Health::default();
        health.input_kind.store(kind as u8, Ordering::SeqCst);
        Arc::new(health)
    }

    /// A producer-only process's input came up (listening, connected) or went down.
    pub fn input_up(&self, kind: InputKind, up: bool) {
        self.input_kind.store(kind as u8, Ordering::SeqCst);
        self.input_up.store(up, Ordering::SeqCst);
    }

    fn kind(&self) -> InputKind {
        match self.input_kind.load(Ordering::SeqCst) {
            1 => InputKind::Listener,
            2 => InputKind::Stream,
            _ => InputKind::Partitions,
        }
    }

    /// Ready: has work to do (partitions, or its own input up), is connected, and is not
    /// shutting down.
    pub fn is_ready(&self) -> bool {
        self.not_ready_because().is_none()
    }

    /// Why the process is not ready, if it is not.
    pub fn not_ready_because(&self) -> Option<&'static str> {
        if self.stopping.load(Ordering::SeqCst) {
            return Some("shutting down");
        }
        let input = match self.kind() {
            InputKind::Partitions if self.assigned_partitions.load(Ordering::SeqCst) == 0 => {
                Some("no partitions assigned")
            }
            InputKind::Partitions if self.restoring.load(Ordering::SeqCst) => {
                Some("restoring state of assigned partitions")
            }
            InputKind::Listener if !self.input_up.load(Ordering::SeqCst) => Some("not listening"),
            InputKind::Stream if !self.input_up.load(Ordering::SeqCst) => {
                Some("not connected to the platform's stream")
            }
            _ => None,
        };
        if input.is_some() {
            input
        } else if !self.connected.load(Ordering::SeqCst) {
            Some("no broker connection")
        } else if self.stalled_for() > READY_STALL {
            Some("outputs not acknowledged by the broker")
        } else {
            None
        }
    }

    /// How long outputs have waited with no acknowledgement at all; zero when none waits.
    pub fn stalled_for(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            return Duration::ZERO;
        }
        let since = self
            .in_flight_since_ms
            .load(Ordering::SeqCst)
            .max(self.last_ack_ms.load(Ordering::SeqCst));
        Duration::from_millis(now_ms().saturating_sub(since))
    }

    /// `waiting` input records have outputs in flight.
    pub fn note_in_flight(&self, waiting: usize) {
        let before = self.in_flight.swap(waiting, Ordering::SeqCst);
        if before == 0 && waiting > 0 {
            self.in_flight_since_ms.store(now_ms(), Ordering::SeqCst);
        }
    }

    /// The broker acknowledged an output.
    pub fn acknowledged(&self) {
        self.last_ack_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// The process's loop went round.
    pub fn beat(&self) {
        self.last_progress_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Whether the loop went round within `within`.
    pub fn is_live(&self, within: Duration) -> bool {
        let last = self.last_progress_ms.load(Ordering::Relaxed);
        last > 0 && now_ms().saturating_sub(last) <= within.as_millis() as u64
    }
}

/// Asks a running stage to stop: stop intake, drain, flush, commit, return.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_process_says_what_it_waits_for() {
        let stage = Health::new();
        stage.connected.store(true, Ordering::SeqCst);
        assert_eq!(stage.not_ready_because(), Some("no partitions assigned"));
        stage.assigned_partitions.store(2, Ordering::SeqCst);
        stage.restoring.store(true, Ordering::SeqCst);
        assert_eq!(
            stage.not_ready_because(),
            Some("restoring state of assigned partitions")
        );
        stage.restoring.store(false, Ordering::SeqCst);
        assert!(stage.is_ready());

        let hooks = Health::for_input(InputKind::Listener);
        hooks.connected.store(true, Ordering::SeqCst);
        assert_eq!(hooks.not_ready_because(), Some("not listening"));
        hooks.input_up(InputKind::Listener, true);
        assert!(hooks.is_ready());

        let stream = Health::for_input(InputKind::Stream);
        stream.input_up(InputKind::Stream, true);
        assert_eq!(stream.not_ready_because(), Some("no broker connection"));
        stream.stopping.store(true, Ordering::SeqCst);
        assert_eq!(stream.not_ready_because(), Some("shutting down"));
    }
}
