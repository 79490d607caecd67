//! End-to-end tests on tansu (<https://tansu.io>), an independent Kafka-compatible broker:
//! the real `earshot` binary runs as child processes against a tansu broker each test starts
//! on a free loopback port, with in-memory storage.
//!
//! tansu is found through `TANSU_BIN`, else `~/.cargo/bin/tansu` (or `$CARGO_HOME/bin`), else
//! `PATH`; `scripts/test` installs it (`cargo install tansu --version 0.6.0 --locked
//! --features dynostore`). Without it these tests fail, unless `EARSHOT_SKIP_TANSU=1` is set
//! outside CI (then they print a note and pass).
//!
//! Every topic has one partition (`EARSHOT__KAFKA__PARTITIONS=1`, created by Earshot itself
//! with `EARSHOT__KAFKA__CREATE_TOPICS=true`), so the posts reach the route stage in file
//! order and the pipeline reproduces `earshot triage` ticket for ticket.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use earshot_e2e::process::{free_port, http_get, Proc};
use earshot_e2e::tools::TANSU;
use earshot_e2e::{earshot_bin, repo_root};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use serde_json::Value;
use tempfile::TempDir;

/// The tests run one at a time: each starts a broker and two or three processes, and the
/// timings below assume they do not fight over two cores.
static SERIAL: Mutex<()> = Mutex::new(());

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

const READY_WITHIN: Duration = Duration::from_secs(90);
const INGEST_WITHIN: Duration = Duration::from_secs(120);
const OUTPUTS_WITHIN: Duration = Duration::from_secs(240);
/// Outputs are complete when every expected ticket arrived and nothing new came for this long.
const QUIET: Duration = Duration::from_secs(4);
/// Producer settings of every configuration a test writes: one record per record batch.
///
/// tansu 0.6.0 answers a fetch from an offset inside a record batch with the batches after
/// it, so the rest of that batch is never delivered (Kafka returns the whole batch and the
/// client drops the records before the offset). A replica that takes a partition over
/// starts at the committed offset, which is anywhere in a batch: with librdkafka's batching
/// the new owner silently skipped the rest of the batch the old owner was in (a stage
/// stopped at scored offset 963 was followed by one whose first record was 1002, and the
/// tickets of the posts between never appeared). With one record per batch every offset
/// starts a batch. Checked by `a_consumer_resuming_inside_a_topic_reads_from_its_offset`.
const ONE_RECORD_PER_BATCH: &str = "[kafka.producer]\n\"batch.num.messages\" = \"1\"\n";

// ------------------------------------------------------------------------------ tansu

/// A tansu broker on a free loopback port, in-memory, stopped on drop.
struct Tansu {
    process: Proc,
    bootstrap: String,
}

impl Tansu {
    fn start(bin: &Path, dir: &Path) -> Tansu {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let mut command = Command::new(bin);
        command
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            // tansu reads a `.env` from its working directory: give it an empty one.
            .current_dir(dir);
        let mut tansu = Tansu {
            process: Proc::spawn("tansu", command, dir),
            bootstrap: format!("127.0.0.1:{port}"),
        };
        tansu.wait_until_serving();
        tansu
    }

    fn wait_until_serving(&mut self) {
        let started = Instant::now();
        loop {
            self.process.assert_running("while starting");
            if TcpStream::connect(&self.bootstrap).is_ok() {
                let probe: BaseConsumer = client(&self.bootstrap)
                    .set("group.id", "earshot-e2e-probe")
                    .create()
                    .expect("creating a probe client");
                if probe
                    .fetch_metadata(None, Duration::from_secs(3))
                    .is_ok_and(|m| !m.brokers().is_empty())
                {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "tansu did not answer metadata requests on {} within 30 s\n{}",
                self.bootstrap,
                self.process.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

// ---------------------------------------------------------------------------- earshot

/// One test's world: a tansu broker, a temp dir, unique consumer groups, and how to start
/// `earshot` against them.
struct World {
    dir: TempDir,
    tansu: Tansu,
    config: PathBuf,
    /// The analyze, route and fused stages' consumer groups.
    groups: (String, String, String),
}

impl World {
    /// `None` when tansu is absent and the tests are to be skipped.
    fn start(test: &str) -> Option<World> {
        let bin = TANSU.find_or_skip(test)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("earshot-{test}-"))
            .tempdir()
            .expect("creating a temp dir");
        let tansu = Tansu::start(&bin, dir.path());
        let n = UNIQUE.fetch_add(1, Ordering::SeqCst);
        let id = format!("{test}-{}-{n}", std::process::id());
        Some(World {
            config: repo_root().join("examples/earshot.toml"),
            groups: (
                format!("analyze-{id}"),
                format!("route-{id}"),
                format!("process-{id}"),
            ),
            dir,
            tansu,
        })
    }

    /// A config file: examples/earshot.toml with its paths made absolute, spike detection
    /// switched off (a copy of examples/route.toml with `[spike] enabled = false`), producers
    /// writing one record per batch ([`ONE_RECORD_PER_BATCH`]), plus `extra` (TOML appended
    /// as is), for settings environment variables cannot carry (librdkafka property names
    /// contain dots).
    fn use_config_without_spikes(&mut self, extra: &str) {
        self.write_config(extra, false);
    }

    /// [`World::use_config_without_spikes`] with spike detection as the example has it.
    fn use_config(&mut self, extra: &str) {
        self.write_config(extra, true);
    }

    fn write_config(&mut self, extra: &str, spikes: bool) {
        let examples = repo_root().join("examples");
        let source = std::fs::read_to_string(examples.join("earshot.toml"))
            .expect("reading examples/earshot.toml");
        let mut config: toml::Table = source.parse().expect("parsing examples/earshot.toml");
        let route_copy = self.dir.path().join("route.toml");
        let absolute = |v: &mut toml::Value| {
            if let toml::Value::String(s) = v {
                *s = if s == "route.toml" {
                    route_copy.display().to_string()
                } else {
                    examples.join(&*s).display().to_string()
                };
            }
        };
        for (section, key) in [
            ("analyze", "watchlists"),
            ("analyze", "lexicon"),
            ("route", "files"),
        ] {
            if let Some(value) = config
                .get_mut(section)
                .and_then(|s| s.as_table_mut())
                .and_then(|s| s.get_mut(key))
            {
                match value {
                    toml::Value::Array(items) => items.iter_mut().for_each(absolute),
                    other => absolute(other),
                }
            }
        }
        let route_source = std::fs::read_to_string(examples.join("route.toml"))
            .expect("reading examples/route.toml");
        let mut route: toml::Table = route_source.parse().expect("parsing examples/route.toml");
        route
            .entry("spike")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("[spike] is a table")
            .insert("enabled".into(), toml::Value::Boolean(spikes));
        std::fs::write(&route_copy, toml::to_string(&route).expect("writing TOML"))
            .expect("writing the route configuration");
        let text = format!(
            "{}\n{ONE_RECORD_PER_BATCH}\n{extra}\n",
            toml::to_string(&config).expect("writing TOML")
        );
        let path = self.dir.path().join("earshot.toml");
        std::fs::write(&path, text).expect("writing the test configuration");
        self.config = path;
    }

    /// `earshot <args> --config …` with the environment overrides that point it at tansu.
    fn earshot(&self, args: &[&str], admin_port: Option<u16>) -> Command {
        let mut command = Command::new(earshot_bin());
        command
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .current_dir(repo_root())
            .env("EARSHOT__KAFKA__BROKERS", &self.tansu.bootstrap)
            .env("EARSHOT__KAFKA__PARTITIONS", "1")
            .env("EARSHOT__KAFKA__CREATE_TOPICS", "true")
            .env("EARSHOT__KAFKA__SHUTDOWN_SECONDS", "20")
            .env("EARSHOT__KAFKA__GROUPS__ANALYZE", &self.groups.0)
            .env("EARSHOT__KAFKA__GROUPS__ROUTE", &self.groups.1)
            .env("EARSHOT__KAFKA__GROUPS__PROCESS", &self.groups.2)
            .env("EARSHOT__ROUTE__CLOCK", "event")
            .env("EARSHOT__LOG__LEVEL", "info")
            .env_remove("RUST_LOG")
            .env(
                "EARSHOT__ADMIN__LISTEN",
                admin_port.map_or(String::new(), |p| format!("127.0.0.1:{p}")),
            );
        command
    }

    /// Starts a daemon (`run`, `analyze`, `route`) and waits until its /readyz says 200.
    fn daemon(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut daemon = self.daemon_unready(name, args, env);
        daemon.wait_ready();
        daemon
    }

    /// Starts a daemon without waiting for it to be ready (a replica that may get no
    /// partition is never ready).
    fn daemon_unready(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let port = free_port();
        let mut command = self.earshot(args, Some(port));
        for (k, v) in env {
            command.env(k, v);
        }
        Daemon {
            process: Proc::spawn(name, command, self.dir.path()),
            port,
        }
    }

    /// `earshot ingest examples/posts.jsonl`, to completion.
    fn ingest(&self) {
        let posts = repo_root().join("examples/posts.jsonl");
        let mut command = self.earshot(&["ingest"], None);
        command.arg(&posts);
        let mut ingest = Proc::spawn("ingest", command, self.dir.path());
        let status = ingest.wait(INGEST_WITHIN);
        assert!(
            status.success(),
            "earshot ingest failed ({status})\n{}",
            ingest.log_tail()
        );
    }

    /// `earshot ingest` reading the sample posts from stdin, fed `batch` lines every `pause`
    /// by a thread, so that posts keep arriving while the test does things. Join the thread,
    /// then wait for the process.
    fn ingest_slowly(
        &self,
        batch: usize,
        pause: Duration,
    ) -> (Proc, std::thread::JoinHandle<std::io::Result<()>>) {
        let posts = std::fs::read_to_string(repo_root().join("examples/posts.jsonl"))
            .expect("reading examples/posts.jsonl");
        let command = self.earshot(&["ingest"], None);
        let mut ingest = Proc::spawn_with("ingest", command, self.dir.path(), Stdio::piped());
        let mut stdin = ingest.child().stdin.take().expect("ingest's stdin");
        let feeder = std::thread::spawn(move || {
            let lines: Vec<&str> = posts.lines().collect();
            for chunk in lines.chunks(batch) {
                let mut text = chunk.join("\n");
                text.push('\n');
                stdin.write_all(text.as_bytes())?;
                stdin.flush()?;
                std::thread::sleep(pause);
            }
            Ok(())
        });
        (ingest, feeder)
    }

    /// A plain consumer of `topics` from the beginning, reading committed records only.
    fn consumer(&self, topics: &[String]) -> BaseConsumer {
        let n = UNIQUE.fetch_add(1, Ordering::SeqCst);
        let consumer: BaseConsumer = client(&self.tansu.bootstrap)
            .set(
                "group.id",
                format!("earshot-e2e-reader-{}-{n}", std::process::id()),
            )
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("enable.auto.commit", "false")
            .create()
            .expect("creating a consumer");
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names).expect("subscribing");
        consumer
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Keep the logs of a failed test.
            self.dir.disable_cleanup(true);
            eprintln!("logs kept in {}", self.dir.path().display());
        }
    }
}

/// A running `earshot` daemon and its admin port.
struct Daemon {
    process: Proc,
    port: u16,
}

impl Daemon {
    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            self.process.assert_running("before it was ready");
            if matches!(http_get(self.port, "/readyz"), Some((200, _))) {
                return;
            }
            assert!(
                started.elapsed() < READY_WITHIN,
                "{}: /readyz on port {} did not answer 200 within {} s\n{}",
                self.process.name,
                self.port,
                READY_WITHIN.as_secs(),
                self.process.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGTERM; the daemon must drain, commit and exit 0.
    fn stop(&mut self) {
        let status = self.process.terminate(Duration::from_secs(60));
        assert!(
            status.success(),
            "{} did not exit 0 after SIGTERM ({status})\n{}",
            self.process.name,
            self.process.log_tail()
        );
    }
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("topic.metadata.refresh.interval.ms", "1000");
    config
}

// ------------------------------------------------------------------------------ outputs

/// One consumed record.
#[derive(Debug, Clone)]
struct Record {
    topic: String,
    key: Option<String>,
    json: Value,
    headers: BTreeMap<String, String>,
}

/// A record as the tests look at it; panics when the payload is not JSON.
fn record_of(message: &BorrowedMessage<'_>) -> Record {
    let payload = message.payload().unwrap_or_default();
    let json = serde_json::from_slice(payload).unwrap_or_else(|e| {
        panic!(
            "a record on {} is not JSON ({e}): {}",
            message.topic(),
            String::from_utf8_lossy(payload)
        )
    });
    let headers = message
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| {
                    (
                        h.key.to_string(),
                        String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Record {
        topic: message.topic().to_string(),
        key: message
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned()),
        json,
        headers,
    }
}

/// Reads `consumer` into `into` until `done(records)` holds and nothing new arrived for
/// [`QUIET`]; panics with `describe(records)` after `within`.
fn collect(
    consumer: &BaseConsumer,
    into: &mut Vec<Record>,
    within: Duration,
    mut done: impl FnMut(&[Record]) -> bool,
    describe: impl Fn(&[Record]) -> String,
    processes: &mut [&mut Proc],
) {
    let started = Instant::now();
    let mut last_new = Instant::now();
    loop {
        while let Some(message) = consumer.poll(Duration::from_millis(100)) {
            into.push(record_of(&message.expect("reading a topic")));
            last_new = Instant::now();
        }
        if last_new.elapsed() >= QUIET && done(into) {
            return;
        }
        for process in processes.iter_mut() {
            process.assert_running("while the outputs were awaited");
        }
        if started.elapsed() > within {
            let logs: Vec<String> = processes.iter().map(|p| p.log_tail()).collect();
            panic!(
                "outputs incomplete after {} s: {}\n{}",
                within.as_secs(),
                describe(into),
                logs.join("\n")
            );
        }
    }
}

/// Writes the records as JSON lines (topic, key, payload), for a failed test's post-mortem.
fn dump(records: &[Record], path: &Path) {
    let text: String = records
        .iter()
        .map(|r| {
            let line = serde_json::json!({"topic": r.topic, "key": r.key, "value": r.json});
            format!("{line}\n")
        })
        .collect();
    let _ = std::fs::write(path, text);
}

fn ticket_ids(records: &[Record]) -> BTreeSet<String> {
    records
        .iter()
        .filter(|r| r.json["kind"] == "ticket")
        .filter_map(|r| r.json["ticket_id"].as_str().map(str::to_string))
        .collect()
}

fn missing(expected: &BTreeSet<String>, seen: &BTreeSet<String>) -> String {
    let missing: Vec<&String> = expected.difference(seen).collect();
    format!(
        "{} of {} expected ticket ids seen; missing {} (first: {:?})",
        expected.len() - missing.len(),
        expected.len(),
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    )
}

/// One ticket record `earshot triage` printed.
#[derive(Debug, Clone)]
struct TriageTicket {
    id: String,
    queue: String,
    revision: u64,
    /// The post that opened or revised the ticket.
    post_id: String,
}

/// What `earshot triage --config CONFIG` makes of `posts`, a JSON-lines file: its ticket
/// records, in order.
fn triage(config: &Path, posts: &Path) -> Vec<TriageTicket> {
    triage_outputs(config, posts)
        .into_iter()
        .filter(|value| value["kind"] == "ticket")
        .map(|value| TriageTicket {
            id: value["ticket_id"].as_str().expect("ticket_id").to_string(),
            queue: value["queue"].as_str().expect("queue").to_string(),
            revision: value["revision"].as_u64().expect("revision"),
            post_id: value["post"]["id"].as_str().expect("post.id").to_string(),
        })
        .collect()
}

/// Every record `earshot triage --config CONFIG` prints for `posts` (tickets, incidents,
/// unrouted posts), in order.
fn triage_outputs(config: &Path, posts: &Path) -> Vec<Value> {
    let root = repo_root();
    let output = Command::new(earshot_bin())
        .args(["triage", "--config"])
        .arg(config)
        .arg(posts)
        .current_dir(&root)
        .output()
        .expect("running earshot triage");
    assert!(
        output.status.success(),
        "earshot triage {} failed: {}",
        posts.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("triage prints JSON lines"))
        .collect()
}

/// (ticket id, revision) → the post of each ticket record; fails when a revision was
/// delivered twice with different posts.
fn revisions(records: &[Record]) -> BTreeMap<(String, u64), String> {
    let mut revisions = BTreeMap::new();
    for record in records.iter().filter(|r| r.json["kind"] == "ticket") {
        let key = (
            record.json["ticket_id"]
                .as_str()
                .expect("ticket_id")
                .to_string(),
            record.json["revision"].as_u64().expect("revision"),
        );
        let post = record.json["post"]["id"]
            .as_str()
            .expect("post.id")
            .to_string();
        if let Some(before) = revisions.insert(key.clone(), post.clone()) {
            assert_eq!(
                before, post,
                "ticket {key:?} delivered with two different posts"
            );
        }
    }
    revisions
}

/// Triage's (ticket id, revision) → post.
fn triage_revisions(tickets: &[TriageTicket]) -> BTreeMap<(String, u64), String> {
    tickets
        .iter()
        .map(|t| ((t.id.clone(), t.revision), t.post_id.clone()))
        .collect()
}

/// What differs between two maps, for a failure message.
fn differences<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    want: &BTreeMap<K, V>,
    got: &BTreeMap<K, V>,
) -> String {
    let missing: Vec<&K> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&K> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let changed: Vec<&K> = want
        .iter()
        .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| k)
        .collect();
    format!(
        "{} expected, {} seen; {} missing (first: {:?}), {} unexpected (first: {:?}), {} different (first: {:?})",
        want.len(),
        got.len(),
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(5).collect::<Vec<_>>(),
        changed.len(),
        changed.iter().take(5).collect::<Vec<_>>()
    )
}

/// Tickets whose conversation the kill split: opened by a post before `committed` (the
/// killed process) and revised by a post from `committed` on (its replacement).
fn split_by_the_kill(
    tickets: &[TriageTicket],
    position: &HashMap<String, usize>,
    committed: usize,
) -> BTreeSet<String> {
    let before: BTreeSet<&str> = tickets
        .iter()
        .filter(|t| position.get(&t.post_id).is_some_and(|&i| i < committed))
        .map(|t| t.id.as_str())
        .collect();
    tickets
        .iter()
        .filter(|t| t.revision > 1 && before.contains(t.id.as_str()))
        .filter(|t| position.get(&t.post_id).is_some_and(|&i| i >= committed))
        .map(|t| t.id.clone())
        .collect()
}

/// What `earshot triage` makes of the sample posts: ticket id → queue.
fn triage_tickets() -> BTreeMap<String, String> {
    let tickets: BTreeMap<String, String> = triage(
        &repo_root().join("examples/earshot.toml"),
        &repo_root().join("examples/posts.jsonl"),
    )
    .into_iter()
    .map(|t| (t.id, t.queue))
    .collect();
    assert!(!tickets.is_empty(), "earshot triage produced no tickets");
    tickets
}

/// The ticket topics: one per queue of examples/route.toml.
fn ticket_topics() -> Vec<String> {
    let source = std::fs::read_to_string(repo_root().join("examples/route.toml"))
        .expect("reading examples/route.toml");
    let route: toml::Table = source.parse().expect("parsing examples/route.toml");
    let queues: Vec<String> = route["queue"]
        .as_array()
        .expect("[[queue]] tables")
        .iter()
        .map(|q| format!("earshot.tickets.{}", q["id"].as_str().expect("queue id")))
        .collect();
    assert!(!queues.is_empty(), "examples/route.toml has no queues");
    queues
}

fn metric(body: &str, line_prefix: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// -------------------------------------------------------------------------------- tests

#[test]
fn full_run_on_tansu() {
    let _serial = serial();
    let Some(world) = World::start("full_run_on_tansu") else {
        return;
    };
    let expected: BTreeSet<String> = triage_tickets().into_keys().collect();

    let mut run = world.daemon("run", &["run"], &[]);
    let (status, body) = http_get(run.port, "/metrics").expect("/metrics answers");
    assert_eq!(status, 200, "/metrics: {body}");
    assert!(
        body.contains("earshot_posts_received_total"),
        "/metrics lacks earshot_posts_received_total:\n{body}"
    );

    world.ingest();
    let consumer = world.consumer(&ticket_topics());
    let mut records = Vec::new();
    collect(
        &consumer,
        &mut records,
        OUTPUTS_WITHIN,
        |r| ticket_ids(r).len() >= expected.len(),
        |r| missing(&expected, &ticket_ids(r)),
        &mut [&mut run.process],
    );

    let (status, _) = http_get(run.port, "/readyz").expect("/readyz answers");
    assert_eq!(status, 200, "/readyz while running");
    let (_, body) = http_get(run.port, "/metrics").expect("/metrics answers");
    // `earshot run` is the fused stage unless `[pipeline] shape = "split"`.
    let received = metric(&body, "earshot_posts_received_total{stage=\"process\"}");
    assert!(
        received.is_some_and(|n| n > 0.0),
        "the fused stage received nothing according to /metrics:\n{body}"
    );
    run.stop();

    let seen = ticket_ids(&records);
    let extra: Vec<&String> = seen.difference(&expected).collect();
    let lost: Vec<&String> = expected.difference(&seen).collect();
    assert!(
        extra.is_empty() && lost.is_empty(),
        "the pipeline on tansu differs from `earshot triage`: {} ticket ids only in the pipeline (first: {:?}), {} only in triage (first: {:?})",
        extra.len(),
        extra.iter().take(5).collect::<Vec<_>>(),
        lost.len(),
        lost.iter().take(5).collect::<Vec<_>>()
    );
    eprintln!(
        "full_run_on_tansu: {} ticket records, {} ticket ids, identical to triage",
        records.len(),
        seen.len()
    );
}

/// The route stage is killed with SIGKILL while posts flow, and a new process takes over its
/// partition from the last committed offset. Route's state lives in its changelog topic, so
/// the new process restores the open conversations (and the post ids folded into them)
/// before its first record: together the two processes make exactly the tickets `earshot
/// triage` makes of all posts, revision for revision. A follow-up after the kill folds into
/// the ticket the killed process opened, with the next revision; a post redelivered after
/// the kill either repeats its revision exactly or, when its state was written, nothing.
/// Spike detection is switched off here (at-least-once counts a redelivered unrouted post
/// twice); the exactly-once test below keeps it on.
///
/// `…::fused` does the same to the fused stage (`earshot process`), whose state is kept by
/// raw partition: it is killed and replaced, and the replacement restores it.
mod kill_minus_nine_and_restart {
    #[test]
    fn split() {
        super::kill_minus_nine_and_restart(earshot::settings::Shape::Split);
    }
    #[test]
    fn fused() {
        super::kill_minus_nine_and_restart(earshot::settings::Shape::Fused);
    }
}

fn kill_minus_nine_and_restart(shape: earshot::settings::Shape) {
    let _serial = serial();
    let Some(mut world) = World::start("kill_minus_nine_and_restart") else {
        return;
    };
    let fused = shape == earshot::settings::Shape::Fused;
    // The stage that routes, what it reads and as which group.
    let (stage, input, group) = match fused {
        false => ("route", "earshot.posts.scored", world.groups.1.clone()),
        true => ("process", "earshot.posts.raw", world.groups.2.clone()),
    };
    // A short session timeout so that the group drops the killed member within seconds
    // instead of librdkafka's default 45 s.
    world.use_config_without_spikes(
        "[kafka.consumer]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n",
    );
    let full = triage(&world.config, &repo_root().join("examples/posts.jsonl"));
    let all_triage_ids: BTreeSet<String> = full.iter().map(|t| t.id.clone()).collect();

    // The split shape's analyze stage runs throughout; the fused stage analyzes itself.
    let mut analyze = (!fused).then(|| world.daemon("analyze", &["analyze"], &[]));
    let mut route = world.daemon(&format!("{stage}-1"), &[stage], &[]);
    // Posts trickle in (40 every 100 ms, about 7 s for the sample) so that the kill lands
    // while posts are still flowing through both stages.
    let (mut ingest, feeder) = world.ingest_slowly(40, Duration::from_millis(100));

    let consumer = world.consumer(&ticket_topics());
    let mut records = Vec::new();
    // Half-way: past the first offset commits (every second), not at the end, and where
    // the sample has 12–19 conversations open across any commit point (at a third there
    // were offsets with none, and the test could then show nothing).
    let threshold = (all_triage_ids.len() / 2).max(1);
    let started = Instant::now();
    while ticket_ids(&records).len() < threshold {
        route.process.assert_running("before the kill");
        if let Some(analyze) = &mut analyze {
            analyze.process.assert_running("before the kill");
        }
        assert!(
            started.elapsed() < OUTPUTS_WITHIN,
            "fewer than {threshold} tickets after {} s: {}\n{}\n{}",
            OUTPUTS_WITHIN.as_secs(),
            missing(&all_triage_ids, &ticket_ids(&records)),
            route.process.log_tail(),
            ingest.log_tail()
        );
        collect_some(&consumer, &mut records);
    }
    route.process.kill_hard();
    let before = ticket_ids(&records).len();
    assert!(
        before < all_triage_ids.len(),
        "route finished every ticket before the kill ({before}); the test could not kill it mid-stream"
    );
    // tansu 0.6.0 hands the killed member's partition to a member that joins after the
    // session timeout; one that joins while the dead member still counts may get nothing.
    // Kafka would rebalance at the timeout either way; waiting suits both.
    std::thread::sleep(Duration::from_secs(10));
    // Where the next route process will start.
    let committed = committed_offset(&world, &group, input);

    let mut route = world.daemon(&format!("{stage}-2"), &[stage], &[]);
    feeder
        .join()
        .expect("the feeder thread")
        .unwrap_or_else(|e| panic!("feeding ingest failed: {e}\n{}", ingest.log_tail()));
    let status = ingest.wait(INGEST_WITHIN);
    assert!(
        status.success(),
        "earshot ingest failed ({status})\n{}",
        ingest.log_tail()
    );

    let mut analyzing: Vec<&mut Proc> = analyze.iter_mut().map(|d| &mut d.process).collect();
    let scored = read_all(&world, input, &mut analyzing);
    assert!(
        committed < scored.len(),
        "the killed {stage} process had committed every post of {input} ({committed}); nothing was left to take over"
    );
    let position: HashMap<String, usize> = scored
        .iter()
        .enumerate()
        .map(|(i, post)| (post["id"].as_str().expect("post id").to_string(), i))
        .collect();
    let split = split_by_the_kill(&full, &position, committed);
    assert!(
        !split.is_empty(),
        "no conversation was open across the kill (committed offset {committed}); the test shows nothing"
    );
    let expected = triage_revisions(&full);
    let route_port = route.port;
    collect(
        &consumer,
        &mut records,
        OUTPUTS_WITHIN,
        |r| revisions(r).len() >= expected.len(),
        |r| {
            dump(r, &world.dir.path().join("outputs.jsonl"));
            let received = http_get(route_port, "/metrics").and_then(|(_, body)| {
                metric(
                    &body,
                    &format!("earshot_posts_received_total{{stage=\"{stage}\"}}"),
                )
            });
            format!(
                "{}; the new route process received {} records from offset {committed}",
                differences(&expected, &revisions(r)),
                received.map_or("?".to_string(), |n| n.to_string())
            )
        },
        &mut analyzing
            .into_iter()
            .chain(std::iter::once(&mut route.process))
            .collect::<Vec<_>>(),
    );
    route.stop();
    if let Some(analyze) = &mut analyze {
        analyze.stop();
    }

    let seen = revisions(&records);
    assert!(
        seen == expected,
        "the tickets differ from `earshot triage` of all posts: {}",
        differences(&expected, &seen)
    );
    let repeated = records
        .iter()
        .filter(|r| r.json["kind"] == "ticket")
        .count()
        - seen.len();
    eprintln!(
        "kill_minus_nine_and_restart: killed {stage} after {before} tickets; committed offset {committed} of {} posts of {input}; {} ticket revisions as triage, {} conversations open across the kill folded on, {repeated} revisions delivered twice (identical)",
        scored.len(),
        seen.len(),
        split.len()
    );
}

/// Spike detection on: a second route replica joins mid-stream (a rebalance: the partition
/// moves or stays, and either way its state goes through the changelog), then, once an
/// outage incident is open, the replica that owns the scored partition is stopped (SIGTERM)
/// and replaced. The incident under way stays one incident (the next owner restores the
/// spike state and goes on revising it) and everything is `earshot triage`'s, revision for
/// revision. With SIGKILL instead, at-least-once redelivers the records after the last
/// commit. Those that opened no ticket are recognised by the post ids counted and not counted
/// twice (route's `a_redelivered_unrouted_post_is_not_counted_again_after_a_restore`), but
/// one run in a few showed a ticket revision triage does not have; that was a restart behind
/// the state, which the position in route's state now rules out.
///
/// One run in about five used to miss two to ten revision-1 tickets: the next owner
/// started at the committed offset, inside a record batch of the scored topic, and tansu
/// answered with the batches after it, so the rest of that batch was never routed (see
/// [`ONE_RECORD_PER_BATCH`]).
#[test]
fn a_spike_under_way_at_a_handover_stays_one_incident() {
    spike_across_a_rebalance_and_a_kill("at_least_once");
}

/// The same in exactly-once mode with SIGKILL, where under read_committed every ticket and
/// incident revision must appear exactly once. tansu 0.6.0 (the newest release) answers no
/// EndTxn request (librdkafka: "EndTxnRequest (KIP-98) not supported by broker"), so no
/// transaction can commit on it; run this against a broker with transactions.
#[test]
#[ignore = "tansu 0.6.0 has no EndTxn: transactions cannot commit on it"]
fn exactly_once_with_a_rebalance_and_kill_minus_nine() {
    spike_across_a_rebalance_and_a_kill("exactly_once");
}

fn spike_across_a_rebalance_and_a_kill(delivery: &'static str) {
    let exactly_once = delivery == "exactly_once";
    let _serial = serial();
    let test = format!("spike_across_a_handover_{delivery}");
    let Some(mut world) = World::start(&test) else {
        return;
    };
    world.use_config(
        "[kafka.consumer]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n",
    );
    let posts = repo_root().join("examples/posts.jsonl");
    let outputs = triage_outputs(&world.config, &posts);
    let tickets = triage(&world.config, &posts);
    let expected = triage_revisions(&tickets);
    let incident_revisions = |r: &[Value]| -> BTreeSet<(String, u64)> {
        r.iter()
            .filter(|o| o["kind"] == "incident")
            .map(|o| {
                (
                    o["incident_id"].as_str().expect("incident_id").to_string(),
                    o["revision"].as_u64().expect("revision"),
                )
            })
            .collect()
    };
    let expected_incidents = incident_revisions(&outputs);
    let incident_ids = |r: &BTreeSet<(String, u64)>| -> BTreeSet<String> {
        r.iter().map(|(id, _)| id.clone()).collect()
    };
    assert!(
        !expected_incidents.is_empty(),
        "triage of the sample opens no incident; the test needs a spike"
    );
    let env = |host: &'static str| [("EARSHOT__KAFKA__DELIVERY", delivery), ("HOSTNAME", host)];

    let mut analyze = world.daemon("analyze", &["analyze"], &env("analyze"));
    let mut a = world.daemon("route-a", &["route"], &env("route-a"));
    let (mut ingest, feeder) = world.ingest_slowly(40, Duration::from_millis(100));
    let mut topics = ticket_topics();
    topics.push("earshot.incidents".to_string());
    let consumer = world.consumer(&topics);
    let mut records = Vec::new();
    let json = |r: &[Record]| -> Vec<Value> { r.iter().map(|r| r.json.clone()).collect() };
    let wait_until = |records: &mut Vec<Record>,
                      what: &str,
                      done: &dyn Fn(&[Record]) -> bool,
                      procs: &mut [&mut Proc]| {
        let started = Instant::now();
        while !done(records) {
            for p in procs.iter_mut() {
                p.assert_running(what);
            }
            assert!(
                started.elapsed() < OUTPUTS_WITHIN,
                "waiting for {what} for {} s",
                OUTPUTS_WITHIN.as_secs()
            );
            collect_some(&consumer, records);
        }
    };
    let ids = tickets.iter().map(|t| &t.id).collect::<BTreeSet<_>>().len();
    wait_until(
        &mut records,
        "a quarter of the tickets",
        &|r| ticket_ids(r).len() >= ids / 4,
        &mut [&mut a.process, &mut analyze.process],
    );
    let mut b = world.daemon_unready("route-b", &["route"], &env("route-b"));
    let open_incidents = |r: &[Record]| -> BTreeSet<String> {
        let mut open = BTreeSet::new();
        for o in r.iter().filter(|r| r.json["kind"] == "incident") {
            let id = o.json["incident_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            match o.json["change"].as_str() {
                Some("closed") => open.remove(&id),
                _ => open.insert(id),
            };
        }
        open
    };
    wait_until(
        &mut records,
        "an incident to open",
        &|r| !open_incidents(r).is_empty(),
        &mut [&mut a.process, &mut b.process, &mut analyze.process],
    );
    let open_at_kill = open_incidents(&records);
    // Kill the owner of the partition (the ready replica) and replace it under its name.
    let owner_is_b = matches!(http_get(b.port, "/readyz"), Some((200, _)));
    let (owner, host) = if owner_is_b {
        (&mut b, "route-b")
    } else {
        (&mut a, "route-a")
    };
    if exactly_once {
        owner.process.kill_hard();
    } else {
        owner.stop();
    }
    let killed_after = ticket_ids(&records).len();
    let mut replacement = world.daemon_unready("route-c", &["route"], &env(host));
    feeder
        .join()
        .expect("the feeder thread")
        .unwrap_or_else(|e| panic!("feeding ingest failed: {e}\n{}", ingest.log_tail()));
    assert!(
        ingest.wait(INGEST_WITHIN).success(),
        "earshot ingest failed\n{}",
        ingest.log_tail()
    );
    let survivor = if owner_is_b { &mut a } else { &mut b };
    collect(
        &consumer,
        &mut records,
        OUTPUTS_WITHIN,
        |r| {
            revisions(r).len() >= expected.len()
                && incident_revisions(&json(r)).len() >= expected_incidents.len()
        },
        |r| {
            dump(r, &world.dir.path().join("outputs.jsonl"));
            format!(
                "tickets: {}; incident revisions {} of {}",
                differences(&expected, &revisions(r)),
                incident_revisions(&json(r)).len(),
                expected_incidents.len()
            )
        },
        &mut [
            &mut analyze.process,
            &mut survivor.process,
            &mut replacement.process,
        ],
    );
    replacement.stop();
    survivor.stop();
    analyze.stop();

    let seen = revisions(&records);
    assert!(
        seen == expected,
        "tickets differ from `earshot triage`: {}",
        differences(&expected, &seen)
    );
    let incidents = incident_revisions(&json(&records));
    assert_eq!(
        incident_ids(&incidents),
        incident_ids(&expected_incidents),
        "incidents against triage: an incident open at the kill ({open_at_kill:?}) must not open twice"
    );
    let ticket_records = records
        .iter()
        .filter(|r| r.json["kind"] == "ticket")
        .count();
    let incident_records = records
        .iter()
        .filter(|r| r.json["kind"] == "incident")
        .count();
    assert_eq!(
        incidents, expected_incidents,
        "incident revisions against triage"
    );
    if exactly_once {
        assert_eq!(
            ticket_records,
            seen.len(),
            "a ticket revision appeared twice"
        );
        assert_eq!(
            incident_records,
            incidents.len(),
            "an incident revision appeared twice"
        );
    }
    eprintln!(
        "{test}: stopped or killed {host} after {killed_after} tickets with {open_at_kill:?} open; {} ticket revisions ({} records; against triage: {}), incidents {:?} ({incident_records} records, {} revisions; triage {})",
        seen.len(),
        ticket_records,
        differences(&expected, &seen),
        incident_ids(&incidents),
        incidents.len(),
        expected_incidents.len()
    );
}

/// The offset `group` committed on partition 0 of `topic` (0 if none), read without joining
/// the group.
fn committed_offset(world: &World, group: &str, topic: &str) -> usize {
    let consumer: BaseConsumer = client(&world.tansu.bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("creating a consumer");
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("reading the committed offset");
    match committed
        .find_partition(topic, 0)
        .expect("partition 0")
        .offset()
    {
        rdkafka::Offset::Offset(n) => usize::try_from(n).expect("a non-negative offset"),
        _ => 0,
    }
}

/// Every record of a one-partition topic as JSON, once nothing new arrived for [`QUIET`].
fn read_all(world: &World, topic: &str, processes: &mut [&mut Proc]) -> Vec<Value> {
    let consumer = world.consumer(&[topic.to_string()]);
    let mut records = Vec::new();
    collect(
        &consumer,
        &mut records,
        OUTPUTS_WITHIN,
        |_| true,
        |r| format!("{} records on {topic}", r.len()),
        processes,
    );
    records.into_iter().map(|r| r.json).collect()
}

/// Reads what is there now (up to half a second).
fn collect_some(consumer: &BaseConsumer, into: &mut Vec<Record>) {
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            into.push(record_of(&message.expect("reading a topic")));
        }
    }
}

/// A consumer that starts inside a topic Earshot wrote (as a replica taking a partition over
/// starts at the committed offset) reads from that very offset: nothing between the offset
/// and the next record batch is skipped. On tansu this holds only because the tests'
/// producers write one record per batch ([`ONE_RECORD_PER_BATCH`]); without it, `earshot
/// ingest` batches the sample and almost every start below lands inside a batch.
#[test]
fn a_consumer_resuming_inside_a_topic_reads_from_its_offset() {
    let _serial = serial();
    let Some(mut world) = World::start("a_consumer_resuming_inside_a_topic_reads_from_its_offset")
    else {
        return;
    };
    world.use_config_without_spikes("");
    world.ingest();
    let topic = "earshot.posts.raw";
    let probe: BaseConsumer = client(&world.tansu.bootstrap)
        .set("group.id", "earshot-e2e-watermarks")
        .create()
        .expect("creating a consumer");
    let (_, high) = probe
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("the watermarks of the raw topic");
    assert!(
        high > 1000,
        "ingest wrote {high} records; the sample has more"
    );
    let mut skipped = Vec::new();
    for start in (1..high).step_by(97) {
        let consumer: BaseConsumer = client(&world.tansu.bootstrap)
            .set("group.id", "earshot-e2e-resume")
            .set("enable.auto.commit", "false")
            .create()
            .expect("creating a consumer");
        let mut assignment = rdkafka::TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, 0, rdkafka::Offset::Offset(start))
            .expect("an offset");
        consumer.assign(&assignment).expect("assigning");
        let started = Instant::now();
        let first = loop {
            if let Some(message) = consumer.poll(Duration::from_millis(200)) {
                break message.expect("reading the raw topic").offset();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "nothing read from offset {start} of {topic} ({high} records) within 30 s"
            );
        };
        if first != start {
            skipped.push((start, first));
        }
    }
    assert!(
        skipped.is_empty(),
        "reading from an offset began later (start, first offset read): {skipped:?}"
    );
}

#[test]
fn tickets_readable_by_an_ordinary_consumer() {
    let _serial = serial();
    let Some(world) = World::start("tickets_readable_by_an_ordinary_consumer") else {
        return;
    };
    let triage = triage_tickets();
    // The queue with the most tickets.
    let mut per_queue: BTreeMap<&str, usize> = BTreeMap::new();
    for queue in triage.values() {
        *per_queue.entry(queue).or_default() += 1;
    }
    let (queue, count) = per_queue
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(q, n)| (q.to_string(), *n))
        .expect("a queue with tickets");
    let topic = format!("earshot.tickets.{queue}");

    let mut run = world.daemon("run", &["run"], &[]);
    world.ingest();

    // A plain librdkafka consumer: nothing of Earshot's but the topic name.
    let consumer = world.consumer(std::slice::from_ref(&topic));
    let mut records = Vec::new();
    collect(
        &consumer,
        &mut records,
        OUTPUTS_WITHIN,
        |r| ticket_ids(r).len() >= count,
        |r| format!("{} of {count} tickets on {topic}", ticket_ids(r).len()),
        &mut [&mut run.process],
    );
    run.stop();

    for record in &records {
        let json = &record.json;
        let context = || format!("record on {}: {json}", record.topic);
        assert_eq!(record.topic, topic);
        assert_eq!(json["kind"], "ticket", "{}", context());
        let id = json["ticket_id"].as_str().filter(|s| !s.is_empty());
        assert!(id.is_some(), "no ticket_id: {}", context());
        assert_eq!(
            record.key.as_deref(),
            id,
            "the record key is not the ticket id: {}",
            context()
        );
        assert_eq!(json["queue"], queue.as_str(), "{}", context());
        assert!(json["priority"].is_string(), "no priority: {}", context());
        assert!(json["post"]["id"].is_string(), "no post.id: {}", context());
        for header in ["earshot-schema-version", "earshot-trace-id"] {
            assert!(
                record.headers.get(header).is_some_and(|v| !v.is_empty()),
                "header {header} missing: {:?} on {}",
                record.headers,
                context()
            );
        }
        assert!(
            record.headers["earshot-schema-version"]
                .parse::<u32>()
                .is_ok(),
            "earshot-schema-version is not a number: {:?}",
            record.headers
        );
    }
    eprintln!(
        "tickets_readable_by_an_ordinary_consumer: {} records on {topic}, all well-formed",
        records.len()
    );
}
