//! A stage runner on Kafka: consume → process → produce, with at-least-once or exactly-once
//! delivery, dead letters, backpressure, rebalances that hand state over, graceful shutdown,
//! and an embedded broker. Nothing here knows what the records mean.
//!
//! * [`run_stage`] consumes an input topic as a consumer group and hands each record to a
//!   [`Processor`]. Its stage loop owns the consumer, the producer and a delivery strategy:
//!   at-least-once stores an input offset only once its outputs are all acknowledged;
//!   exactly-once commits outputs and offsets in one transaction
//!   ([`DeliveryMode::ExactlyOnce`]). A record the processor rejects goes to the dead-letter
//!   topic with its reason ([`DeadLetter`]); the partition moves on.
//! * A processor with state per partition restores it in [`Processor::assigned`] before the
//!   partition's first record and writes it as [`Output::state`] records, which at-least-once
//!   sends only after the record's other outputs are acknowledged.
//! * [`OffsetTracker`] is the pure bookkeeping behind "store offsets only after outputs are
//!   acknowledged, in order, per partition, never past a failure".
//! * [`Health`] is what a process reports to `/readyz` and `/livez`.
//! * [`EmbeddedKafka`] is librdkafka's mock cluster: a real-protocol broker in-process for
//!   demos and tests.
//!
//! ```no_run
//! use earshot_kafka::{run_stage, Health, Input, KafkaSettings, Metrics, Output, Processor, Reject, Shutdown, StageSpec};
//!
//! struct Upper;
//! impl Processor for Upper {
//!     fn process(&mut self, input: &Input<'_>, out: &mut Vec<Output>) -> Result<(), Reject> {
//!         let text = std::str::from_utf8(input.payload.unwrap_or_default())
//!             .map_err(|_| Reject::new("invalid_utf8", "payload is not UTF-8"))?;
//!         out.push(Output::new("upper", None, text.to_uppercase().into_bytes(), 1));
//!         Ok(())
//!     }
//! }
//!
//! let spec = StageSpec {
//!     name: "upper",
//!     input_topic: "lower".into(),
//!     group_id: "upper".into(),
//!     instance_id: None,
//!     dlq_topic: "lower.dlq".into(),
//! };
//! let report = run_stage(&spec, &KafkaSettings::default(), Upper, &Shutdown::new(), &Health::new(), &Metrics::unregistered());
//! ```

mod client;
mod dead_letter;
mod delivery;
mod embedded;
mod error;
mod events;
mod health;
mod metrics;
mod offsets;
mod record;
mod settings;
mod stage;

pub use client::{client_config, is_permanent, ClientRole, SetDefault};
pub use dead_letter::*;
pub use embedded::EmbeddedKafka;
pub use error::StageError;
pub use health::{Health, InputKind, Shutdown, READY_STALL};
pub use metrics::Metrics;
pub use offsets::OffsetTracker;
pub use record::*;
pub use settings::{DeliveryMode, InternalErrorPolicy, KafkaSettings};
pub use stage::{run_stage, StageReport, StageSpec};
