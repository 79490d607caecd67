//! How long to wait before reconnecting, after X's documented policy (the other streams use
//! the same one): a dropped connection is retried at once, then linearly 250 ms more each
//! time up to 16 s; an HTTP error waits 5 s, doubling up to 320 s; a 429 waits a minute,
//! doubling up to 16 minutes. A connection that delivered data resets the count.

use std::time::Duration;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// TCP/TLS errors, resets, a stream that went silent or closed.
    Network,
    /// An HTTP status other than 2xx and 429.
    Http,
    /// 429 Too Many Requests.
    RateLimited,
}

impl Failure {
    /// A metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Network => "network",
            Failure::Http => "http_error",
            Failure::RateLimited => "rate_limited",
        }
    }
}

/// Consecutive failures of each kind since the last good connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    network: u32,
    http: u32,
    rate_limited: u32,
}

impl Backoff {
    pub fn new() -> Backoff {
        Backoff::default()
    }

    /// The wait before the next attempt after `failure`.
    pub fn next(&mut self, failure: Failure) -> Duration {
        match failure {
            Failure::Network => {
                let wait = Duration::from_millis(250 * u64::from(self.network))
                    .min(Duration::from_secs(16));
                self.network = self.network.saturating_add(1);
                wait
            }
            Failure::Http => doubling(&mut self.http, 5, 320),
            Failure::RateLimited => doubling(&mut self.rate_limited, 60, 960),
        }
    }

    /// A connection worked (it delivered data): start over.
    pub fn reset(&mut self) {
        *self = Backoff::default();
    }
}

fn doubling(count: &mut u32, first_secs: u64, max_secs: u64) -> Duration {
    let wait = first_secs
        .saturating_mul(1u64 << (*count).min(20))
        .min(max_secs);
    *count = count.saturating_add(1);
    Duration::from_secs(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(failure: Failure, n: usize) -> Vec<u64> {
        let mut b = Backoff::new();
        (0..n).map(|_| b.next(failure).as_millis() as u64).collect()
    }

    #[test]
    fn the_documented_schedules() {
        assert_eq!(waits(Failure::Network, 4), [0, 250, 500, 750]);
        assert_eq!(*waits(Failure::Network, 100).last().unwrap_or(&0), 16_000);
        assert_eq!(
            waits(Failure::Http, 8),
            [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 320_000]
        );
        assert_eq!(
            waits(Failure::RateLimited, 6),
            [60_000, 120_000, 240_000, 480_000, 960_000, 960_000]
        );
    }

    #[test]
    fn kinds_count_apart_and_reset() {
        let mut b = Backoff::new();
        b.next(Failure::Http);
        assert_eq!(b.next(Failure::Network), Duration::ZERO);
        assert_eq!(b.next(Failure::Http), Duration::from_secs(10));
        b.reset();
        assert_eq!(b.next(Failure::Http), Duration::from_secs(5));
    }
}
