//! The `earshot` binary's library half: configuration, the commands, the pipeline stages
//! processors and the daemon plumbing (logging, admin HTTP, signals). The binary
//! (`main.rs`) only parses arguments; tests drive the same code through this library.

pub mod commands;
pub mod config_set;
pub mod daemon;
pub mod lines;
pub mod output;
pub mod reload;
pub mod settings;
pub mod stages;
pub mod topics;
pub mod validate;
