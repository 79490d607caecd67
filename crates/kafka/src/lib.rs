//! Earshot on Kafka: the stage runner every stage shares, its delivery guarantees, dead
//! letters, metrics, and an embedded broker.
//!
//! * [`run_stage`] consumes an input topic as a consumer group, hands each record to a
//!   [`Processor`], produces its [`Output`]s, and stores the input offset only once they are
//!   all acknowledged (at-least-once), or commits outputs and offsets in one transaction
//!   (exactly-once, [`DeliveryMode::ExactlyOnce`]). A record the processor rejects goes to
//!   the dead-letter topic with its reason; the partition moves on.
//! * [`OffsetTracker`] is the pure bookkeeping behind "store offsets only after outputs are
//!   acknowledged, in order, per partition, never past a failure".
//! * [`EmbeddedKafka`] is librdkafka's mock cluster: a real-protocol broker in-process for
//!   `earshot demo` and the tests.
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
//! let spec = StageSpec { name: "upper", input_topic: "lower".into(), group_id: "upper".into(), instance_id: None };
//! let report = run_stage(&spec, &KafkaSettings::default(), Upper, &Shutdown::new(), &Health::new(), &Metrics::unregistered());
//! ```

mod embedded;
mod error;
mod metrics;
mod offsets;
mod record;
mod runner;
mod settings;

pub use embedded::EmbeddedKafka;
pub use error::StageError;
pub use metrics::Metrics;
pub use offsets::OffsetTracker;
pub use record::*;
pub use runner::{
    client_config, is_permanent, run_stage, ClientRole, Health, Shutdown, StageReport, StageSpec,
    READY_STALL,
};
pub use settings::{DeliveryMode, Groups, InternalErrorPolicy, KafkaSettings, Topics};
