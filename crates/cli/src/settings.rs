//! The configuration file: one TOML file read with the `config` crate, every key overridable by
//! an `EARSHOT__SECTION__KEY` environment variable. Files it names (watchlists, lexicons) are
//! resolved relative to the configuration file's folder.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use earshot_analyze::{Analyzer, Problem, SentimentParams, SignalParams};
use serde::Deserialize;

pub use crate::config_set::render_problems;
use crate::config_set::{ConfigSet, Need};

/// The whole file. Unknown sections and keys are refused (a misspelt `[kafak]` or
/// `EARSHOT__ADMN__LISTEN` would otherwise be ignored without a word); [`crate::validate`]
/// lists every problem with its place before serde reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub analyze: AnalyzeSettings,
    pub route: RouteSettings,
    /// How `earshot run` and `earshot demo` chain analyze and route.
    pub pipeline: PipelineSettings,
    pub kafka: earshot_pipeline::KafkaConfig,
    /// Webhook server and stream clients (`earshot ingest serve`, `earshot ingest stream`).
    pub ingest: earshot_ingest::IngestSettings,
    pub admin: AdminSettings,
    /// Hot reload of watchlists, lexicons, model and route files (SIGHUP, file changes).
    pub reload: ReloadSettings,
    pub log: LogSettings,
    /// How large a post may be, everywhere posts are read.
    pub limits: earshot_model::PostLimits,
    /// The folder relative paths are resolved against.
    #[serde(skip)]
    pub base: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyzeSettings {
    /// The watchlist file (TOML).
    pub watchlists: Option<PathBuf>,
    /// Lexicon files (TOML) that add to or override the built-in lexicon, applied in order.
    pub lexicon: Vec<PathBuf>,
    /// Leave out the built-in lexicon (only the files above are used).
    pub no_builtin_lexicon: bool,
    /// Scorer knobs; the defaults are tuned, see docs/analyze.md.
    pub sentiment: SentimentParams,
    pub signals: SignalParams,
    /// The learned model that decides sentiment, intents and flags: `builtin` (the one
    /// shipped with Earshot), `none` (the lexicon's rules decide), or a model file made by
    /// `earshot train`.
    pub model: ModelChoice,
    /// How many features the explanation lists per model decision (0: none).
    pub explain_features: usize,
    /// Whether scored posts carry their explanation (lexicon hits, urgency and influence
    /// reasons, hashtags, mentions, links, the model's features). Off by default: routing
    /// reads only the scores, and the explanation is most of a scored record's size and of
    /// the time spent making it. `earshot score --explain` and `earshot explain` turn it on.
    pub explain: bool,
    /// Threads that score records ahead for each analysing stage (the fused stage, the
    /// analyze stage), beside the stage's own thread, which then routes and produces them
    /// in order. 0: the stage's thread scores each record itself. 1 by default: even on two
    /// cores shared with the broker, one scoring thread made the fused stage 10–15% faster.
    pub threads: usize,
}

/// Which model the analyzer uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ModelChoice {
    #[default]
    Builtin,
    None,
    File(PathBuf),
}

impl<'de> Deserialize<'de> for ModelChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(ModelChoice::parse(&s))
    }
}

impl ModelChoice {
    pub fn parse(s: &str) -> ModelChoice {
        match s {
            "builtin" | "" => ModelChoice::Builtin,
            "none" => ModelChoice::None,
            path => ModelChoice::File(PathBuf::from(path)),
        }
    }
}

impl Default for AnalyzeSettings {
    fn default() -> Self {
        AnalyzeSettings {
            watchlists: None,
            lexicon: Vec::new(),
            no_builtin_lexicon: false,
            sentiment: SentimentParams::default(),
            signals: SignalParams::default(),
            model: ModelChoice::Builtin,
            explain_features: 3,
            explain: false,
            threads: 1,
        }
    }
}

/// Where the route configuration lives: TOML files read as one (rules, queues, calendars,
/// author lists, folding and spike settings; see docs/rules.md).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteSettings {
    pub files: Vec<PathBuf>,
    /// `wall`: the route stage's clock is the time now (live operation). `event`: it is the
    /// posts' `created_at` (never going backwards), for replays of history through the
    /// pipeline; `earshot demo` uses it.
    pub clock: RouteClock,
}

pub use earshot_pipeline::RouteClock;

/// The `[pipeline]` section: the shape of the pipeline in one process.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineSettings {
    /// `fused` (the default): `earshot run` runs analyze → route in one consumer of the raw
    /// topic, as `earshot process` does. `split`: it runs the analyze and route stages,
    /// through the scored topic, as `earshot analyze` and `earshot route` do.
    pub shape: Shape,
    /// The fused stage also writes every scored post to the scored topic, for other
    /// consumers of it (`earshot process`, and `earshot run` when fused).
    pub tap_scored: bool,
}

/// How analyze and route are chained.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// One consumer of the raw topic runs both (one hop through Kafka).
    #[default]
    Fused,
    /// Two stages, through the scored topic (two hops; each scales apart).
    Split,
}

impl Shape {
    /// The stage that reads raw posts (its name in metrics).
    pub fn input_stage(self) -> &'static str {
        match self {
            Shape::Fused => "process",
            Shape::Split => "analyze",
        }
    }

    /// The stage that writes tickets, incidents and unrouted posts.
    pub fn output_stage(self) -> &'static str {
        match self {
            Shape::Fused => "process",
            Shape::Split => "route",
        }
    }
}

/// The admin HTTP server: `/metrics`, `/livez`, `/readyz`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    /// Address to listen on; empty to disable.
    pub listen: String,
    /// `/livez` fails when outputs have waited this long with no acknowledgement at all
    /// (the broker accepts connections but does not answer): a restart is worth trying.
    pub live_stall_seconds: u64,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            listen: "127.0.0.1:9464".into(),
            live_stall_seconds: 60,
        }
    }
}

/// Hot reload: the daemons (`analyze`, `route`, `run`) reload the files the configuration
/// names on SIGHUP and, with `watch`, when one of them changes (see docs/operations.md).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReloadSettings {
    /// Watch the files (and the folders they are in, for Kubernetes ConfigMap volumes) and
    /// reload when they change. SIGHUP reloads either way.
    pub watch: bool,
    /// How long the files must be quiet before a change is reloaded, so that an editor's or
    /// kubelet's several writes make one reload.
    pub debounce_ms: u64,
}

impl Default for ReloadSettings {
    fn default() -> Self {
        ReloadSettings {
            watch: true,
            debounce_ms: 500,
        }
    }
}

/// Logging: `tracing` events, human-readable or JSON lines; the level can be overridden
/// with `RUST_LOG`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

impl Settings {
    /// Reads the configuration file, or the defaults (plus environment) when there is none.
    /// Every problem of the file and of the `EARSHOT__…` variables is listed at once, each
    /// with its place ([`crate::validate`]).
    pub fn load(path: Option<&Path>) -> Result<Settings> {
        Settings::load_with_env(path, None)
    }

    /// [`Settings::load`] with `env` standing for the process environment (`EARSHOT__…`
    /// variables among other ones): what a container with that environment would read.
    pub fn load_with_env(
        path: Option<&Path>,
        env: Option<Vec<(String, String)>>,
    ) -> Result<Settings> {
        let vars: Vec<(String, String)> = match &env {
            Some(vars) => vars.clone(),
            None => std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        };
        let ours: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("EARSHOT__"))
            .collect();
        let problems = crate::validate::check(path, &ours);
        if !problems.is_empty() {
            bail!("{}", render_problems(&problems));
        }
        let mut builder = config::Config::builder();
        if let Some(path) = path {
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("EARSHOT")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(env.map(|vars| vars.into_iter().collect())),
        );
        let raw = builder.build().with_context(|| match path {
            Some(p) => format!("reading configuration {}", p.display()),
            None => "reading configuration from the environment".to_string(),
        })?;
        let mut settings: Settings = raw.try_deserialize().with_context(|| match path {
            Some(p) => format!("in configuration {}", p.display()),
            None => "in configuration from the environment".to_string(),
        })?;
        settings.base = path
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Ok(settings)
    }

    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    /// Builds the analyzer, or fails listing every problem of the files it needs.
    pub fn analyzer(&self) -> Result<Analyzer> {
        let set = ConfigSet::load(self, Need::Analyzer)?;
        Ok(Arc::into_inner(set.analyzer).expect("a set just loaded owns its analyzer"))
    }

    /// `analyzer` on the configured analysis threads.
    pub fn analysis(&self, analyzer: Arc<Analyzer>) -> crate::daemon::Analysis {
        crate::daemon::Analysis {
            analyzer,
            threads: self.analyze.threads,
        }
    }

    /// Builds the router for the analyzer's watchlists, or fails listing every problem.
    /// Warnings (a shadowed rule, a queue without an SLA target) go to stderr.
    pub fn router(&self, analyzer: &Analyzer) -> Result<earshot_route::Router> {
        let Some((config, warnings)) = crate::config_set::route_config(self, Some(analyzer))?
        else {
            bail!("no route configuration: set [route] files = [\"rules.toml\", …] in the configuration");
        };
        if !warnings.is_empty() {
            crate::output::note(format_args!("{}", render_warnings(&warnings)))?;
        }
        Ok(earshot_route::Router::new(config))
    }
}

/// Warnings, one a line.
pub fn render_warnings(warnings: &[Problem]) -> String {
    warnings
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Loads settings and builds the analyzer in one step, for commands that only analyse.
pub fn analyzer_from(config: Option<&Path>) -> Result<Analyzer> {
    Settings::load(config)?.analyzer()
}
