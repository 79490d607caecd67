//! The route stage: scored posts in; tickets out to `tickets.<queue>`, incidents, and
//! unrouted posts, on the wall clock. Tickets are keyed by ticket id so that every revision
//! of a ticket lands in one partition, in order.

use chrono::{DateTime, Utc};
use earshot_kafka::{Input, Output, Processor, Reject};
use earshot_model::{PostLimits, ScoredPost, INCIDENT_SCHEMA_VERSION, TICKET_SCHEMA_VERSION};
use earshot_pipeline::{Metrics, RouteClock, Routing, Topics};
use std::time::Duration;

use earshot_route::{RouteOutput, Router, Shard, SpikeCounts};
use rdkafka::consumer::BaseConsumer;
use rdkafka::message::Message;

pub struct RouteProcessor {
    routing: Routing,
    signals: Option<Signals>,
    topics: Topics,
    metrics: Metrics,
    outputs: Vec<RouteOutput>,
    /// Posts dated too far ahead are refused, so that one cannot drag the event clock.
    limits: PostLimits,
}

/// The replica's link to the signals topic.
struct Signals {
    replica: String,
    consumer: BaseConsumer,
    last_published: Option<std::time::Instant>,
}

impl std::fmt::Debug for RouteProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteProcessor")
            .field("topics", &self.topics)
            .field("clock", &self.routing.clock())
            .finish()
    }
}

impl RouteProcessor {
    pub fn new(router: Router, topics: Topics, metrics: Metrics) -> RouteProcessor {
        RouteProcessor {
            routing: Routing::new(router, RouteClock::Wall),
            signals: None,
            topics,
            metrics,
            outputs: Vec::new(),
            limits: PostLimits::default(),
        }
    }

    pub fn with_limits(mut self, limits: PostLimits) -> RouteProcessor {
        self.limits = limits;
        self
    }

    /// Exchanges spike counts with the other route replicas through `consumer` (reading the
    /// signals topic) and the stage's own outputs (publishing to it), as replica `replica`.
    pub fn with_signals(mut self, replica: String, consumer: BaseConsumer) -> RouteProcessor {
        self.routing.router_mut().set_replica_id(&replica);
        self.signals = Some(Signals {
            replica,
            consumer,
            last_published: None,
        });
        self
    }

    /// Publishes this replica's counts and merges the others'.
    fn exchange_signals(&mut self, now: DateTime<Utc>, out: &mut Vec<Output>) {
        let Some(signals) = &mut self.signals else {
            return;
        };
        while let Some(Ok(message)) = signals.consumer.poll(Duration::ZERO) {
            if message.key() == Some(signals.replica.as_bytes()) {
                continue;
            }
            let Some(counts) = message
                .payload()
                .and_then(|p| serde_json::from_slice::<SpikeCounts>(p).ok())
            else {
                continue;
            };
            if let Some(outputs) = self.routing.router_mut().merge_spike_counts(&counts, now) {
                self.outputs.extend(outputs);
            }
        }
        let due = signals
            .last_published
            .is_none_or(|t: std::time::Instant| t.elapsed() >= Duration::from_secs(2));
        if due {
            signals.last_published = Some(std::time::Instant::now());
            if let Ok(payload) = serde_json::to_vec(&self.routing.router().spike_counts()) {
                out.push(Output::new(
                    self.topics.signals.clone(),
                    Some(signals.replica.clone()),
                    payload,
                    1,
                ));
            }
        }
    }

    pub fn with_clock(mut self, clock: RouteClock) -> RouteProcessor {
        self.routing.set_clock(clock);
        self
    }

    fn emit(&mut self, ingested_at_ms: Option<i64>, out: &mut Vec<Output>) -> Result<(), Reject> {
        for output in self.outputs.drain(..) {
            let record = match &output {
                RouteOutput::Ticket(ticket) => {
                    self.metrics
                        .tickets_emitted
                        .with_label_values(&[&ticket.queue, ticket.priority.as_str()])
                        .inc();
                    if let Some(at) = ingested_at_ms {
                        let seconds = (Utc::now().timestamp_millis() - at).max(0) as f64 / 1000.0;
                        self.metrics.post_to_ticket_latency.observe(seconds);
                    }
                    (
                        self.topics.tickets(&ticket.queue),
                        ticket.ticket_id.clone(),
                        TICKET_SCHEMA_VERSION,
                    )
                }
                RouteOutput::Incident(incident) => {
                    if incident.revision == 1 {
                        self.metrics.incidents_opened.inc();
                    }
                    (
                        self.topics.incidents.clone(),
                        incident.incident_id.clone(),
                        INCIDENT_SCHEMA_VERSION,
                    )
                }
                RouteOutput::Unrouted(unrouted) => {
                    self.metrics
                        .posts_discarded
                        .with_label_values(&["route", "unrouted"])
                        .inc();
                    (
                        self.topics.unrouted.clone(),
                        unrouted.post.conversation_key().to_string(),
                        TICKET_SCHEMA_VERSION,
                    )
                }
            };
            let payload = serde_json::to_vec(&output)
                .map_err(|e| Reject::new("encode_failed", e.to_string()))?;
            out.push(Output::new(record.0, Some(record.1), payload, record.2));
        }
        Ok(())
    }
}

impl crate::reload::swap::Reconfigure for RouteProcessor {
    /// The rules, queues, calendars and spike settings change; open tickets, spike state and
    /// incidents stay (a ticket whose rule is gone is revised until it expires).
    fn reconfigure(&mut self, set: &crate::config_set::ConfigSet) {
        if let Some(config) = &set.route {
            self.routing.router_mut().reconfigure(config.clone());
        }
    }
}

impl Processor for RouteProcessor {
    fn process(&mut self, input: &Input<'_>, out: &mut Vec<Output>) -> Result<(), Reject> {
        let bytes = input
            .payload
            .ok_or_else(|| Reject::new("empty_record", "the record has no payload"))?;
        let scored: ScoredPost = serde_json::from_slice(bytes)
            .map_err(|e| Reject::new("invalid_scored_post", e.to_string()))?;
        scored
            .post
            .check_time(Utc::now(), &self.limits)
            .map_err(|e| Reject::new(e.code(), e.to_string()))?;
        let shard = Shard(u32::try_from(input.partition).unwrap_or_default());
        self.routing
            .route(shard, scored, Utc::now(), &mut self.outputs);
        self.emit(input.ingested_at_ms, out)
    }

    fn tick(&mut self, out: &mut Vec<Output>) {
        // Replays move time only with posts; without one there is nothing to advance.
        let Some(now) = self.routing.now_between(Utc::now()) else {
            return;
        };
        self.routing.tick(now, &mut self.outputs);
        self.exchange_signals(now, out);
        // Tick outputs (incident updates) have no input record; an encoding failure is not
        // possible for these types, and is skipped rather than stopping the stage.
        let _ = self.emit(None, out);
    }
}
