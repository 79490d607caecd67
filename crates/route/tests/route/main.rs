//! Integration tests of earshot-route through its public API, in one binary (one link).

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod calendar;
mod clock;
mod config;
mod folding;
mod holidays;
mod output;
mod rules;
mod spike;
mod state;
mod support;
