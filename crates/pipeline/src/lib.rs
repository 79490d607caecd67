//! What Earshot's stages share, above the generic stage runner (`earshot-kafka`):
//!
//! * [`KafkaConfig`] — the `[kafka]` section: the runner's [`KafkaSettings`] plus Earshot's
//!   topic and consumer-group names ([`Topics`], [`Groups`]).
//! * [`Metrics`] — the runner's metrics plus what the stages count in the user's terms
//!   (discarded posts, tickets, incidents, post→ticket latency).
//! * The pipeline core, pure (no I/O, the clock passed in): [`score`] is analyze →
//!   relevance, [`Routing`] is route on the stage's [`RouteClock`], and [`Pipeline`] is both,
//!   as `earshot triage` and the end-to-end tests' oracle run them; the Kafka stages call
//!   the same functions, so the three cannot drift apart.
//!
//! ```
//! use earshot_pipeline::{Pipeline, Pushed};
//! use earshot_analyze::Analyzer;
//! use earshot_model::Post;
//! use earshot_route::Router;
//!
//! let watchlists = earshot_analyze::Watchlists::parse("w.toml", r#"
//! [[watchlist]]
//! id = "hoshizora"
//! [watchlist.terms]
//! brand = ["星空モバイル"]
//! "#).unwrap();
//! let analyzer = Analyzer::new(&earshot_analyze::Lexicon::builtin(), watchlists).unwrap();
//! let rules = r#"
//! [[queue]]
//! id = "support"
//! [[rule]]
//! id = "all"
//! watchlist = "hoshizora"
//! queue = "support"
//! priority = "P3"
//! "#;
//! let (router, _) = Router::from_files(&[earshot_route::ConfigFile { name: "r.toml", text: rules }], None).unwrap();
//! let mut pipeline = Pipeline::new(std::sync::Arc::new(analyzer), router);
//! let post = Post {
//!     id: "1".into(),
//!     text: "星空モバイル 繋がらない".into(),
//!     created_at: Some("2026-05-01T09:00:00Z".parse().unwrap()),
//!     ..Post::default()
//! };
//! let mut out = Vec::new();
//! assert_eq!(pipeline.push(post, &mut out), Pushed::Routed);
//! assert!(matches!(out[0], earshot_route::RouteOutput::Ticket(_)));
//! ```

mod core;
mod kafka;
mod metrics;

pub use crate::core::{score, EventClock, Pipeline, Pushed, RouteClock, Routing};
pub use crate::kafka::{Groups, KafkaConfig, Topics};
pub use crate::metrics::Metrics;
pub use earshot_kafka::KafkaSettings;
