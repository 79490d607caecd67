//! The pipeline core: what happens to one post on its way from raw to routed, with no I/O.
//!
//! [`score`] is the analyze stage's decision (analyze, then drop what no watchlist matched
//! unless it is a reply in a conversation); [`Routing`] is the route stage's (route on the
//! stage's clock); [`Pipeline`] chains them the way the Kafka stages do, for `earshot
//! triage` and the tests' oracle.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use earshot_analyze::{is_relevant, Analyzer, Scratch};
use earshot_model::{Post, ScoredPost};
use earshot_route::{RouteConfig, RouteOutput, Router, Shard};
use serde::Deserialize;

/// The route stage's clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteClock {
    /// The time now: live operation.
    #[default]
    Wall,
    /// The posts' own time (`created_at`, else `received_at`), never going backwards: replays
    /// of history, `earshot triage`, `earshot demo`.
    Event,
}

/// The event clock: the latest post time seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventClock(Option<DateTime<Utc>>);

impl EventClock {
    /// Moves to `post_time` when it is later; before any post time, `wall`.
    pub fn observe(
        &mut self,
        post_time: Option<DateTime<Utc>>,
        wall: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let now = match (self.0, post_time) {
            (Some(last), Some(t)) => last.max(t),
            (None, Some(t)) => t,
            (Some(last), None) => last,
            (None, None) => wall,
        };
        self.0 = Some(now);
        now
    }

    /// The latest time seen, if any.
    pub fn now(&self) -> Option<DateTime<Utc>> {
        self.0
    }
}

/// Analyze → relevance: the scored post, or `None` when the analyze stage drops it (no
/// watchlist matched and it is no reply in a conversation).
pub fn score(analyzer: &Analyzer, scratch: &mut Scratch, post: Post) -> Option<ScoredPost> {
    let analysis = analyzer.analyze_with(&post, scratch);
    is_relevant(&post, &analysis).then_some(ScoredPost { post, analysis })
}

/// The route stage's decision: a router on the stage's clock.
#[derive(Debug)]
pub struct Routing {
    router: Router,
    clock: RouteClock,
    event: EventClock,
}

impl Routing {
    pub fn new(router: Router, clock: RouteClock) -> Routing {
        Routing {
            router,
            clock,
            event: EventClock::default(),
        }
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn router_mut(&mut self) -> &mut Router {
        &mut self.router
    }

    pub fn clock(&self) -> RouteClock {
        self.clock
    }

    /// Changes the clock (before the first post).
    pub fn set_clock(&mut self, clock: RouteClock) {
        self.clock = clock;
    }

    /// The time a post is routed at: `wall`, or the post's time on the event clock.
    pub fn now_for(&mut self, post: &Post, wall: DateTime<Utc>) -> DateTime<Utc> {
        match self.clock {
            RouteClock::Wall => wall,
            RouteClock::Event => self
                .event
                .observe(post.created_at.or(post.received_at), wall),
        }
    }

    /// The time between posts: `wall`, or the latest post time (none before the first post:
    /// a replay moves time only with posts).
    pub fn now_between(&self, wall: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.clock {
            RouteClock::Wall => Some(wall),
            RouteClock::Event => self.event.now(),
        }
    }

    /// The event clock's time, on the event clock (none on the wall clock, or before any
    /// post): what a restored shard's clock is written as.
    pub fn event_time(&self) -> Option<DateTime<Utc>> {
        match self.clock {
            RouteClock::Wall => None,
            RouteClock::Event => self.event.now(),
        }
    }

    /// Moves the event clock forward to `at`, a restored shard's time (never back; nothing
    /// on the wall clock).
    pub fn restore_event_time(&mut self, at: DateTime<Utc>) {
        if self.clock == RouteClock::Event {
            self.event.observe(Some(at), at);
        }
    }

    /// Routes a post of input partition `shard` (its state lives there).
    pub fn route(
        &mut self,
        shard: Shard,
        scored: ScoredPost,
        wall: DateTime<Utc>,
        out: &mut Vec<RouteOutput>,
    ) {
        let now = self.now_for(&scored.post, wall);
        self.router.route_owned_in(shard, scored, now, out);
    }

    /// Moves the clock without a post (incidents close, folding state expires).
    pub fn tick(&mut self, wall: DateTime<Utc>, out: &mut Vec<RouteOutput>) {
        if let Some(now) = self.now_between(wall) {
            out.extend(self.router.tick(now));
        }
    }
}

/// What became of a post pushed through the [`Pipeline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Dropped by analyze: no watchlist matched, no conversation.
    Discarded,
    /// Routed: its outputs (tickets, unrouted record, incidents) were appended.
    Routed,
}

/// Analyze and route chained on the event clock, one partition: what the Kafka stages make
/// of posts that reach them in this order.
#[derive(Debug)]
pub struct Pipeline {
    analyzer: Arc<Analyzer>,
    scratch: Scratch,
    routing: Routing,
}

impl Pipeline {
    pub fn new(analyzer: Arc<Analyzer>, router: Router) -> Pipeline {
        Pipeline {
            analyzer,
            scratch: Scratch::new(),
            routing: Routing::new(router, RouteClock::Event),
        }
    }

    /// One post: analyze, drop it if it is not relevant, else route it at its time.
    pub fn push(&mut self, post: Post, out: &mut Vec<RouteOutput>) -> Pushed {
        match score(&self.analyzer, &mut self.scratch, post) {
            None => Pushed::Discarded,
            Some(scored) => {
                self.routing
                    .route(Shard::default(), scored, Utc::now(), out);
                Pushed::Routed
            }
        }
    }

    /// The end of the input: a last tick at the latest post time, so incidents whose
    /// volume is back to normal close.
    pub fn finish(&mut self, out: &mut Vec<RouteOutput>) {
        self.routing.tick(Utc::now(), out);
    }

    pub fn router(&self) -> &Router {
        self.routing.router()
    }

    /// Swaps in a reloaded analyzer and route configuration between two posts, keeping the
    /// router's state (open tickets, spike state, incidents), as the stages do.
    pub fn reconfigure(&mut self, analyzer: Arc<Analyzer>, route: RouteConfig) {
        self.analyzer = analyzer;
        self.routing.router_mut().reconfigure(route);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_clock_never_goes_back() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let wall = t("2030-01-01T00:00:00Z");
        let mut clock = EventClock::default();
        assert_eq!(clock.observe(None, wall), wall);
        let mut clock = EventClock::default();
        assert_eq!(
            clock.observe(Some(t("2026-05-01T09:00:00Z")), wall),
            t("2026-05-01T09:00:00Z")
        );
        assert_eq!(
            clock.observe(Some(t("2026-05-01T08:00:00Z")), wall),
            t("2026-05-01T09:00:00Z")
        );
        assert_eq!(clock.observe(None, wall), t("2026-05-01T09:00:00Z"));
        assert_eq!(
            clock.observe(Some(t("2026-05-01T10:00:00Z")), wall),
            t("2026-05-01T10:00:00Z")
        );
    }
}
