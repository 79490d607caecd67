//! An in-process Kafka broker for `earshot demo` and the integration tests: librdkafka's
//! mock cluster, which speaks the real protocol on localhost sockets and can inject faults.
//!
//! Limits, measured: the mock cluster keeps only about 5 MB per partition and drops older
//! records, so consumers must keep up; it has no persistence; it supports the producer
//! (idempotent and transactional) and balanced consumer groups with offset commits, which
//! is all Earshot needs.

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use crate::settings::KafkaSettings;

/// A running mock cluster. Dropping it stops the brokers.
pub struct EmbeddedKafka {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl std::fmt::Debug for EmbeddedKafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedKafka")
            .field("bootstrap_servers", &self.bootstrap_servers())
            .finish()
    }
}

impl EmbeddedKafka {
    /// Starts `brokers` mock brokers.
    pub fn start(brokers: i32) -> Result<EmbeddedKafka, rdkafka::error::KafkaError> {
        Ok(EmbeddedKafka {
            cluster: MockCluster::new(brokers)?,
        })
    }

    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// Creates `topics` with the partition count and replication factor of `settings`.
    pub fn create_topics(
        &self,
        settings: &KafkaSettings,
        topics: &[String],
    ) -> Result<(), rdkafka::error::KafkaError> {
        for topic in topics {
            self.cluster.create_topic(
                topic,
                settings.partitions,
                settings.replication_factor.max(1),
            )?;
        }
        Ok(())
    }

    /// The cluster, for fault injection in tests.
    pub fn cluster(&self) -> &MockCluster<'static, DefaultProducerContext> {
        &self.cluster
    }
}
