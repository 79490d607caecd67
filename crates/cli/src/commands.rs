//! One module per subcommand.

pub mod check;
pub mod eval;
pub mod explain;
pub mod score;
pub mod triage;
