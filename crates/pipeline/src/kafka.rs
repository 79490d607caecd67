//! The `[kafka]` section of Earshot's configuration: how to reach the brokers and deliver
//! (the runner's [`KafkaSettings`]), and the names of Earshot's topics and groups.

use std::ops::{Deref, DerefMut};

use earshot_kafka::{KafkaSettings, StageSpec};
use serde::Deserialize;

/// The `[kafka]` section. The runner's settings sit beside the topic and group tables in
/// the file (`[kafka] brokers`, `[kafka.topics] raw`), and read the same way here:
/// `kafka.brokers` reaches the runner's settings through `Deref`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct KafkaConfig {
    pub topics: Topics,
    pub groups: Groups,
    #[serde(flatten)]
    pub client: KafkaSettings,
}

impl Deref for KafkaConfig {
    type Target = KafkaSettings;
    fn deref(&self) -> &KafkaSettings {
        &self.client
    }
}

impl DerefMut for KafkaConfig {
    fn deref_mut(&mut self) -> &mut KafkaSettings {
        &mut self.client
    }
}

impl KafkaConfig {
    /// The analyze stage: raw posts in, as group `groups.analyze`.
    pub fn analyze_stage(&self, instance_id: Option<String>) -> StageSpec {
        StageSpec {
            name: "analyze",
            input_topic: self.topics.raw.clone(),
            group_id: self.groups.analyze.clone(),
            instance_id,
            dlq_topic: self.topics.dlq.clone(),
        }
    }

    /// The fused stage (analyze → route in one consumer): raw posts in, as group
    /// `groups.process`.
    pub fn process_stage(&self, instance_id: Option<String>) -> StageSpec {
        StageSpec {
            name: "process",
            input_topic: self.topics.raw.clone(),
            group_id: self.groups.process.clone(),
            instance_id,
            dlq_topic: self.topics.dlq.clone(),
        }
    }

    /// The route stage: scored posts in, as group `groups.route`.
    pub fn route_stage(&self, instance_id: Option<String>) -> StageSpec {
        StageSpec {
            name: "route",
            input_topic: self.topics.scored.clone(),
            group_id: self.groups.route.clone(),
            instance_id,
            dlq_topic: self.topics.dlq.clone(),
        }
    }
}

/// Topic names.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Topics {
    pub raw: String,
    pub scored: String,
    /// Tickets go to `<tickets_prefix><queue>`, e.g. `earshot.tickets.billing`.
    pub tickets_prefix: String,
    pub incidents: String,
    pub unrouted: String,
    pub dlq: String,
    /// Route replicas exchange their spike counts here (keyed by replica), so that each
    /// decides on incidents from the totals over all partitions.
    pub signals: String,
    /// Route's state (open conversations, spike counts and baselines, open incidents): a
    /// compacted topic with as many partitions as `scored`, partition for partition.
    pub changelog: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            raw: "earshot.posts.raw".into(),
            scored: "earshot.posts.scored".into(),
            tickets_prefix: "earshot.tickets.".into(),
            incidents: "earshot.incidents".into(),
            unrouted: "earshot.posts.unrouted".into(),
            dlq: "earshot.dlq".into(),
            signals: "earshot.signals".into(),
            changelog: "earshot.route.changelog".into(),
        }
    }
}

impl Topics {
    pub fn tickets(&self, queue: &str) -> String {
        // Called for every ticket revision: two copies instead of core::fmt.
        [self.tickets_prefix.as_str(), queue].concat()
    }

    /// Whether `topic` keeps only the latest record per key (created with
    /// `cleanup.policy=compact`).
    pub fn is_compacted(&self, topic: &str) -> bool {
        topic == self.changelog
    }

    /// Every topic Earshot reads or writes, with a ticket topic for each of `queues`.
    pub fn all<Q: AsRef<str>>(&self, queues: &[Q]) -> Vec<String> {
        let mut topics = vec![
            self.raw.clone(),
            self.scored.clone(),
            self.incidents.clone(),
            self.unrouted.clone(),
            self.dlq.clone(),
            self.signals.clone(),
            self.changelog.clone(),
        ];
        topics.extend(queues.iter().map(|q| self.tickets(q.as_ref())));
        topics
    }
}

/// Consumer group ids, one per stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Groups {
    pub analyze: String,
    pub route: String,
    /// The fused stage's (`earshot process`, `earshot run`).
    pub process: String,
}

impl Default for Groups {
    fn default() -> Self {
        Groups {
            analyze: "earshot-analyze".into(),
            route: "earshot-route".into(),
            process: "earshot-process".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_reads_the_runner_settings_beside_topics_and_groups() {
        let kafka: KafkaConfig = serde_json::from_str(
            r#"{"brokers": 9092, "partitions": 3, "consumer": {"session.timeout.ms": 6000},
                "topics": {"raw": "raw"}, "groups": {"route": "r"}}"#,
        )
        .unwrap();
        assert_eq!(kafka.brokers, "9092", "numbers are text for librdkafka");
        assert_eq!(kafka.partitions, 3);
        assert_eq!(kafka.consumer["session.timeout.ms"], "6000");
        assert_eq!(kafka.topics.raw, "raw");
        assert_eq!(kafka.topics.dlq, "earshot.dlq");
        assert_eq!(kafka.route_stage(None).group_id, "r");
        assert_eq!(kafka.route_stage(None).dlq_topic, "earshot.dlq");
    }
}
