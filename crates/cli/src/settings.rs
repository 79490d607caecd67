//! The configuration file: one TOML file read with the `config` crate, every key overridable by
//! an `EARSHOT__SECTION__KEY` environment variable. Files it names (watchlists, lexicons) are
//! resolved relative to the configuration file's folder.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use earshot_analyze::learned::Model;
use earshot_analyze::{Analyzer, Lexicon, Problem, SentimentParams, SignalParams, Watchlists};
use serde::Deserialize;

use crate::validate::read_config_file;

/// The whole file. Unknown sections and keys are refused (a misspelt `[kafak]` or
/// `EARSHOT__ADMN__LISTEN` would otherwise be ignored without a word); [`crate::validate`]
/// lists every problem with its place before serde reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub analyze: AnalyzeSettings,
    pub route: RouteSettings,
    pub kafka: earshot_pipeline::KafkaConfig,
    /// Webhook server and stream clients (`earshot ingest serve`, `earshot ingest stream`).
    pub ingest: earshot_ingest::IngestSettings,
    pub admin: AdminSettings,
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

    /// Loads the lexicon and watchlists the settings name, collecting every problem.
    pub fn load_analyze_inputs(&self) -> (Lexicon, Watchlists, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut lexicon = if self.analyze.no_builtin_lexicon {
            Lexicon::empty()
        } else {
            Lexicon::builtin()
        };
        for file in &self.analyze.lexicon {
            let path = self.resolve(file);
            match read_config_file(&path) {
                Ok(source) => {
                    if let Err(mut p) = lexicon.load_user_file(&path.display().to_string(), &source)
                    {
                        problems.append(&mut p);
                    }
                }
                Err(why) => problems.push(Problem::new(&path.display().to_string(), (0, 0), why)),
            }
        }
        let watchlists = match &self.analyze.watchlists {
            None => Watchlists::empty(),
            Some(file) => {
                let path = self.resolve(file);
                match read_config_file(&path) {
                    Ok(source) => match Watchlists::parse(&path.display().to_string(), &source) {
                        Ok(w) => w,
                        Err(mut p) => {
                            problems.append(&mut p);
                            Watchlists::empty()
                        }
                    },
                    Err(why) => {
                        problems.push(Problem::new(&path.display().to_string(), (0, 0), why));
                        Watchlists::empty()
                    }
                }
            }
        };
        (lexicon, watchlists, problems)
    }

    /// Builds the analyzer, or fails listing every problem.
    pub fn analyzer(&self) -> Result<Analyzer> {
        let (lexicon, watchlists, mut problems) = self.load_analyze_inputs();
        let model = self.load_model().unwrap_or_else(|p| {
            problems.push(p);
            None
        });
        if !problems.is_empty() {
            bail!("{}", render_problems(&problems));
        }
        let analyzer = Analyzer::with_params(
            &lexicon,
            watchlists,
            self.analyze.sentiment,
            self.analyze.signals,
        )?
        .with_explained_features(self.analyze.explain_features);
        Ok(match model {
            Some(model) => analyzer.with_model(model),
            None => analyzer,
        })
    }

    /// The model `[analyze] model` names: the built-in one, none, or a file.
    pub fn load_model(&self) -> std::result::Result<Option<Model>, Problem> {
        match &self.analyze.model {
            ModelChoice::None => Ok(None),
            ModelChoice::Builtin => Model::builtin()
                .map(Some)
                .map_err(|e| Problem::new("built-in model", (0, 0), e.to_string())),
            ModelChoice::File(file) => {
                let path = self.resolve(file);
                load_model_file(&path).map(Some)
            }
        }
    }
}

/// The route files named by the settings, read; a file that cannot be read is a problem.
#[derive(Debug)]
pub struct RouteFiles {
    pub names: Vec<String>,
    pub texts: Vec<String>,
}

impl RouteFiles {
    pub fn as_config_files(&self) -> Vec<earshot_route::ConfigFile<'_>> {
        self.names
            .iter()
            .zip(&self.texts)
            .map(|(name, text)| earshot_route::ConfigFile { name, text })
            .collect()
    }
}

impl Settings {
    pub fn read_route_files(&self) -> (RouteFiles, Vec<Problem>) {
        let mut files = RouteFiles {
            names: Vec::new(),
            texts: Vec::new(),
        };
        let mut problems = Vec::new();
        for file in &self.route.files {
            let path = self.resolve(file);
            let name = path.display().to_string();
            match read_config_file(&path) {
                Ok(text) => {
                    files.names.push(name);
                    files.texts.push(text);
                }
                Err(why) => problems.push(Problem::new(&name, (0, 0), why)),
            }
        }
        (files, problems)
    }

    /// Builds the router for the analyzer's watchlists, or fails listing every problem.
    /// Warnings (a shadowed rule, a queue without an SLA target) go to stderr.
    pub fn router(&self, analyzer: &Analyzer) -> Result<earshot_route::Router> {
        let (files, problems) = self.read_route_files();
        if !problems.is_empty() {
            bail!("{}", render_problems(&problems));
        }
        if files.names.is_empty() {
            bail!("no route configuration: set [route] files = [\"rules.toml\", …] in the configuration");
        }
        let known: Vec<&str> = analyzer.watchlists().ids().collect();
        match earshot_route::Router::from_files(&files.as_config_files(), Some(&known)) {
            Ok((router, warnings)) => {
                if !warnings.is_empty() {
                    crate::output::note(format_args!("{warnings}"))?;
                }
                Ok(router)
            }
            Err(diagnostics) => bail!("problems in the route configuration:\n{diagnostics}"),
        }
    }
}

/// Reads a model file; a problem names the file and what is wrong with it.
pub fn load_model_file(path: &Path) -> std::result::Result<Model, Problem> {
    let name = path.display().to_string();
    let bytes = read_regular_file(path).map_err(|e| Problem::new(&name, (0, 0), e))?;
    earshot_analyze::learned::from_bytes(&bytes)
        .map_err(|e| Problem::new(&name, (0, 0), e.to_string()))
}

/// Reads a file, refusing what is not a regular file (a FIFO would block for ever).
fn read_regular_file(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("cannot read: not a regular file".into());
    }
    std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
}

pub fn render_problems(problems: &[Problem]) -> String {
    let mut out = format!("{} problem(s) in the configuration:", problems.len());
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&crate::validate::clip(&p.to_string()));
    }
    out
}

/// Loads settings and builds the analyzer in one step, for commands that only analyse.
pub fn analyzer_from(config: Option<&Path>) -> Result<Analyzer> {
    Settings::load(config)?.analyzer()
}
