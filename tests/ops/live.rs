//! The live Prometheus test's inputs: the dashboard's queries as Grafana sends them, the
//! metric names an expression uses, and the traffic (sample posts, records that are not
//! posts) that flows while Prometheus scrapes.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use earshot_e2e::process::Proc;
use earshot_e2e::{earshot_bin, repo_root};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

use crate::yaml::{array_at, str_at};

pub const DASHBOARD: &str = "deploy/grafana/dashboards/earshot.json";

/// What a dashboard query is once Grafana has put its variables in: every job, a one-minute
/// rate window, a five-minute range.
pub fn as_grafana_sends_it(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "5m")
        .replace("$job", ".*")
}

/// Every panel of the dashboard (rows' nested panels too) with its queries.
pub fn dashboard_queries() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(repo_root().join(DASHBOARD)).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut panels = Vec::new();
    let mut ids = BTreeSet::new();
    let mut visit = |panel: &Value| {
        assert!(
            ids.insert(panel["id"].as_u64().expect("panel id")),
            "duplicate panel id {}",
            panel["id"]
        );
        if panel["type"] == "row" {
            return;
        }
        let title = str_at(panel, "/title", DASHBOARD).to_string();
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{title}: queries the data source variable"
        );
        let exprs: Vec<String> = array_at(panel, "/targets")
            .iter()
            .map(|t| str_at(t, "/expr", &title).to_string())
            .collect();
        assert!(!exprs.is_empty(), "{title}: no query");
        panels.push((title, exprs));
    };
    for panel in array_at(&dashboard, "/panels") {
        visit(panel);
        for nested in array_at(panel, "/panels") {
            visit(nested);
        }
    }
    panels
}

/// The `earshot_…` metric names an expression uses, histogram suffixes removed.
pub fn metric_names_in(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("earshot_") {
        let preceded_by_name_char = expr.len() - rest.len() + at > 0
            && rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if !preceded_by_name_char {
            names.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

/// `earshot ingest` reading the sample posts from stdin, `batch` lines every `pause`, so
/// that posts keep arriving over several scrapes. Returns the process and the line count.
pub fn ingest_slowly(dir: &Path, brokers: &str, batch: usize, pause: Duration) -> (Proc, usize) {
    let posts = std::fs::read_to_string(repo_root().join("examples/posts.jsonl")).unwrap();
    let lines: Vec<String> = posts
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let count = lines.len();
    let mut command = Command::new(earshot_bin());
    command
        .args(["ingest", "--config"])
        .arg(repo_root().join("examples/earshot.toml"))
        .env("EARSHOT__KAFKA__BROKERS", brokers)
        .env_remove("RUST_LOG");
    let mut ingest = Proc::spawn_with("ingest", command, dir, Stdio::piped());
    let mut stdin = ingest.child().stdin.take().expect("ingest's stdin");
    std::thread::spawn(move || {
        for chunk in lines.chunks(batch) {
            let text = chunk.join("\n") + "\n";
            if stdin.write_all(text.as_bytes()).is_err() {
                return;
            }
            std::thread::sleep(pause);
        }
    });
    (ingest, count)
}

/// Records that are not posts, straight onto the raw topic: analyze dead-letters them.
pub fn publish_garbage(brokers: &str, topic: &str, count: usize) {
    let producer: BaseProducer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("creating a producer");
    for i in 0..count {
        let payload = format!("not a post {i} {{");
        producer
            .send(
                BaseRecord::<str, str>::to(topic)
                    .payload(&payload)
                    .key("garbage"),
            )
            .expect("queueing a record");
    }
    producer.flush(Duration::from_secs(30)).expect("flushing");
}
