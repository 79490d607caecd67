//! The files the configuration names — watchlists, lexicons, the model, the route files —
//! read and checked as one set ([`ConfigSet`]). Every command loads them this one way, with
//! one kind of diagnostic ([`Problem`]: `file:line:column: message`): `earshot check` lists
//! them, the daemons refuse to start with them, and a reload refuses a new set with them
//! while the old one stays in force.
//!
//! The set carries a version, the SHA-256 of every file it read (a reload that changes
//! nothing changes no version), and the paths to watch for changes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use earshot_analyze::learned::Model;
use earshot_analyze::{Analyzer, Lexicon, Problem, Watchlists};
use earshot_route::{ConfigFile, Diagnostic, RouteConfig};
use sha2::{Digest, Sha256};

use crate::settings::{ModelChoice, Settings};
use crate::validate::{clip, read_config_file};

/// What a command needs of the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The analyzer only (score, explain, the analyze stage); route files are not read.
    Analyzer,
    /// The analyzer and a route configuration (triage, the route stage).
    Router,
    /// The analyzer, and the route configuration when one is named (`earshot check`).
    Everything,
}

/// Every problem of a set that could not be loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Problems(pub Vec<Problem>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&render_problems(&self.0))
    }
}

impl std::error::Error for Problems {}

/// A loaded, valid set.
#[derive(Debug, Clone)]
pub struct ConfigSet {
    pub analyzer: Arc<Analyzer>,
    /// The route configuration; `None` when none is named (or not asked for).
    pub route: Option<RouteConfig>,
    /// What is worth a look but does not stop the set (a shadowed rule, a queue without an
    /// SLA target).
    pub warnings: Vec<Problem>,
    /// `sha256:` and the first 12 hex digits of the hash of every file read.
    pub version: String,
    /// The files read, to watch for changes.
    pub files: Vec<PathBuf>,
    /// The model's name and version, or why there is none.
    pub model: String,
}

/// Reads files and keeps what a set is made of: their hash, their paths, every problem.
#[derive(Default)]
struct Reader {
    hash: Sha256,
    files: Vec<PathBuf>,
    problems: Vec<Problem>,
}

impl Reader {
    fn text(&mut self, path: &Path) -> Option<String> {
        self.files.push(path.to_path_buf());
        match read_config_file(path) {
            Ok(text) => {
                self.note(path, text.as_bytes());
                Some(text)
            }
            Err(why) => {
                self.problems
                    .push(Problem::new(&path.display().to_string(), (0, 0), why));
                None
            }
        }
    }

    fn bytes(&mut self, path: &Path) -> Option<Vec<u8>> {
        self.files.push(path.to_path_buf());
        match read_regular_file(path) {
            Ok(bytes) => {
                self.note(path, &bytes);
                Some(bytes)
            }
            Err(why) => {
                self.problems
                    .push(Problem::new(&path.display().to_string(), (0, 0), why));
                None
            }
        }
    }

    fn note(&mut self, path: &Path, bytes: &[u8]) {
        let name = path.display().to_string();
        self.hash.update((name.len() as u64).to_le_bytes());
        self.hash.update(name.as_bytes());
        self.hash.update((bytes.len() as u64).to_le_bytes());
        self.hash.update(bytes);
    }

    fn version(self) -> String {
        let digest = self.hash.finalize();
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}

impl ConfigSet {
    /// Reads and checks every file `settings` names that `need` asks for; every problem of
    /// every file, or the set.
    pub fn load(settings: &Settings, need: Need) -> Result<ConfigSet, Problems> {
        ConfigSet::load_watching(settings, need).0
    }

    /// [`ConfigSet::load`], with the files it read or tried to read whatever the outcome: a
    /// reload watches them even when it refused the set, so that fixing one is noticed.
    pub fn load_watching(
        settings: &Settings,
        need: Need,
    ) -> (Result<ConfigSet, Problems>, Vec<PathBuf>) {
        let mut reader = Reader::default();
        // The scorer's knobs in the main configuration shape the analyzer as much as the
        // files do: a change of `[analyze] sentiment.alpha` is a new version too.
        let knobs = format!("{:?}", settings.analyze);
        reader.note(Path::new("[analyze]"), knobs.as_bytes());
        let (analyzer, model) = read_analyzer(settings, &mut reader);
        let mut warnings = Vec::new();
        let route = if need == Need::Analyzer {
            None
        } else {
            let known: Option<Vec<String>> = analyzer
                .as_ref()
                .map(|a| a.watchlists().ids().map(str::to_string).collect());
            read_route(settings, need, known.as_deref(), &mut reader, &mut warnings)
        };
        let files = reader.files.clone();
        if !reader.problems.is_empty() {
            return (Err(Problems(reader.problems)), files);
        }
        let Some(analyzer) = analyzer else {
            let why = Problem::new("the analyzer", (0, 0), "not built, for no reason given");
            return (Err(Problems(vec![why])), files);
        };
        let set = ConfigSet {
            analyzer: Arc::new(analyzer),
            route,
            warnings,
            files: files.clone(),
            version: reader.version(),
            model,
        };
        (Ok(set), files)
    }
}

/// Lexicon, watchlists and model, then the analyzer when they are all valid.
fn read_analyzer(settings: &Settings, reader: &mut Reader) -> (Option<Analyzer>, String) {
    let before = reader.problems.len();
    let a = &settings.analyze;
    let mut lexicon = if a.no_builtin_lexicon {
        Lexicon::empty()
    } else {
        Lexicon::builtin()
    };
    for file in &a.lexicon {
        let path = settings.resolve(file);
        if let Some(source) = reader.text(&path) {
            if let Err(mut p) = lexicon.load_user_file(&path.display().to_string(), &source) {
                reader.problems.append(&mut p);
            }
        }
    }
    let watchlists = match &a.watchlists {
        None => Watchlists::empty(),
        Some(file) => {
            let path = settings.resolve(file);
            let parsed = reader
                .text(&path)
                .map(|source| Watchlists::parse(&path.display().to_string(), &source));
            match parsed {
                Some(Ok(w)) => w,
                Some(Err(mut p)) => {
                    reader.problems.append(&mut p);
                    Watchlists::empty()
                }
                None => Watchlists::empty(),
            }
        }
    };
    let model = read_model(settings, reader);
    let name = match &model {
        Some(m) => format!("model {}", m.meta().name),
        None => "no model (lexicon rules decide)".into(),
    };
    if reader.problems.len() > before {
        return (None, name);
    }
    let analyzer = Analyzer::with_params(&lexicon, watchlists, a.sentiment, a.signals)
        .map(|analyzer| {
            analyzer
                .with_explained_features(a.explain_features)
                .with_explanation(a.explain)
        })
        .map(|analyzer| match model {
            Some(model) => analyzer.with_model(model),
            None => analyzer,
        });
    match analyzer {
        Ok(analyzer) => (Some(analyzer), name),
        Err(e) => {
            reader.problems.extend(e.problems().iter().cloned());
            if e.problems().is_empty() {
                reader
                    .problems
                    .push(Problem::new("the analyzer", (0, 0), e.to_string()));
            }
            (None, name)
        }
    }
}

/// The model `[analyze] model` names: the built-in one, none, or a file.
fn read_model(settings: &Settings, reader: &mut Reader) -> Option<Model> {
    match &settings.analyze.model {
        ModelChoice::None => None,
        ModelChoice::Builtin => match Model::builtin() {
            Ok(model) => Some(model),
            Err(e) => {
                reader
                    .problems
                    .push(Problem::new("built-in model", (0, 0), e.to_string()));
                None
            }
        },
        ModelChoice::File(file) => {
            let path = settings.resolve(file);
            let bytes = reader.bytes(&path)?;
            match earshot_analyze::learned::from_bytes(&bytes) {
                Ok(model) => Some(model),
                Err(e) => {
                    reader.problems.push(Problem::new(
                        &path.display().to_string(),
                        (0, 0),
                        e.to_string(),
                    ));
                    None
                }
            }
        }
    }
}

/// The route files, checked against the watchlists when they are known.
fn read_route(
    settings: &Settings,
    need: Need,
    known: Option<&[String]>,
    reader: &mut Reader,
    warnings: &mut Vec<Problem>,
) -> Option<RouteConfig> {
    let mut names = Vec::new();
    let mut texts = Vec::new();
    for file in &settings.route.files {
        let path = settings.resolve(file);
        if let Some(text) = reader.text(&path) {
            names.push(path.display().to_string());
            texts.push(text);
        }
    }
    if settings.route.files.is_empty() {
        if need == Need::Router {
            reader.problems.push(Problem::new(
                "the configuration",
                (0, 0),
                "no route configuration: set [route] files = [\"rules.toml\", …]",
            ));
        }
        return None;
    }
    let files: Vec<ConfigFile<'_>> = names
        .iter()
        .zip(&texts)
        .map(|(name, text)| ConfigFile { name, text })
        .collect();
    let known: Option<Vec<&str>> = known.map(|k| k.iter().map(String::as_str).collect());
    match RouteConfig::load(&files, known.as_deref()) {
        Ok(loaded) => {
            warnings.extend(loaded.warnings.0.iter().map(problem_of));
            Some(loaded.config)
        }
        Err(diagnostics) => {
            reader.problems.extend(diagnostics.errors().map(problem_of));
            warnings.extend(diagnostics.warnings().map(problem_of));
            None
        }
    }
}

/// The route configuration, checked against `analyzer`'s watchlists when given, with its
/// warnings; `None` when the settings name no route file.
pub fn route_config(
    settings: &Settings,
    analyzer: Option<&Analyzer>,
) -> Result<Option<(RouteConfig, Vec<Problem>)>, Problems> {
    let mut reader = Reader::default();
    let mut warnings = Vec::new();
    let known: Option<Vec<String>> =
        analyzer.map(|a| a.watchlists().ids().map(str::to_string).collect());
    let config = read_route(
        settings,
        Need::Everything,
        known.as_deref(),
        &mut reader,
        &mut warnings,
    );
    if !reader.problems.is_empty() {
        return Err(Problems(reader.problems));
    }
    Ok(config.map(|config| (config, warnings)))
}

/// A route diagnostic as a problem: its place, severity, code, message and the text.
pub fn problem_of(d: &Diagnostic) -> Problem {
    let mut message = format!("{}[{}]: {}", d.severity(), d.code(), d.error);
    if !d.text.is_empty() {
        message.push_str(&format!("\n      | {}", d.text));
    }
    Problem::new(&d.file, (d.line as usize, d.column as usize), message)
}

/// Reads a file, refusing what is not a regular file (a FIFO would block for ever).
fn read_regular_file(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("cannot read: not a regular file".into());
    }
    std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
}

/// Problems, one a line, each clipped: `N problem(s) in the configuration:` then each.
pub fn render_problems(problems: &[Problem]) -> String {
    let mut out = format!("{} problem(s) in the configuration:", problems.len());
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&clip(&p.to_string()));
    }
    out
}
