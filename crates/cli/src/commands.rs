//! One module per subcommand.

pub mod bench;
pub mod bench_state;
pub mod check;
pub mod demo;
pub mod eval;
pub mod explain;
pub mod ingest;
pub mod pipeline;
pub mod score;
pub mod serve;
pub mod stream;
pub mod tail;
pub mod train;
pub mod triage;
