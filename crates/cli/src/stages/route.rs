//! The route stage: scored posts in; tickets out to `tickets.<queue>`, incidents, and
//! unrouted posts, on the wall clock. Tickets are keyed by ticket id so that every revision
//! of a ticket lands in one partition, in order.
//!
//! Route's state (open conversations with the post ids folded into them, spike counts and
//! baselines, open incidents) lives in a compacted changelog topic partitioned like the
//! input, the way Kafka Streams keeps its state stores: every change is written to the
//! partition of the input partition it belongs to, as an [`Output::state`] (in the
//! transaction of its input under exactly-once; after its input's other outputs are
//! acknowledged under at-least-once), and a partition assigned to this replica is restored
//! from its changelog, read to its end, before its first record is processed.
//!
//! After the state writes of each record comes the partition's [`Position`]: its offset and
//! the event clock. A replica that restores a partition skips the records the position
//! covers (at-least-once may have written their state without committing their offsets)
//! and starts its clock where the state left it.

use chrono::{DateTime, Utc};
use earshot_kafka::{Input, Output, Processor, Reject};
use earshot_model::{PostLimits, ScoredPost, INCIDENT_SCHEMA_VERSION, TICKET_SCHEMA_VERSION};
use earshot_pipeline::{Metrics, RouteClock, Routing, Topics};
use std::time::Duration;

use earshot_route::{Position, RouteOutput, Router, Shard, SpikeCounts, StateRecord};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::time::Instant;
use tracing::{info, warn};

/// A restore that has not reached the end of its changelog partitions by then fails (the
/// stage stops with the reason rather than waiting for ever).
const RESTORE_WITHIN: Duration = Duration::from_secs(600);
/// A changelog topic the broker does not know this long after the restore began is missing
/// (not just new in the metadata).
const MISSING_FOR: Duration = Duration::from_secs(20);

fn is_missing(e: &KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode::*;
    matches!(
        e.rdkafka_error_code(),
        Some(UnknownTopicOrPartition | UnknownTopic | UnknownPartition | TopicAuthorizationFailed)
    )
}

pub struct RouteProcessor {
    routing: Routing,
    /// The topic whose partitions the state is kept by: scored posts for the route stage,
    /// raw posts for the fused stage.
    input_topic: String,
    signals: Option<Signals>,
    topics: Topics,
    metrics: Metrics,
    outputs: Vec<RouteOutput>,
    /// Posts dated too far ahead are refused, so that one cannot drag the event clock.
    limits: PostLimits,
    changelog: Option<Changelog>,
    /// Per input partition owned: how far its input is applied to the state.
    applied: foldhash::HashMap<i32, Applied>,
}

/// How far one input partition is applied to the state in the changelog.
#[derive(Debug, Default)]
struct Applied {
    /// The position restored with the partition: its records up to this offset are in the
    /// state already.
    restored: Option<i64>,
    /// The last record routed, and whether its position is written.
    last: Option<i64>,
    written: bool,
}

/// The changelog reader's client context: reaching the end of a partition is how a restore
/// ends, not an error to log (librdkafka reports it as one).
#[derive(Debug)]
pub struct ReaderContext;

impl ClientContext for ReaderContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            warn!(error = %error, reason, "Changelog reader error");
        }
    }
}

impl ConsumerContext for ReaderContext {}

/// Reads route's changelog to restore partitions.
pub type ChangelogReader = BaseConsumer<ReaderContext>;

/// Where route's state goes, and the reader that brings it back.
struct Changelog {
    topic: String,
    /// Assigned the changelog partitions to restore, read from the beginning
    /// (read_committed, partition EOF on); never commits.
    reader: ChangelogReader,
    scratch: Vec<StateRecord>,
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
            input_topic: topics.scored.clone(),
            signals: None,
            topics,
            metrics,
            outputs: Vec::new(),
            limits: PostLimits::default(),
            changelog: None,
            applied: foldhash::HashMap::default(),
        }
    }

    /// Keeps the router's state in the changelog `topic`, restored with `reader` (a consumer
    /// with `enable.partition.eof` and `isolation.level=read_committed`).
    pub fn with_changelog(mut self, topic: String, reader: ChangelogReader) -> RouteProcessor {
        self.routing.router_mut().track_state();
        self.changelog = Some(Changelog {
            topic,
            reader,
            scratch: Vec::new(),
        });
        self
    }

    /// The state changes since the last call, as changelog writes: whether one is for
    /// `partition`.
    fn write_state(&mut self, out: &mut Vec<Output>, partition: Option<i32>) -> bool {
        let Some(changelog) = &mut self.changelog else {
            return false;
        };
        self.routing.router_mut().take_state(&mut changelog.scratch);
        let mut wrote = false;
        for record in changelog.scratch.drain(..) {
            let to = i32::try_from(record.shard.0).unwrap_or(i32::MAX);
            wrote |= Some(to) == partition;
            out.push(Output::state(
                changelog.topic.clone(),
                to,
                record.key,
                record.value,
                1,
            ));
        }
        wrote
    }

    /// The position of `partition` after its record at `offset`: written at once when the
    /// record changed the state (a restore must know that record is in it), else at the
    /// next tick (for the clock).
    fn applied(&mut self, partition: i32, offset: i64, wrote: bool, out: &mut Vec<Output>) {
        if self.changelog.is_none() {
            return;
        }
        let applied = self.applied.entry(partition).or_default();
        applied.last = Some(offset);
        applied.written = false;
        if wrote {
            self.write_position(partition, out);
        }
    }

    /// Writes the position of `partition`, unless it is written already.
    fn write_position(&mut self, partition: i32, out: &mut Vec<Output>) {
        let clock = self.routing.event_time();
        let (Some(changelog), Some(applied)) = (&self.changelog, self.applied.get_mut(&partition))
        else {
            return;
        };
        let Some(offset) = applied.last.filter(|_| !applied.written) else {
            return;
        };
        applied.written = true;
        let record = Position { offset, clock }.record(shard_of(partition));
        out.push(Output::state(
            changelog.topic.clone(),
            partition,
            record.key,
            record.value,
            1,
        ));
    }

    /// Whether `input` is in the state restored with its partition already (read again
    /// after a restart behind the state): it is skipped, and counted.
    pub fn replayed(&self, input: &Input<'_>) -> bool {
        let replayed = self
            .applied
            .get(&input.partition)
            .and_then(|a| a.restored)
            .is_some_and(|restored| input.offset <= restored);
        if replayed {
            self.metrics
                .posts_discarded
                .with_label_values(&["route", "replayed"])
                .inc();
        }
        replayed
    }

    /// The label this replica publishes `partition`'s spike counts under: the same for any
    /// replica owning it, so that the counter moves with the partition.
    fn label(&self, partition: i32) -> String {
        format!("{}/{partition}", self.input_topic)
    }

    /// Routes posts read from `topic` (the fused stage reads raw posts) rather than from the
    /// scored topic: its partitions are the ones state is kept and counted by.
    pub fn reading(mut self, topic: String) -> RouteProcessor {
        self.input_topic = topic;
        self
    }

    /// Routes the scored post of `input`: its outputs, state changes and position go to
    /// `out`.
    pub fn route_scored(
        &mut self,
        input: &Input<'_>,
        scored: ScoredPost,
        out: &mut Vec<Output>,
    ) -> Result<(), Reject> {
        let partition = input.partition;
        let suppressed = self.routing.router().suppressed();
        self.routing
            .route(shard_of(partition), scored, Utc::now(), &mut self.outputs);
        if self.routing.router().suppressed() > suppressed {
            self.metrics
                .posts_discarded
                .with_label_values(&["route", "suppressed"])
                .inc();
        }
        self.emit(input.ingested_at_ms, out)?;
        let wrote = self.write_state(out, Some(partition));
        self.applied(partition, input.offset, wrote, out);
        Ok(())
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
            let payload = output
                .to_json_vec()
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
        if self.replayed(input) {
            return Ok(());
        }
        let bytes = input
            .payload
            .ok_or_else(|| Reject::new("empty_record", "the record has no payload"))?;
        let scored: ScoredPost = serde_json::from_slice(bytes)
            .map_err(|e| Reject::new("invalid_scored_post", e.to_string()))?;
        scored
            .post
            .check_time(Utc::now(), &self.limits)
            .map_err(|e| Reject::new(e.code(), e.to_string()))?;
        self.route_scored(input, scored, out)
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
        self.write_state(out, None);
        let due: Vec<i32> = self
            .applied
            .iter()
            .filter(|(_, a)| a.last.is_some() && !a.written)
            .map(|(&p, _)| p)
            .collect();
        for partition in due {
            self.write_position(partition, out);
        }
    }

    fn assigned(&mut self, partitions: &[i32]) -> Result<(), String> {
        if self.changelog.is_none() {
            return Ok(());
        }
        for &partition in partitions {
            let label = self.label(partition);
            self.routing
                .router_mut()
                .own_shard(shard_of(partition), &label);
        }
        let started = Instant::now();
        let Some(changelog) = &self.changelog else {
            return Ok(());
        };
        let latest = changelog.read(partitions)?;
        let mut bytes = 0;
        for (partition, records) in latest {
            bytes += records
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
            let restored = self.routing.router_mut().restore_shard(
                shard_of(partition),
                records.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
            );
            let position = restored.position;
            if let Some(clock) = position.and_then(|p| p.clock) {
                self.routing.restore_event_time(clock);
            }
            self.applied.insert(
                partition,
                Applied {
                    restored: position.map(|p| p.offset),
                    ..Applied::default()
                },
            );
            if restored.skipped > 0 {
                warn!(
                    partition,
                    skipped = restored.skipped,
                    "Changelog records that could not be read were left out"
                );
            }
            info!(
                partition,
                tickets = restored.tickets,
                counts = restored.counts,
                spike_keys = restored.keys,
                position = ?position.map(|p| p.offset),
                "Route state restored"
            );
        }
        info!(partitions = ?partitions, bytes, seconds = started.elapsed().as_secs_f64(), "Changelog read");
        Ok(())
    }

    fn revoked(&mut self, partitions: &[i32], _settled: bool) {
        if self.changelog.is_none() {
            return;
        }
        // The changelog holds what was written for them (and only what was committed or
        // acknowledged): the next owner, this replica included, restores from it.
        for &partition in partitions {
            self.routing.router_mut().drop_shard(shard_of(partition));
            self.applied.remove(&partition);
        }
    }
}

fn shard_of(partition: i32) -> Shard {
    Shard(u32::try_from(partition).unwrap_or_default())
}

impl Changelog {
    /// The latest value of every key of `partitions`, read from the beginning to the end
    /// (tombstones forget keys; compaction may not have run yet).
    fn read(&self, partitions: &[i32]) -> Result<HashMap<i32, HashMap<String, Vec<u8>>>, String> {
        let mut latest: HashMap<i32, HashMap<String, Vec<u8>>> =
            partitions.iter().map(|&p| (p, HashMap::new())).collect();
        // An empty partition (a first start) needs no fetch: waiting for its end-of-partition
        // event would cost a fetch round (half a second) for nothing.
        let open: Vec<i32> = partitions
            .iter()
            .copied()
            .filter(|&p| {
                self.reader
                    .fetch_watermarks(&self.topic, p, Duration::from_secs(10))
                    .map_or(true, |(low, high)| high > low)
            })
            .collect();
        if open.is_empty() {
            return Ok(latest);
        }
        let mut tpl = TopicPartitionList::new();
        for &partition in &open {
            tpl.add_partition_offset(&self.topic, partition, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
        self.reader
            .assign(&tpl)
            .map_err(|e| format!("reading the changelog {}: {e}", self.topic))?;
        let mut open = open;
        let started = Instant::now();
        let result = loop {
            if open.is_empty() {
                break Ok(latest);
            }
            if started.elapsed() > RESTORE_WITHIN {
                break Err(format!(
                    "the changelog {} partitions {open:?} were not read to their end within {} s",
                    self.topic,
                    RESTORE_WITHIN.as_secs()
                ));
            }
            match self.reader.poll(Duration::from_millis(100)) {
                None => {}
                Some(Ok(message)) => {
                    let Some(records) = latest.get_mut(&message.partition()) else {
                        continue;
                    };
                    let Some(key) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                        continue;
                    };
                    match message.payload() {
                        Some(value) => records.insert(key.to_string(), value.to_vec()),
                        None => records.remove(key),
                    };
                }
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    open.retain(|&p| p != partition);
                }
                Some(Err(e)) if is_missing(&e) && started.elapsed() > MISSING_FOR => {
                    break Err(format!(
                        "the changelog topic {} is missing ({e}): create it like `earshot.posts.scored`, compacted (see docs/operations.md)",
                        self.topic
                    ));
                }
                Some(Err(e)) => {
                    warn!(error = %e, topic = %self.topic, "Reading the changelog; retrying");
                }
            }
        };
        if let Err(e) = self.reader.unassign() {
            warn!(error = %e, "Unassigning the changelog reader failed");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_model::{Analysis, Flag, Post, WatchMatch};
    use earshot_route::ConfigFile;

    const RULES: &str = r#"
[[queue]]
id = "care"

[[rule]]
id = "drop-spam"
flag = "spam"
suppress = true

[[rule]]
id = "care"
watchlist = "brand"
queue = "care"
priority = "P3"
"#;

    fn scored(id: &str, flags: Vec<Flag>) -> Vec<u8> {
        let post = ScoredPost {
            post: Post {
                id: id.into(),
                platform: "x".into(),
                text: "星空モバイル".into(),
                ..Post::default()
            },
            analysis: Analysis {
                flags,
                watch: vec![WatchMatch {
                    id: "brand".into(),
                    terms: vec![],
                }],
                ..Analysis::default()
            },
        };
        post.to_json_vec()
    }

    /// A post a `suppress` rule drops makes no output: it is counted as discarded, so that
    /// every post the stage took is accounted for.
    #[test]
    fn a_suppressed_post_is_counted_as_discarded() {
        let (router, _) = Router::from_files(
            &[ConfigFile {
                name: "route.toml",
                text: RULES,
            }],
            Some(&["brand"]),
        )
        .expect("the rules load");
        let metrics = Metrics::unregistered();
        let mut stage = RouteProcessor::new(router, Topics::default(), metrics.clone());
        let suppressed = || {
            metrics
                .posts_discarded
                .with_label_values(&["route", "suppressed"])
                .get()
        };
        let mut out = Vec::new();
        let spam = scored("1", vec![Flag::Spam]);
        stage
            .process(&Input::bare("scored", 0, 0, Some(&spam)), &mut out)
            .expect("routed");
        assert!(out.is_empty(), "a suppressed post makes nothing: {out:?}");
        assert_eq!(suppressed(), 1);
        let complaint = scored("2", vec![]);
        stage
            .process(&Input::bare("scored", 0, 1, Some(&complaint)), &mut out)
            .expect("routed");
        assert_eq!(out.len(), 1, "the other post makes its ticket");
        assert_eq!(suppressed(), 1, "and is not counted");
    }
}
