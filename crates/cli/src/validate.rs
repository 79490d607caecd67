//! Checking the main configuration before it is used: the file and the `EARSHOT__…`
//! environment overrides are read into one spanned tree ([`earshot_toml::Node`]) and walked
//! against [`SCHEMA`], so that every unknown section or key (`[kafak]`, `[Analyze]`), wrong
//! type, number out of range (`alpha = 0`, `exclamation = inf`) and unknown choice
//! (`level = "verbose"`) is reported at once, each with `file:line:column` or the variable
//! that set it. Only a file that passes is handed to the `config` crate to deserialise.
//!
//! Files named by the configuration are read with [`read_config_file`], which refuses
//! anything but a regular file of a sane size (a FIFO would block `earshot check`).

use std::ops::Range;
use std::path::Path;

use earshot_analyze::Problem;
use earshot_toml::{Entries, Node};
use toml::Spanned;

/// Configuration files larger than this are refused: no configuration is that large, and
/// reading it must not exhaust memory.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// What a key holds.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Bool,
    StrList,
    /// An integer in `min..=max`.
    Int(i64, i64),
    /// A finite number in the range; `open` excludes `min` (`alpha` must be above 0).
    Float {
        min: f64,
        max: f64,
        open: bool,
    },
    Choice(&'static [&'static str]),
    /// `tracing` filter directives: `info`, `earshot=debug,warn`.
    LogLevel,
    /// Pass-through librdkafka properties: any key, string values.
    Properties,
    Table(&'static [(&'static str, Kind)]),
    /// An array of tables (`[[ingest.x_stream.rules]]`), each with this schema.
    TableList(&'static [(&'static str, Kind)]),
}

const fn float(min: f64, max: f64) -> Kind {
    Kind::Float {
        min,
        max,
        open: false,
    }
}

const SENTIMENT: &[(&str, Kind)] = &[
    (
        "alpha",
        Kind::Float {
            min: 0.0,
            max: 1e6,
            open: true,
        },
    ),
    ("negation_en", float(-10.0, 10.0)),
    ("negation_ja", float(-10.0, 10.0)),
    ("scope_en_words", Kind::Int(0, 50)),
    ("scope_ja_negation_chars", Kind::Int(0, 50)),
    ("scope_ja_modifier_chars", Kind::Int(0, 50)),
    ("before_contrast", float(0.0, 10.0)),
    ("after_contrast", float(0.0, 10.0)),
    ("caps", float(0.0, 10.0)),
    ("exclamation", float(0.0, 10.0)),
    ("dead_zone", float(0.0, 100.0)),
    ("word_floor", float(0.0, 4.0)),
    ("question_weight", float(0.0, 10.0)),
    ("hit_damping", float(0.0, 10.0)),
    ("name_weight", float(0.0, 10.0)),
    ("cue_valence", float(0.0, 10.0)),
];

const SIGNALS: &[(&str, Kind)] = &[
    (
        "intent_threshold",
        Kind::Float {
            min: 0.0,
            max: 100.0,
            open: true,
        },
    ),
    ("question_mark", float(0.0, 100.0)),
    ("complaint_sentiment", float(-1.0, 1.0)),
    ("complaint_evidence", float(0.0, 100.0)),
    ("praise_sentiment", float(-1.0, 1.0)),
    ("praise_evidence", float(0.0, 100.0)),
];

const TOPICS: &[(&str, Kind)] = &[
    ("raw", Kind::Str),
    ("scored", Kind::Str),
    ("tickets_prefix", Kind::Str),
    ("incidents", Kind::Str),
    ("unrouted", Kind::Str),
    ("dlq", Kind::Str),
    ("signals", Kind::Str),
    ("changelog", Kind::Str),
];

const KAFKA: &[(&str, Kind)] = &[
    ("brokers", Kind::Str),
    ("topics", Kind::Table(TOPICS)),
    (
        "groups",
        Kind::Table(&[
            ("analyze", Kind::Str),
            ("route", Kind::Str),
            ("process", Kind::Str),
        ]),
    ),
    ("partitions", Kind::Int(1, 100_000)),
    ("replication_factor", Kind::Int(1, 100)),
    ("create_topics", Kind::Bool),
    ("delivery", Kind::Choice(&["at_least_once", "exactly_once"])),
    ("max_in_flight", Kind::Int(1, 10_000_000)),
    ("max_message_bytes", Kind::Int(16 * 1024, 1_000_000_000)),
    ("transaction_messages", Kind::Int(1, 1_000_000_000)),
    ("transaction_ms", Kind::Int(1, 3_600_000)),
    ("shutdown_seconds", Kind::Int(1, 86_400)),
    ("on_internal_error", Kind::Choice(&["dead_letter", "stop"])),
    ("properties", Kind::Properties),
    ("consumer", Kind::Properties),
    ("producer", Kind::Properties),
];

const INGEST: &[(&str, Kind)] = &[
    ("listen", Kind::Str),
    ("max_body_bytes", Kind::Int(1024, 1024 * 1024 * 1024)),
    ("ack_timeout_ms", Kind::Int(1, 3_600_000)),
    ("recent_ids", Kind::Int(0, 100_000_000)),
    ("batch_posts", Kind::Int(1, 1_000_000)),
    ("batch_ms", Kind::Int(0, 3_600_000)),
    (
        "line",
        Kind::Table(&[
            ("channel_secret", Kind::Str),
            ("channel_secret_file", Kind::Str),
        ]),
    ),
    (
        "meta",
        Kind::Table(&[
            ("app_secret", Kind::Str),
            ("app_secret_file", Kind::Str),
            ("verify_token", Kind::Str),
            ("verify_token_file", Kind::Str),
        ]),
    ),
    (
        "x",
        Kind::Table(&[
            ("consumer_secret", Kind::Str),
            ("consumer_secret_file", Kind::Str),
        ]),
    ),
    (
        "generic",
        Kind::Table(&[
            ("secret", Kind::Str),
            ("secret_file", Kind::Str),
            ("header", Kind::Str),
            ("platform", Kind::Str),
        ]),
    ),
    (
        "x_stream",
        Kind::Table(&[
            ("bearer_token", Kind::Str),
            ("bearer_token_file", Kind::Str),
            ("url", Kind::Str),
            (
                "rules",
                Kind::TableList(&[("value", Kind::Str), ("tag", Kind::Str)]),
            ),
            ("rules_from_watchlists", Kind::Bool),
            ("backfill_minutes", Kind::Int(0, 60)),
            ("keepalive_seconds", Kind::Int(1, 3600)),
        ]),
    ),
    (
        "bluesky",
        Kind::Table(&[
            ("url", Kind::Str),
            ("cursor_file", Kind::Str),
            ("overlap_seconds", Kind::Int(0, 86_400)),
            ("wanted_dids", Kind::StrList),
        ]),
    ),
    (
        "mastodon",
        Kind::Table(&[
            ("base_url", Kind::Str),
            ("access_token", Kind::Str),
            ("access_token_file", Kind::Str),
            ("timeline", Kind::Choice(&["public", "local", "hashtag"])),
            ("tag", Kind::Str),
            ("cursor_file", Kind::Str),
        ]),
    ),
];

/// Every section and key of the main configuration.
const SCHEMA: &[(&str, Kind)] = &[
    (
        "analyze",
        Kind::Table(&[
            ("watchlists", Kind::Str),
            ("lexicon", Kind::StrList),
            ("no_builtin_lexicon", Kind::Bool),
            ("sentiment", Kind::Table(SENTIMENT)),
            ("signals", Kind::Table(SIGNALS)),
            // `builtin`, `none` or a model file.
            ("model", Kind::Str),
            ("explain_features", Kind::Int(0, 1000)),
            ("explain", Kind::Bool),
            ("threads", Kind::Int(0, 256)),
        ]),
    ),
    (
        "route",
        Kind::Table(&[
            ("files", Kind::StrList),
            ("clock", Kind::Choice(&["wall", "event"])),
        ]),
    ),
    (
        "pipeline",
        Kind::Table(&[
            ("shape", Kind::Choice(&["fused", "split"])),
            ("tap_scored", Kind::Bool),
        ]),
    ),
    ("kafka", Kind::Table(KAFKA)),
    ("ingest", Kind::Table(INGEST)),
    (
        "admin",
        Kind::Table(&[
            ("listen", Kind::Str),
            ("live_stall_seconds", Kind::Int(1, 86_400)),
        ]),
    ),
    (
        "reload",
        Kind::Table(&[
            ("watch", Kind::Bool),
            ("debounce_ms", Kind::Int(0, 3_600_000)),
        ]),
    ),
    (
        "log",
        Kind::Table(&[
            ("format", Kind::Choice(&["human", "json"])),
            ("level", Kind::LogLevel),
        ]),
    ),
    (
        "limits",
        Kind::Table(&[
            ("max_text_bytes", Kind::Int(1, 16 * 1024 * 1024)),
            ("max_field_bytes", Kind::Int(1, 1024 * 1024)),
            ("max_record_bytes", Kind::Int(64, 100 * 1024 * 1024)),
            ("max_future_seconds", Kind::Int(0, 10 * 366 * 24 * 3600)),
        ]),
    ),
];

/// Reads a configuration file (the main one, watchlists, lexicons, route files): only a
/// regular file, at most [`MAX_CONFIG_BYTES`], UTF-8. The error is a sentence.
pub fn read_config_file(path: &Path) -> Result<String, String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !metadata.is_file() {
        return Err("cannot read: not a regular file (a folder, a FIFO or a device)".into());
    }
    if metadata.len() > MAX_CONFIG_BYTES {
        return Err(format!(
            "cannot read: {} bytes, more than the {MAX_CONFIG_BYTES} a configuration file may have",
            metadata.len()
        ));
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))
}

/// Where the environment's values live in the merged tree: spans from here on name the
/// `n`-th variable instead of a place in the file.
const ENV_SPANS: usize = usize::MAX / 2;

/// Every problem of the configuration file at `path` (if any) and of the `EARSHOT__…`
/// variables in `env`.
pub fn check(path: Option<&Path>, env: &[(String, String)]) -> Vec<Problem> {
    let (name, text) = match path {
        None => (String::from("<no file>"), String::new()),
        Some(path) => {
            let name = path.display().to_string();
            match read_config_file(path) {
                Ok(text) => (name, text),
                Err(why) => return vec![Problem::new(&name, (0, 0), why)],
            }
        }
    };
    let mut doc = match earshot_toml::parse(&text) {
        Ok(doc) => doc,
        Err((message, span)) => {
            let at = span.map_or(0, |s| s.start);
            return vec![Problem::at(&name, &text, at, clip(&message))];
        }
    };
    let mut env_names = Vec::new();
    let mut problems = Vec::new();
    for (var, value) in env {
        let path: Vec<String> = var.split("__").skip(1).map(str::to_lowercase).collect();
        let span = ENV_SPANS + env_names.len();
        env_names.push(var.clone());
        if path.is_empty() || path.iter().any(String::is_empty) {
            problems.push(env_problem(var, "is not of the form EARSHOT__SECTION__KEY"));
            continue;
        }
        insert(&mut doc, &path, Spanned::new(span..span, env_value(value)));
    }
    let mut checker = Checker {
        file: &name,
        text: &text,
        env_names: &env_names,
        problems,
    };
    checker.table("the configuration", &doc, SCHEMA);
    checker.problems
}

fn env_problem(var: &str, message: &str) -> Problem {
    Problem::new(&format!("environment variable {var}"), (0, 0), message)
}

/// An environment value typed as the `config` crate's `try_parsing` types it.
fn env_value(value: &str) -> Node {
    if let Ok(b) = value.parse::<bool>() {
        Node::Bool(b)
    } else if let Ok(i) = value.parse::<i64>() {
        Node::Int(i)
    } else if let Ok(f) = value.parse::<f64>() {
        Node::Float(f)
    } else {
        Node::Str(value.to_string())
    }
}

/// Sets `path` in `doc` to `value`, creating tables on the way (the variable wins over the
/// file, as in the `config` crate).
fn insert(doc: &mut Vec<(String, Spanned<Node>)>, path: &[String], value: Spanned<Node>) {
    let (first, rest) = path.split_first().expect("a non-empty path");
    let index = match doc.iter().position(|(k, _)| k == first) {
        Some(i) => i,
        None => {
            let span = value.span();
            doc.push((first.clone(), Spanned::new(span, Node::Table(Vec::new()))));
            doc.len() - 1
        }
    };
    if rest.is_empty() {
        doc[index].1 = value;
        return;
    }
    let span = doc[index].1.span();
    let mut entries =
        match std::mem::replace(&mut doc[index].1, Spanned::new(0..0, Node::Bool(false)))
            .into_inner()
        {
            Node::Table(entries) => entries,
            // A variable that goes below a value: the value is replaced by a table.
            _ => Vec::new(),
        };
    insert(&mut entries, rest, value);
    doc[index].1 = Spanned::new(span, Node::Table(entries));
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    env_names: &'a [String],
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, span: Range<usize>, message: String) {
        let message = clip(&message);
        let problem = match span.start.checked_sub(ENV_SPANS) {
            Some(i) => env_problem(&self.env_names[i], &message),
            None => Problem::at(self.file, self.text, span.start, message),
        };
        self.problems.push(problem);
    }

    fn table(&mut self, what: &str, entries: &Entries, schema: &[(&str, Kind)]) {
        for (key, value) in entries {
            match schema.iter().find(|(k, _)| k == key) {
                Some((_, kind)) => self.value(&format!("{what}.{key}"), key, value, *kind),
                None => {
                    let known: Vec<&str> = schema.iter().map(|(k, _)| *k).collect();
                    let hint = known
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(key) || close(k, key))
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default();
                    self.report(
                        value.span(),
                        format!(
                            "unknown key `{key}` in {}{hint}; known: {}",
                            what.trim_start_matches("the configuration."),
                            known.join(", ")
                        ),
                    );
                }
            }
        }
    }

    fn value(&mut self, path: &str, key: &str, node: &Spanned<Node>, kind: Kind) {
        let path = path.trim_start_matches("the configuration.");
        let wrong = |expected: &str| {
            format!(
                "`{path}` must be {expected}, found {}",
                node.get_ref().type_name()
            )
        };
        let span = node.span();
        match (kind, node.get_ref()) {
            (Kind::Str, Node::Str(_)) | (Kind::Bool, Node::Bool(_)) => {}
            // A variable is text: `EARSHOT__KAFKA__GROUPS__ROUTE=2026` is the string "2026".
            (Kind::Str, Node::Int(_) | Node::Float(_) | Node::Bool(_))
                if span.start >= ENV_SPANS => {}
            (Kind::Str, _) => self.report(span, wrong("a string")),
            (Kind::Bool, _) => self.report(span, wrong("true or false")),
            (Kind::StrList, Node::Array(items)) => {
                for item in items {
                    if !matches!(item.get_ref(), Node::Str(_)) {
                        self.report(item.span(), format!("`{path}` must be a list of strings"));
                    }
                }
            }
            (Kind::StrList, _) => self.report(span, wrong("a list of strings")),
            (Kind::Int(min, max), Node::Int(i)) => {
                if !(min..=max).contains(i) {
                    self.report(span, format!("`{path}` = {i} is outside {min}..={max}"));
                }
            }
            (Kind::Int(..), _) => self.report(span, wrong("an integer")),
            (Kind::Float { min, max, open }, Node::Int(_) | Node::Float(_)) => {
                let v = match node.get_ref() {
                    Node::Int(i) => *i as f64,
                    Node::Float(f) => *f,
                    _ => unreachable!("matched above"),
                };
                let low_ok = if open { v > min } else { v >= min };
                if !v.is_finite() || !low_ok || v > max {
                    let (open_bracket, _) = if open { ("(", ")") } else { ("[", "]") };
                    self.report(
                        span,
                        format!("`{path}` = {v} is outside {open_bracket}{min}, {max}]"),
                    );
                }
            }
            (Kind::Float { .. }, _) => self.report(span, wrong("a number")),
            (Kind::Choice(choices), Node::Str(s)) => {
                if !choices.contains(&s.as_str()) {
                    self.report(
                        span,
                        format!("`{path}` = \"{s}\" is not one of {}", choices.join(", ")),
                    );
                }
            }
            (Kind::Choice(choices), _) => {
                self.report(span, wrong(&format!("one of {}", choices.join(", "))))
            }
            (Kind::LogLevel, Node::Str(s)) => {
                if let Err(why) = check_log_level(s) {
                    self.report(span, format!("`{path}` = \"{s}\": {why}"));
                }
            }
            (Kind::LogLevel, _) => self.report(span, wrong("a level such as \"info\"")),
            (Kind::Properties, Node::Table(entries)) => {
                for (property, value) in entries {
                    if !matches!(value.get_ref(), Node::Str(_) | Node::Int(_) | Node::Bool(_)) {
                        self.report(
                            value.span(),
                            format!(
                                "librdkafka property `{property}` in `{path}` must be a string"
                            ),
                        );
                    }
                }
            }
            (Kind::Properties, _) => self.report(span, wrong("a table of librdkafka properties")),
            (Kind::Table(schema), Node::Table(entries)) => self.table(path, entries, schema),
            (Kind::TableList(schema), Node::Array(items)) => {
                for item in items {
                    match item.get_ref() {
                        Node::Table(entries) => self.table(path, entries, schema),
                        other => self.report(
                            item.span(),
                            format!(
                                "`{path}` must be a list of tables, found {}",
                                other.type_name()
                            ),
                        ),
                    }
                }
            }
            (Kind::TableList(_), _) => self.report(span, wrong("a list of tables")),
            (Kind::Table(_), _) => self.report(
                span,
                format!(
                    "`[{key}]` must be a table, found {}",
                    node.get_ref().type_name()
                ),
            ),
        }
    }
}

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// `info`, `warn,earshot=debug`, `earshot_kafka=trace`: each directive a level, or a
/// target and a level.
fn check_log_level(text: &str) -> Result<(), String> {
    for directive in text.split(',').map(str::trim) {
        let level = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "`{directive}` is not a level ({}) nor target=level",
                LEVELS.join(", ")
            ));
        }
    }
    Ok(())
}

/// One edit apart, for "did you mean": `kafak` → `kafka`.
fn close(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let mismatches = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    let swapped = a.len() == b.len()
        && (0..a.len().saturating_sub(1))
            .any(|i| a[i] == b[i + 1] && a[i + 1] == b[i] && mismatches == 2);
    (a.len() == b.len() && mismatches <= 1) || swapped || {
        // One insertion or deletion.
        let (short, long) = if a.len() < b.len() {
            (&a, &b)
        } else {
            (&b, &a)
        };
        long.len() == short.len() + 1
            && (0..long.len()).any(|skip| {
                long.iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, c)| c)
                    .eq(short.iter())
            })
    }
}

/// Messages quote what the user wrote; a multi-megabyte line must not come back whole.
pub fn clip(message: &str) -> String {
    const MAX_CHARS: usize = 300;
    if message.chars().count() <= MAX_CHARS {
        return message.to_string();
    }
    let mut clipped: String = message.chars().take(MAX_CHARS).collect();
    clipped.push('…');
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str, env: &[(&str, &str)]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("earshot.toml");
        std::fs::write(&path, text).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        check(Some(&path), &env)
            .iter()
            .map(|p| p.to_string().replace(&dir.path().display().to_string(), ""))
            .collect()
    }

    #[test]
    fn the_examples_pass() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/earshot.toml");
        assert_eq!(check(Some(&examples), &[]), []);
    }

    #[test]
    fn unknown_sections_keys_and_bad_values_are_each_reported() {
        let got = problems(
            "[kafak]\nbrokers = \"x\"\n[Analyze]\nwatchlists = \"w\"\n[log]\nlevel = \"verbose\"\n[analyze.sentiment]\nalpha = 0\nexclamation = inf\n",
            &[("EARSHOT__KAFKA__PARTITIONS", "0")],
        );
        assert_eq!(got.len(), 6, "{got:#?}");
        assert!(got[0].starts_with("/earshot.toml:1:1: unknown key `kafak` in the configuration (did you mean `kafka`?)"), "{}", got[0]);
        assert!(
            got[5].starts_with("environment variable EARSHOT__KAFKA__PARTITIONS: "),
            "{}",
            got[5]
        );
        assert!(
            got[1].contains("unknown key `Analyze`") && got[1].contains("did you mean `analyze`"),
            "{}",
            got[1]
        );
        assert!(
            got[2].starts_with("/earshot.toml:6:9: `log.level` = \"verbose\""),
            "{}",
            got[2]
        );
        assert!(
            got[3].contains("`analyze.sentiment.alpha` = 0 is outside (0, 1000000]"),
            "{}",
            got[3]
        );
        assert!(
            got[4].contains("`analyze.sentiment.exclamation` = inf is outside"),
            "{}",
            got[4]
        );
        assert_eq!(
            problems("", &[("EARSHOT__KAFKA__GROUPS__ROUTE", "2026")]),
            Vec::<String>::new()
        );
        let env = problems(
            "",
            &[
                ("EARSHOT__KAFKA__PARTITIONS", "0"),
                ("EARSHOT__KAFKA__BROKRES", "x"),
            ],
        );
        assert_eq!(
            env,
            [
                "environment variable EARSHOT__KAFKA__PARTITIONS: `kafka.partitions` = 0 is outside 1..=100000",
                "environment variable EARSHOT__KAFKA__BROKRES: unknown key `brokres` in kafka (did you mean `brokers`?); known: brokers, topics, groups, partitions, replication_factor, create_topics, delivery, max_in_flight, max_message_bytes, transaction_messages, transaction_ms, shutdown_seconds, on_internal_error, properties, consumer, producer"
            ]
        );
    }

    #[test]
    fn special_files_are_refused_without_blocking() {
        let why = read_config_file(Path::new("/dev/zero")).unwrap_err();
        assert!(why.contains("not a regular file"), "{why}");
        let why = read_config_file(Path::new("/tmp")).unwrap_err();
        assert!(why.contains("not a regular file"), "{why}");
    }

    #[test]
    fn a_huge_line_is_not_echoed() {
        let got = problems(
            &format!("[kafka]\nbrokers = \"{}\n", "x".repeat(3_000_000)),
            &[],
        );
        assert_eq!(got.len(), 1);
        assert!(got[0].len() < 400, "{} bytes", got[0].len());
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        /// TOML-ish text from the pieces real configuration files are made of, so that
        /// generated files are often valid TOML with wrong keys, types and values.
        fn config_text() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("[analyze]\n".to_string()),
                Just("[analyze.sentiment]\n".to_string()),
                Just("[kafka]\n".to_string()),
                Just("[kafka.topics]\n".to_string()),
                Just("[kafka.properties]\n".to_string()),
                Just("[log]\n".to_string()),
                Just("[limits]\n".to_string()),
                Just("[[term]]\n".to_string()),
                Just("[[watchlist]]\n".to_string()),
                "[a-zA-Z_.]{1,12} = ".prop_map(|k| k),
                Just("alpha = ".to_string()),
                Just("partitions = ".to_string()),
                Just("level = ".to_string()),
                Just("text = ".to_string()),
                Just("id = ".to_string()),
                Just("query = ".to_string()),
                Just("weight = ".to_string()),
                Just("inf\n".to_string()),
                Just("nan\n".to_string()),
                Just("-0\n".to_string()),
                Just("1e308\n".to_string()),
                Just("9223372036854775807\n".to_string()),
                Just("\"verbose\"\n".to_string()),
                Just("[\"a\", 1]\n".to_string()),
                Just("{ x = 1 }\n".to_string()),
                Just("true\n".to_string()),
                "\"[^\"\\\\]{0,10}\"\n".prop_map(|v| v),
                any::<String>(),
            ];
            prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_main_configuration_is_checked_without_panic(text in config_text(), env in "[0-9a-z ]{0,6}") {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("earshot.toml");
                std::fs::write(&path, &text).unwrap();
                let env = vec![("EARSHOT__KAFKA__PARTITIONS".to_string(), env)];
                for problem in check(Some(&path), &env) {
                    prop_assert!(problem.to_string().len() < 2000);
                }
            }

            #[test]
            fn any_lexicon_or_watchlist_file_is_checked_without_panic(text in config_text()) {
                let mut lexicon = earshot_analyze::Lexicon::empty();
                let _ = lexicon.load_user_file("l.toml", &text);
                let _ = earshot_analyze::Watchlists::parse("w.toml", &text);
                let _ = earshot_toml::parse(&text);
            }
        }
    }
}
