//! The librdkafka callbacks of a stage's clients. They change no state of the stage: they
//! hand what happened to the stage loop, which owns the state.
//!
//! * Deliveries are reported by the producer's own thread, one [`Ack`] per output, on a
//!   channel the loop reads.
//! * Rebalances run inside the loop's `poll`. The callback only records the event and
//!   returns *without* assigning or unassigning: librdkafka waits for that call, and the loop
//!   makes it once it has settled the revoked partitions (flush, commit) or restored the
//!   assigned ones. `poll` returns right after a rebalance event, so the loop sees it before
//!   it takes another record. Once the loop has stopped (a consumer closing on drop still
//!   gets a last revoke), the callback assigns and unassigns itself, as librdkafka's default
//!   handler does.
//! * Statistics and client errors are reports, written straight to the stage's health and
//!   lag gauge.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, TopicPartitionList};
use tracing::{error, warn};

use crate::delivery::{Ack, Pending};
use crate::health::Health;
use crate::metrics::Metrics;

/// A rebalance, as the loop handles it: partitions of the input topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rebalanced {
    Assigned(Vec<i32>),
    Revoked(Vec<i32>),
    /// The assignment failed or was lost: everything assigned is gone.
    Failed(String),
}

pub(crate) struct ProducerEvents {
    acks: Sender<Ack>,
}

impl ProducerEvents {
    pub fn new(acks: Sender<Ack>) -> ProducerEvents {
        ProducerEvents { acks }
    }

    /// Reports one delivery (or a record the client would not even queue).
    pub fn report(&self, pending: Box<Pending>, error: Option<KafkaError>) {
        // The loop is gone only when the stage stopped; nothing waits for the report then.
        let _ = self.acks.send(Ack { pending, error });
    }
}

impl ClientContext for ProducerEvents {}

impl ProducerContext for ProducerEvents {
    type DeliveryOpaque = Box<Pending>;

    fn delivery(&self, result: &DeliveryResult<'_>, pending: Box<Pending>) {
        let error = result.as_ref().err().map(|(e, _)| e.clone());
        self.report(pending, error);
    }
}

pub(crate) struct ConsumerEvents {
    rebalances: Sender<Rebalanced>,
    /// Cleared when the loop stops; the callback then handles rebalances itself.
    loop_running: AtomicBool,
    topic: String,
    stage: &'static str,
    health: Arc<Health>,
    metrics: Metrics,
}

impl ConsumerEvents {
    pub fn new(
        rebalances: Sender<Rebalanced>,
        topic: String,
        stage: &'static str,
        health: Arc<Health>,
        metrics: Metrics,
    ) -> ConsumerEvents {
        ConsumerEvents {
            rebalances,
            loop_running: AtomicBool::new(true),
            topic,
            stage,
            health,
            metrics,
        }
    }

    /// The loop stopped: later rebalances (the one closing the consumer) are handled here.
    pub fn loop_stopped(&self) {
        self.loop_running.store(false, Ordering::SeqCst);
    }

    fn partitions(&self, tpl: &TopicPartitionList) -> Vec<i32> {
        let mut partitions: Vec<i32> = tpl
            .elements_for_topic(&self.topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        partitions.sort_unstable();
        partitions
    }
}

impl ClientContext for ConsumerEvents {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.health.connected.store(false, Ordering::SeqCst);
        }
        error!(stage = self.stage, error = %error, reason, "Kafka client error");
    }

    /// Consumer lag from librdkafka's statistics (every `statistics.interval.ms`), which
    /// use the high watermark of the last fetch response: asking the broker for watermarks
    /// would block the processing loop, and tansu could take seconds to answer.
    fn stats(&self, statistics: Statistics) {
        // Real brokers have node ids >= 0; the bootstrap entries do not.
        let up = statistics
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP");
        self.health.connected.store(up, Ordering::SeqCst);
        let Some(topic) = statistics.topics.get(&self.topic) else {
            return;
        };
        for partition in topic.partitions.values() {
            // Unassigned partitions and the internal "-1" partition report a lag of -1.
            if partition.partition >= 0 && partition.consumer_lag >= 0 {
                self.metrics
                    .consumer_lag
                    .with_label_values(&[&self.topic, &partition.partition.to_string()])
                    .set(partition.consumer_lag);
            }
        }
    }
}

impl ConsumerContext for ConsumerEvents {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let event = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                Rebalanced::Assigned(self.partitions(tpl))
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                Rebalanced::Revoked(self.partitions(tpl))
            }
            other => Rebalanced::Failed(RDKafkaErrorCode::from(other).to_string()),
        };
        if self.loop_running.load(Ordering::SeqCst) && self.rebalances.send(event.clone()).is_ok() {
            return;
        }
        // No loop to hand it to: do what librdkafka's default handler does.
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match (&event, cooperative) {
            (Rebalanced::Assigned(_), true) => consumer.incremental_assign(tpl),
            (Rebalanced::Assigned(_), false) => consumer.assign(tpl),
            (Rebalanced::Revoked(_), true) => consumer.incremental_unassign(tpl),
            _ => consumer.unassign(),
        };
        if let Err(e) = result {
            warn!(stage = self.stage, error = %e, "Rebalance after the stage stopped failed");
        }
    }
}
