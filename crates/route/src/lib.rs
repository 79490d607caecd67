//! route
mod authors;
mod calendar;
mod config;
mod error;
mod holidays_jp;
mod load;
mod rules;
mod tree;
pub use authors::AuthorLists;
pub use calendar::Calendar;
pub use config::{FoldingSettings, Loaded, Queue, RouteConfig, SpikeSettings};
pub use error::{Diagnostic, Diagnostics, RouteError, Severity};
pub use holidays_jp::{japanese_holidays, Holiday, JP_HOLIDAY_YEARS};
pub use load::ConfigFile;
pub use rules::{Actions, Conditions, Rule};
