//! Hot reload: watchlists, lexicons, the model and the route files change while the daemons
//! run, on SIGHUP or when a file changes ([`watch`]).
//!
//! A reload reads the main configuration again and loads the whole [`ConfigSet`] it names,
//! with the checks of start-up and `earshot check`. A set with any problem is refused: every
//! problem is logged (`file:line:column`), `earshot_config_reloads_total{result="refused"}`
//! counts it, and the set in force stays. A valid set with a new version is published to the
//! stages ([`Reloader::subscribe`]); each stage swaps it in between two records
//! ([`swap::Reloading`]), so no record is processed with half a configuration. Route keeps
//! its open conversations, spike state and incidents across the swap
//! (`Router::reconfigure`).
//!
//! What the set does not hold (Kafka, the admin server, logging, limits, the route clock)
//! needs a restart: a reload that finds them changed says so and leaves them as they are.

pub mod swap;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use tokio::sync::watch as channel;
use tracing::{error, info, warn};

use crate::config_set::{render_problems, ConfigSet, Need};
use crate::settings::{render_warnings, Settings};

/// What the stages are handed: the set in force, changed by each reload that succeeds.
pub type Updates = channel::Receiver<Arc<ConfigSet>>;

/// What one reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new set was published to the stages.
    Swapped { from: String, to: String },
    /// The files hold what is in force already (an editor's temporary file, a touch).
    Unchanged { version: String },
    /// The new set has problems (or the main configuration does); the old one stays.
    Refused { problems: String },
}

impl Outcome {
    /// The `result` label: `ok`, `refused`; `None` for a reload that changed nothing.
    pub fn label(&self) -> Option<&'static str> {
        match self {
            Outcome::Swapped { .. } => Some("ok"),
            Outcome::Refused { .. } => Some("refused"),
            Outcome::Unchanged { .. } => None,
        }
    }
}

/// The reload metrics, registered once per process.
#[derive(Debug, Clone)]
pub struct ReloadMetrics {
    /// `earshot_config_reloads_total{result}`: reloads that swapped a new set in (`ok`) or
    /// refused one (`refused`).
    pub reloads: IntCounterVec,
    /// `earshot_config_info{version}`: 1 for the version in force.
    pub info: IntGaugeVec,
    /// `earshot_config_last_reload_refused`: 1 while the files on disk are a set that was
    /// refused (a restart would fail on them), 0 once a reload succeeds or finds the set in
    /// force again.
    pub refused: IntGauge,
}

impl ReloadMetrics {
    pub fn register(registry: &Registry) -> Result<ReloadMetrics> {
        let reloads = IntCounterVec::new(
            Opts::new(
                "earshot_config_reloads_total",
                "Configuration reloads (SIGHUP, file change) by result: ok (a new set is in force), refused (the old one stays)",
            ),
            &["result"],
        )?;
        let info = IntGaugeVec::new(
            Opts::new(
                "earshot_config_info",
                "1 for the version (SHA-256 of the files read) of the configuration set in force",
            ),
            &["version"],
        )?;
        let refused = IntGauge::new(
            "earshot_config_last_reload_refused",
            "1 while the last reload refused the files on disk (the old set stays in force; a restart would fail), else 0",
        )?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(info.clone()))?;
        registry.register(Box::new(refused.clone()))?;
        // Both results exist from the start, so that an alert sees the first increase.
        for result in ["ok", "refused"] {
            reloads.with_label_values(&[result]);
        }
        Ok(ReloadMetrics {
            reloads,
            info,
            refused,
        })
    }

    /// Metrics on a registry nobody reads (tests).
    pub fn unregistered() -> ReloadMetrics {
        ReloadMetrics::register(&Registry::new()).expect("a fresh registry takes them")
    }

    fn in_force(&self, version: &str) {
        self.info.reset();
        self.info.with_label_values(&[version]).set(1);
    }
}

/// Owns the set in force and replaces it: reloads the files, decides, publishes, counts.
#[derive(Debug)]
pub struct Reloader {
    /// The main configuration file, read again at each reload (`None`: the environment only).
    config: Option<PathBuf>,
    need: Need,
    /// The main configuration as read at start-up, to tell what needs a restart.
    started_with: toml::Table,
    sender: channel::Sender<Arc<ConfigSet>>,
    /// Every file a set was read from, in force or refused, and the main configuration.
    watched: Vec<PathBuf>,
    metrics: ReloadMetrics,
}

impl Reloader {
    /// A reloader for `set`, loaded from `config` for `need` at start-up.
    pub fn new(
        config: Option<&Path>,
        need: Need,
        set: ConfigSet,
        metrics: ReloadMetrics,
    ) -> Reloader {
        metrics.in_force(&set.version);
        metrics.refused.set(0);
        let watched = with_main(config, &set.files);
        let (sender, _) = channel::channel(Arc::new(set));
        Reloader {
            config: config.map(Path::to_path_buf),
            need,
            started_with: main_table(config).unwrap_or_default(),
            sender,
            watched,
            metrics,
        }
    }

    /// What a stage follows: the set in force now, and each one swapped in later.
    pub fn subscribe(&self) -> Updates {
        self.sender.subscribe()
    }

    /// The set in force.
    pub fn current(&self) -> Arc<ConfigSet> {
        self.sender.borrow().clone()
    }

    /// The files to watch: those of the sets read so far, and the main configuration.
    pub fn watched(&self) -> &[PathBuf] {
        &self.watched
    }

    /// Reads the configuration and its files again; publishes the set when it is valid and
    /// new. `why` (`SIGHUP`, `file change`) goes into the log.
    pub fn reload(&mut self, why: &str) -> Outcome {
        let outcome = self.try_reload();
        if let Some(result) = outcome.label() {
            self.metrics.reloads.with_label_values(&[result]).inc();
        }
        match &outcome {
            Outcome::Swapped { from, to } => {
                self.metrics.refused.set(0);
                self.metrics.in_force(to);
                info!(trigger = why, from = %from, to = %to, "Configuration reloaded; the stages swap it in between two records");
            }
            Outcome::Unchanged { version } => {
                self.metrics.refused.set(0);
                info!(trigger = why, version = %version, "Configuration reloaded: unchanged");
            }
            Outcome::Refused { problems } => {
                self.metrics.refused.set(1);
                let version = self.current().version.clone();
                error!(trigger = why, version = %version, "Configuration reload refused; the configuration in force stays. {problems}");
            }
        }
        outcome
    }

    fn try_reload(&mut self) -> Outcome {
        let settings = match Settings::load(self.config.as_deref()) {
            Ok(settings) => settings,
            Err(e) => {
                return Outcome::Refused {
                    problems: format!("{e:#}"),
                }
            }
        };
        if let Some(now) = main_table(self.config.as_deref()) {
            let changed = restart_needed(&self.started_with, &now);
            if !changed.is_empty() {
                warn!(
                    sections = %changed.join(", "),
                    "These settings changed but are not reloaded: they take effect at the next restart"
                );
            }
        }
        let (loaded, files) = ConfigSet::load_watching(&settings, self.need);
        for file in with_main(self.config.as_deref(), &files) {
            if !self.watched.contains(&file) {
                self.watched.push(file);
            }
        }
        let set = match loaded {
            Ok(set) => set,
            Err(problems) => {
                return Outcome::Refused {
                    problems: render_problems(&problems.0),
                }
            }
        };
        let from = self.current().version.clone();
        if set.version == from {
            return Outcome::Unchanged { version: from };
        }
        if !set.warnings.is_empty() {
            warn!("{}", render_warnings(&set.warnings));
        }
        // A new queue writes to a topic of its own: made before the first ticket for it, as
        // at start-up (with `[kafka] create_topics`; otherwise it must exist already).
        if self.need == Need::Router {
            if let Err(e) = crate::topics::ensure(&settings) {
                return Outcome::Refused {
                    problems: format!("creating the topics of the new set: {e:#}"),
                };
            }
        }
        let to = set.version.clone();
        self.sender.send_replace(Arc::new(set));
        Outcome::Swapped { from, to }
    }
}

/// `files` and the main configuration.
fn with_main(config: Option<&Path>, files: &[PathBuf]) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = config.map(Path::to_path_buf).into_iter().collect();
    for file in files {
        if !all.contains(file) {
            all.push(file.clone());
        }
    }
    all
}

/// The main configuration file as a table, when there is one and it parses (a reload that
/// cannot read it is refused by `Settings::load` with the reason).
fn main_table(config: Option<&Path>) -> Option<toml::Table> {
    let text = std::fs::read_to_string(config?).ok()?;
    text.parse().ok()
}

/// The settings of the main configuration that differ between `old` and `new` and that a
/// reload does not apply: every section but `[analyze]` and `[route] files`, which name and
/// shape the set. Section names (`[kafka]`, `[route] clock`), in order.
pub fn restart_needed(old: &toml::Table, new: &toml::Table) -> Vec<String> {
    let mut sections: Vec<&String> = old.keys().chain(new.keys()).collect();
    sections.sort();
    sections.dedup();
    let mut changed = Vec::new();
    for section in sections {
        let (a, b) = (old.get(section), new.get(section));
        match section.as_str() {
            "analyze" => {}
            "route" => {
                let key = |t: Option<&toml::Value>, k: &str| {
                    t.and_then(toml::Value::as_table)
                        .and_then(|t| t.get(k))
                        .cloned()
                };
                let keys = |t: Option<&toml::Value>| -> Vec<String> {
                    t.and_then(toml::Value::as_table)
                        .map(|t| t.keys().filter(|k| *k != "files").cloned().collect())
                        .unwrap_or_default()
                };
                let mut names = keys(a);
                names.extend(keys(b));
                names.sort();
                names.dedup();
                for name in names {
                    if key(a, &name) != key(b, &name) {
                        changed.push(format!("[route] {name}"));
                    }
                }
            }
            _ if a != b => changed.push(format!("[{section}]")),
            _ => {}
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().expect("test TOML parses")
    }

    #[test]
    fn only_what_a_set_is_not_made_of_needs_a_restart() {
        let old = table(
            "[analyze]\nwatchlists = \"a.toml\"\n[route]\nfiles = [\"r.toml\"]\nclock = \"wall\"\n[kafka]\nbrokers = \"b:9092\"\n",
        );
        let same_but_files = table(
            "[analyze]\nwatchlists = \"b.toml\"\n[analyze.sentiment]\nalpha = 2.0\n[route]\nfiles = [\"s.toml\", \"t.toml\"]\nclock = \"wall\"\n[kafka]\nbrokers = \"b:9092\"\n",
        );
        assert_eq!(restart_needed(&old, &same_but_files), Vec::<String>::new());
        let more = table(
            "[analyze]\nwatchlists = \"a.toml\"\n[route]\nfiles = [\"r.toml\"]\nclock = \"event\"\n[kafka]\nbrokers = \"c:9092\"\n[admin]\nlisten = \"0.0.0.0:1\"\n",
        );
        assert_eq!(
            restart_needed(&old, &more),
            ["[admin]", "[kafka]", "[route] clock"]
        );
        // A section that goes away is a change too.
        assert_eq!(
            restart_needed(&more, &table("")),
            ["[admin]", "[kafka]", "[route] clock"]
        );
    }

    /// The example configuration copied to a folder of its own, to edit.
    fn examples_copy() -> tempfile::TempDir {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let dir = tempfile::tempdir().expect("a temporary folder");
        for file in [
            "earshot.toml",
            "watchlists.toml",
            "lexicon.toml",
            "route.toml",
            "rules.toml",
        ] {
            std::fs::copy(examples.join(file), dir.path().join(file)).expect("copying");
        }
        dir
    }

    fn append(path: &Path, text: &str) {
        let mut old = std::fs::read_to_string(path).expect("reading");
        old.push_str(text);
        std::fs::write(path, old).expect("writing");
    }

    #[test]
    fn a_valid_set_is_published_an_invalid_one_refused_with_its_places() {
        let dir = examples_copy();
        let config = dir.path().join("earshot.toml");
        let settings = Settings::load(Some(&config)).expect("the example loads");
        let set = ConfigSet::load(&settings, Need::Router).expect("the example set loads");
        let metrics = ReloadMetrics::unregistered();
        let mut reloader = Reloader::new(Some(&config), Need::Router, set, metrics.clone());
        let mut updates = reloader.subscribe();
        let first = reloader.current().version.clone();
        assert!(reloader.watched().contains(&config));
        assert!(reloader.watched().contains(&dir.path().join("rules.toml")));

        assert_eq!(
            reloader.reload("test"),
            Outcome::Unchanged {
                version: first.clone()
            }
        );
        assert!(!updates.has_changed().unwrap());

        // A new rule: a new version, handed to the stages.
        let rule = "\n[[rule]]\nid = \"reload-test\"\nwatchlist = \"hoshizora\"\nqueue = \"social_care\"\npriority = \"P3\"\n";
        append(&dir.path().join("rules.toml"), rule);
        let outcome = reloader.reload("test");
        let Outcome::Swapped { from, to } = outcome else {
            panic!("not swapped: {outcome:?}")
        };
        assert_eq!(from, first);
        assert_ne!(to, first);
        assert!(updates.has_changed().unwrap());
        let route = updates.borrow_and_update().route.clone().unwrap();
        assert!(route.rules.iter().any(|r| r.id == "reload-test"));
        assert_eq!(metrics.reloads.with_label_values(&["ok"]).get(), 1);
        assert_eq!(metrics.info.with_label_values(&[&to]).get(), 1);

        // Two broken files: refused with both places, the set in force stays.
        append(&dir.path().join("rules.toml"), "\n[[rule]]\nid = \"broken\"\nwatchlist = \"no-such-list\"\nqueue = \"social_care\"\npriority = \"P3\"\n");
        append(
            &dir.path().join("watchlists.toml"),
            "\n[[watchlist]]\nid = \"bad\"\nquery = \"$missing AND\"\n",
        );
        let Outcome::Refused { problems } = reloader.reload("test") else {
            panic!("not refused")
        };
        assert!(problems.contains("watchlists.toml:"), "{problems}");
        assert!(!updates.has_changed().unwrap(), "nothing handed over");
        assert_eq!(reloader.current().version, to);
        assert_eq!(metrics.reloads.with_label_values(&["refused"]).get(), 1);
        assert_eq!(metrics.refused.get(), 1);
        assert_eq!(metrics.info.with_label_values(&[&to]).get(), 1);

        // Fixing the watchlist leaves the unknown watchlist of the rule: refused with it.
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/watchlists.toml"),
            dir.path().join("watchlists.toml"),
        )
        .unwrap();
        let Outcome::Refused { problems } = reloader.reload("test") else {
            panic!("not refused")
        };
        assert!(problems.contains("rules.toml:"), "{problems}");
        assert!(problems.contains("no-such-list"), "{problems}");
        assert_eq!(metrics.reloads.with_label_values(&["refused"]).get(), 2);

        // A broken main configuration is refused too.
        append(&config, "\n[kafak]\n");
        assert!(matches!(reloader.reload("test"), Outcome::Refused { .. }));
        assert_eq!(reloader.current().version, to);
    }

    #[test]
    fn only_swaps_and_refusals_are_counted() {
        let swapped = Outcome::Swapped {
            from: "sha256:a".into(),
            to: "sha256:b".into(),
        };
        assert_eq!(swapped.label(), Some("ok"));
        let refused = Outcome::Refused {
            problems: "1 problem(s)".into(),
        };
        assert_eq!(refused.label(), Some("refused"));
        let unchanged = Outcome::Unchanged {
            version: "sha256:a".into(),
        };
        assert_eq!(unchanged.label(), None);
    }
}
