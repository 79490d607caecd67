//! Operating Earshot: the Prometheus rules, the Grafana dashboard, the Kubernetes manifests
//! and the compose file, each checked against the code that they describe.
//!
//! * `promtool` checks the rules and runs their unit tests (deploy/prometheus/*.test.yaml);
//!   every alert has a unit test and a runbook entry in docs/operations.md.
//! * A real Prometheus scrapes a real `earshot run` on the embedded broker while the sample
//!   posts flow, evaluates the rules, and answers every dashboard query and every rule's
//!   expression: none may fail, every panel must show data, every metric named must exist,
//!   and the alerts that the data calls for (dead letters, an incident) fire while the others
//!   stay quiet.
//! * `kubectl kustomize` renders deploy/k8s; each Deployment's container is laid out on disk
//!   as its pod would see it (mounted ConfigMaps and Secrets), its configuration is read as
//!   Earshot reads it (file and `EARSHOT__…` environment), and it is started on the embedded
//!   broker with topics made from the KafkaTopic manifests, until its probes answer 200.
//! * compose.yaml's commands, environment, topics and mounted files are checked the same way
//!   (no container engine is at hand to start it).
//!
//! The external tools (prometheus, promtool, kubectl) are found as tests/support/tools.rs
//! says; `scripts/test` installs them.

#![allow(clippy::unwrap_used)]

#[path = "ops/deployments.rs"]
mod deployments;
#[path = "ops/kube.rs"]
mod kube;
#[path = "ops/live.rs"]
mod live;
#[path = "ops/prometheus.rs"]
mod prometheus;
#[path = "ops/yaml.rs"]
mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use earshot::settings::Settings;
use earshot_e2e::process::{free_port, http_get, Proc};
use earshot_e2e::tools::{KUBECTL, PROMETHEUS, PROMTOOL};
use earshot_e2e::{earshot_bin, repo_root};
use earshot_kafka::EmbeddedKafka;
use serde_json::Value;

use deployments::{check_deployment, kafka_topics, run_pod, settings_of};
use kube::{Manifests, Pod};
use live::{
    as_grafana_sends_it, dashboard_queries, ingest_slowly, metric_names_in, publish_garbage,
};
use prometheus::{has_numbers, Prometheus};
use yaml::{array_at, str_at};

const RULES: &str = "deploy/prometheus/earshot-rules.yaml";
const RULE_TESTS: &str = "deploy/prometheus/earshot-rules.test.yaml";
/// The commands that serve /metrics, /livez and /readyz.
pub const DAEMONS: [&str; 4] = ["analyze", "route", "process", "run"];
const READY_WITHIN: Duration = Duration::from_secs(90);

/// The tests that start processes run one at a time: two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn temp_dir(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("earshot-{test}-"))
        .tempdir()
        .expect("creating a temp dir")
}

// ------------------------------------------------------------------------ rules (promtool)

#[test]
fn alert_rules_pass_promtool_and_every_alert_has_a_test_and_a_runbook() {
    let Some(promtool) = PROMTOOL.find_or_skip("alert_rules_pass_promtool") else {
        return;
    };
    let root = repo_root();
    for args in [
        vec!["check", "rules", RULES],
        vec!["test", "rules", RULE_TESTS],
        vec!["check", "config", "deploy/prometheus/prometheus.yml"],
    ] {
        let output = Command::new(&promtool)
            .args(&args)
            .current_dir(&root)
            .output()
            .expect("running promtool");
        assert!(
            output.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let tests = yaml::file(RULE_TESTS);
    let tested: BTreeSet<&str> = array_at(&tests, "/tests")
        .iter()
        .flat_map(|t| array_at(t, "/alert_rule_test"))
        .filter(|case| !array_at(case, "/exp_alerts").is_empty())
        .map(|case| str_at(case, "/alertname", RULE_TESTS))
        .collect();
    let runbook = std::fs::read_to_string(root.join("docs/operations.md")).unwrap();
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|heading| heading.trim().to_lowercase())
        .collect();
    let rules = yaml::file(RULES);
    let alerts: Vec<&Value> = array_at(&rules, "/groups")
        .iter()
        .flat_map(|g| array_at(g, "/rules"))
        .filter(|r| r["alert"].is_string())
        .collect();
    assert!(alerts.len() >= 7, "the rules define the alerts: {alerts:?}");
    for alert in alerts {
        let name = str_at(alert, "/alert", RULES);
        let severity = str_at(alert, "/labels/severity", name);
        assert!(
            ["info", "warning", "critical"].contains(&severity),
            "{name}: severity {severity}"
        );
        for annotation in ["summary", "description"] {
            assert!(
                !str_at(alert, &format!("/annotations/{annotation}"), name).is_empty(),
                "{name}: empty {annotation}"
            );
        }
        let url = str_at(alert, "/annotations/runbook_url", name);
        let anchor = url.rsplit_once('#').map(|(_, a)| a).unwrap_or_default();
        assert_eq!(anchor, name.to_lowercase(), "{name}: runbook_url {url}");
        assert!(
            url.contains("docs/operations.md#") && anchors.contains(anchor),
            "{name}: docs/operations.md has no runbook heading `### {name}`"
        );
        assert!(
            tested.contains(name),
            "{name}: no test in {RULE_TESTS} expects it to fire"
        );
    }
}

// ---------------------------------------------------- Prometheus, dashboard, live pipeline

/// The names of the metrics `earshot ingest serve` and `earshot ingest stream` export.
fn ingest_metric_names() -> BTreeSet<String> {
    use ::prometheus::core::Collector;
    let m = earshot_ingest::IngestMetrics::register(&::prometheus::Registry::new()).unwrap();
    let collectors: [&dyn Collector; 10] = [
        &m.requests,
        &m.posts_published,
        &m.dead_letters,
        &m.skipped,
        &m.signature_failures,
        &m.duplicates,
        &m.reconnects,
        &m.lag,
        &m.ack_latency,
        &m.cursor,
    ];
    collectors
        .iter()
        .flat_map(|c| c.desc())
        .map(|d| d.fq_name.clone())
        .collect()
}

/// Waits until `/readyz` on `port` answers 200, the process still running.
pub fn wait_ready(process: &mut Proc, port: u16, path: &str) {
    let started = Instant::now();
    loop {
        process.assert_running("before it was ready");
        match http_get(port, path) {
            Some((200, _)) => return,
            Some((404, _)) => panic!("{}: the admin server has no {path}", process.name),
            _ => {}
        }
        assert!(
            started.elapsed() < READY_WITHIN,
            "{}: {path} on port {port} did not answer 200 within {} s\n{}",
            process.name,
            READY_WITHIN.as_secs(),
            process.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn prometheus_scrapes_earshot_run_and_every_panel_and_alert_query_works() {
    let Some(prometheus_bin) = PROMETHEUS.find_or_skip("prometheus_scrapes_earshot_run") else {
        return;
    };
    let _serial = serial();
    let dir = temp_dir("prometheus");
    let config = repo_root().join("examples/earshot.toml");

    // The embedded broker, with every topic in two partitions (lag per partition shows two).
    let mut settings = Settings::load(Some(&config)).unwrap();
    settings.kafka.partitions = 2;
    let queues = earshot::topics::route_queues(&settings).unwrap();
    let broker = EmbeddedKafka::start(1).expect("starting the embedded broker");
    let brokers = broker.bootstrap_servers();
    broker
        .create_topics(&settings.kafka, &settings.kafka.topics.all(&queues))
        .unwrap();

    let admin = free_port();
    let mut command = Command::new(earshot_bin());
    command
        .args(["run", "--config"])
        .arg(&config)
        .env("EARSHOT__KAFKA__BROKERS", &brokers)
        .env("EARSHOT__ADMIN__LISTEN", format!("127.0.0.1:{admin}"))
        .env("EARSHOT__ROUTE__CLOCK", "event")
        .env_remove("RUST_LOG");
    let mut run = Proc::spawn("earshot-run", command, dir.path());
    wait_ready(&mut run, admin, "/readyz");

    let mut prometheus = Prometheus::start(
        &prometheus_bin,
        dir.path(),
        &repo_root().join(RULES),
        &[("earshot", format!("127.0.0.1:{admin}"))],
    );
    prometheus.wait("a first scrape", Duration::from_secs(60), |p| {
        p.query("earshot_posts_received_total")
            .is_ok_and(|r| !r.is_empty())
    });

    let garbage = 5;
    publish_garbage(&brokers, &settings.kafka.topics.raw, garbage);
    let (mut ingest, posts) = ingest_slowly(dir.path(), &brokers, 400, Duration::from_millis(700));
    let status = ingest.wait(Duration::from_secs(120));
    assert!(status.success(), "ingest failed\n{}", ingest.log_tail());
    let expected = (posts + garbage) as f64;

    // Every post through the fused stage (`earshot run`'s default shape), as Prometheus
    // saw it.
    prometheus.wait(
        "every post analyzed and routed",
        Duration::from_secs(120),
        |p| {
            p.sum(r#"earshot_posts_received_total{stage="process"}"#) >= expected
                && p.sum("earshot_in_flight_records") == 0.0
        },
    );
    run.assert_running("after the posts went through");

    // Rules evaluated on that data, lag reported, the dead letters alerted on. What is still
    // missing after the wait, the assertions below name.
    let panels = dashboard_queries();
    prometheus.poll("rules, lag and every panel", Duration::from_secs(60), |p| {
        p.rules().iter().all(|r| r["health"] == "ok")
            && p.alerts()
                .iter()
                .any(|a| a["labels"]["alertname"] == "EarshotDeadLetters")
            && panels.iter().all(|(_, exprs)| {
                exprs.iter().any(|e| {
                    p.query_range(&as_grafana_sends_it(e), 120)
                        .is_ok_and(|r| has_numbers(&r))
                })
            })
    });

    // Every dashboard query answers, and every panel shows data.
    let mut problems = Vec::new();
    let mut used_names = BTreeSet::new();
    for (title, exprs) in &panels {
        let mut shows_data = false;
        for expr in exprs {
            used_names.extend(metric_names_in(expr));
            match prometheus.query_range(&as_grafana_sends_it(expr), 120) {
                Ok(result) => shows_data |= has_numbers(&result),
                Err(e) => problems.push(format!("panel {title:?}: {expr}: {e}")),
            }
        }
        if !shows_data {
            problems.push(format!("panel {title:?} shows no data: {exprs:?}"));
        }
    }
    // Every rule evaluates without error, by Prometheus's rule manager and by query.
    for rule in prometheus.rules() {
        let name = rule["name"].as_str().unwrap_or("?");
        let expr = rule["query"].as_str().unwrap_or_default();
        used_names.extend(metric_names_in(expr));
        if rule["health"] != "ok" || rule["lastError"].as_str().is_some_and(|e| !e.is_empty()) {
            problems.push(format!(
                "rule {name}: {} {}",
                rule["health"], rule["lastError"]
            ));
        }
        if let Err(e) = prometheus.query(expr) {
            problems.push(format!("rule {name}: {expr}: {e}"));
        }
    }
    // Every metric the rules and the dashboard name is one Earshot exports: `earshot run`
    // here, the ingest server's own metrics from the ingest crate (`earshot run` has no
    // webhook server or stream client, so this scrape cannot show them).
    let mut exported = prometheus.metric_names();
    exported.extend(ingest_metric_names());
    for name in &used_names {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        if !exported.contains(name.as_str()) && !exported.contains(base) {
            problems.push(format!("{name} is not among the exported metrics"));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n{}",
        problems.join("\n"),
        run.log_tail()
    );

    // The alerts the data calls for, and no other.
    let active: BTreeMap<String, String> = prometheus
        .alerts()
        .iter()
        .map(|a| {
            (
                a["labels"]["alertname"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                a["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        active.get("EarshotDeadLetters").map(String::as_str),
        Some("firing"),
        "{active:?}"
    );
    let incidents = prometheus.sum("earshot_incidents_opened_total");
    if incidents > 0.0 {
        assert!(active.contains_key("EarshotIncidentOpened"), "{active:?}");
    }
    for quiet in [
        "EarshotStageNotReady",
        "EarshotDown",
        "EarshotDeliveryFailed",
        "EarshotPostsInNoOutputs",
        "EarshotPostToTicketLatencyHigh",
    ] {
        assert!(!active.contains_key(quiet), "{quiet} is active: {active:?}");
    }
    assert_eq!(
        prometheus.sum("earshot_stage_ready"),
        1.0,
        "the fused stage ready"
    );
    eprintln!(
        "{} panels, {} rules, {} metric names checked; {incidents} incidents; active alerts: {active:?}",
        panels.len(),
        prometheus.rules().len(),
        used_names.len()
    );

    let status = run.terminate(Duration::from_secs(60));
    assert!(
        status.success(),
        "earshot run after SIGTERM: {status}\n{}",
        run.log_tail()
    );
}

// ------------------------------------------------------------------------------ Kubernetes

#[test]
fn kubernetes_manifests_match_the_code() {
    let Some(kubectl) = KUBECTL.find_or_skip("kubernetes_manifests_match_the_code") else {
        return;
    };
    let _serial = serial();
    Manifests::render(&kubectl, "deploy/k8s/base");
    let overlay = Manifests::render(&kubectl, "deploy/k8s/overlays/example");
    let topic_manifests = Manifests::render(&kubectl, "deploy/k8s/topics");
    let topics = kafka_topics(&topic_manifests);
    let dir = temp_dir("k8s");
    // Route's changelog: partition for partition with the scored topic, compacted.
    let defaults = earshot_pipeline::Topics::default();
    assert_eq!(
        topics.get(&defaults.changelog),
        topics.get(&defaults.scored),
        "the changelog has as many partitions as the scored topic"
    );
    let changelog = topic_manifests
        .named("KafkaTopic", &defaults.changelog)
        .expect("a KafkaTopic for the changelog");
    assert_eq!(
        changelog["spec"]["config"]["cleanup.policy"], "compact",
        "the changelog is compacted, never deleted by age"
    );

    let broker = EmbeddedKafka::start(1).expect("starting the embedded broker");
    for (topic, partitions) in &topics {
        broker
            .cluster()
            .create_topic(topic, *partitions, 1)
            .unwrap();
    }
    let deployments: Vec<&Value> = overlay.of_kind("Deployment").collect();
    let stages: BTreeSet<String> = deployments
        .iter()
        .map(|d| str_at(d, "/spec/template/spec/containers/0/args/0", "a Deployment").to_string())
        .collect();
    assert!(
        stages.contains("analyze") && stages.contains("route"),
        "a Deployment per stage: {stages:?}"
    );
    for deployment in deployments {
        let name = str_at(deployment, "/metadata/name", "a Deployment");
        let pod = Pod::lay_out(&overlay, deployment, &dir.path().join(name));
        let (settings, config) = settings_of(&pod);
        check_deployment(&overlay, &pod, &settings, &topics);
        if pod.args()[0] == "route" {
            let mut expected = settings
                .kafka
                .topics
                .all(&earshot::topics::route_queues(&settings).unwrap());
            expected.sort();
            let defined: Vec<String> = topics.keys().cloned().collect();
            assert_eq!(defined, expected, "KafkaTopics against the configuration");
        }
        run_pod(&pod, &config, &broker.bootstrap_servers(), dir.path());
    }
}

// ------------------------------------------------------------------------------ compose

#[test]
fn compose_file_matches_the_code() {
    let compose = yaml::file("deploy/compose.yaml");
    let deploy = repo_root().join("deploy");
    let services = compose["services"].as_object().expect("services");
    let dockerfile = std::fs::read_to_string(deploy.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("COPY examples/ /etc/earshot/"),
        "the image carries examples/ as /etc/earshot (what the compose services' --config names)"
    );
    let example = repo_root().join("examples/earshot.toml");
    let mut admin_ports = BTreeSet::new();
    for (name, service) in services
        .iter()
        .filter(|(_, s)| s["image"] == "earshot:local")
    {
        let command: Vec<&str> = array_at(service, "/command")
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            command
                .iter()
                .position(|a| *a == "--config")
                .map(|i| command[i + 1]),
            Some("/etc/earshot/earshot.toml"),
            "{name}: {command:?}"
        );
        let env: Vec<(String, String)> = service["environment"]
            .as_object()
            .expect("environment")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let settings = Settings::load_with_env(Some(&example), Some(env))
            .unwrap_or_else(|e| panic!("{name}: configuration refused: {e:#}"));
        let help = Command::new(earshot_bin())
            .arg(command[0])
            .arg("--help")
            .output()
            .unwrap();
        assert!(
            help.status.success(),
            "{name}: `earshot {}` is no command",
            command[0]
        );
        if DAEMONS.contains(&command[0]) {
            let port = settings
                .admin
                .listen
                .rsplit_once(':')
                .unwrap()
                .1
                .to_string();
            let check = array_at(service, "/healthcheck/test")
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                check.contains(&format!(":{port}/readyz")),
                "{name}: health check {check:?} on the admin port {port}"
            );
            admin_ports.insert(port);
        }
    }
    assert!(!admin_ports.is_empty(), "compose runs Earshot's daemons");

    // The topic job creates exactly the topics the example configuration uses.
    let settings = Settings::load(Some(&example)).unwrap();
    let mut expected = settings
        .kafka
        .topics
        .all(&earshot::topics::route_queues(&settings).unwrap());
    expected.sort();
    let script = array_at(&compose, "/services/kafka-topics/command")
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect::<String>();
    let mut created: Vec<String> = script
        .split(|c: char| c.is_whitespace() || c == '\\' || c == ';')
        .filter(|w| w.starts_with("earshot."))
        .map(str::to_string)
        .collect();
    created.sort();
    assert_eq!(created, expected, "the topics compose creates");
    let changelog = settings.kafka.topics.changelog.clone();
    assert!(
        script
            .split("kafka-topics.sh")
            .any(|command| command.contains(&format!("--topic {changelog} "))
                && command.contains("--config cleanup.policy=compact")),
        "compose creates {changelog} compacted"
    );

    // Prometheus and Grafana find their files, and scrape / query what compose runs.
    let mounts = |service: &str| -> Vec<(PathBuf, String)> {
        array_at(&compose, &format!("/services/{service}/volumes"))
            .iter()
            .map(|v| {
                let spec = v.as_str().unwrap();
                let mut parts = spec.split(':');
                let host = deploy.join(parts.next().unwrap());
                assert!(host.exists(), "{service} mounts {spec}: missing");
                (host, parts.next().unwrap().to_string())
            })
            .collect()
    };
    let prometheus_mounts = mounts("prometheus");
    assert!(prometheus_mounts
        .iter()
        .any(|(host, target)| host.join("prometheus.yml").is_file()
            && host.join("earshot-rules.yaml").is_file()
            && target == "/etc/prometheus"));
    let scrape = yaml::file("deploy/prometheus/prometheus.yml");
    for job in array_at(&scrape, "/scrape_configs") {
        for sd in array_at(job, "/dns_sd_configs") {
            for target in array_at(sd, "/names") {
                let target = target.as_str().unwrap();
                assert!(
                    services.contains_key(target),
                    "Prometheus scrapes {target}: no such service"
                );
            }
            let port = sd["port"].as_u64().unwrap().to_string();
            assert!(
                admin_ports.contains(&port),
                "Prometheus scrapes port {port}"
            );
        }
    }
    let grafana_mounts = mounts("grafana");
    let dashboards = yaml::file("deploy/grafana/provisioning/dashboards/earshot.yaml");
    let path = str_at(
        &dashboards,
        "/providers/0/options/path",
        "dashboard provider",
    );
    assert!(
        grafana_mounts
            .iter()
            .any(|(host, target)| target == path && host.join("earshot.json").is_file()),
        "Grafana's dashboard folder {path} holds earshot.json"
    );
    let home = str_at(
        &compose,
        "/services/grafana/environment/GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH",
        "grafana",
    );
    assert_eq!(home, format!("{path}/earshot.json"));
    let sources = yaml::file("deploy/grafana/provisioning/datasources/prometheus.yaml");
    let url = str_at(&sources, "/datasources/0/url", "data source");
    assert_eq!(
        url, "http://prometheus:9090",
        "Grafana queries the compose Prometheus"
    );
}
