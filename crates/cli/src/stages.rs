//! The stages' logic on Kafka records: each a [`earshot_kafka::Processor`] around one engine.

pub mod ahead;
pub mod analyze;
pub mod ingest;
pub mod process;
pub mod route;
