//! The checks of a Kubernetes Deployment against the code: what its container's
//! configuration says once read the way Earshot reads it, what the other manifests say about
//! it (Service, PodDisruptionBudget, ScaledObject, KafkaTopics), and its probes answered by
//! the real process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use earshot::settings::Settings;
use earshot_e2e::earshot_bin;
use earshot_e2e::process::{free_port, http_get, Proc};

use crate::kube::{self, Manifests, Pod};
use crate::yaml::{array_at, str_at};
use crate::{wait_ready, DAEMONS};

/// The stage a daemon command runs: its consumer group and input topic.
pub fn group_and_input(settings: &Settings, command: &str) -> (String, String) {
    let kafka = &settings.kafka;
    match command {
        "analyze" => (kafka.groups.analyze.clone(), kafka.topics.raw.clone()),
        "route" => (kafka.groups.route.clone(), kafka.topics.scored.clone()),
        other => panic!("no single consumer group for `earshot {other}`"),
    }
}

/// The KafkaTopics: topic name → partitions.
pub fn kafka_topics(topics: &Manifests) -> BTreeMap<String, i32> {
    topics
        .of_kind("KafkaTopic")
        .map(|t| {
            let name = str_at(t, "/metadata/name", "a KafkaTopic");
            assert!(kube::valid_object_name(name), "KafkaTopic name {name:?}");
            assert!(
                t["metadata"]["labels"]["strimzi.io/cluster"].is_string(),
                "KafkaTopic {name}: no strimzi.io/cluster label"
            );
            let partitions = t["spec"]["partitions"].as_i64().expect("partitions");
            (
                str_at(t, "/spec/topicName", name).to_string(),
                partitions as i32,
            )
        })
        .collect()
}

/// The configuration of a pod as Earshot would read it in the container.
pub fn settings_of(pod: &Pod<'_>) -> (Settings, PathBuf) {
    let config = pod.host_path(&pod.config_path());
    let text = std::fs::read_to_string(&config).expect("reading the mounted configuration");
    std::fs::write(&config, pod.relocate(&text)).unwrap();
    let settings = Settings::load_with_env(Some(&config), Some(pod.env()))
        .unwrap_or_else(|e| panic!("{}: configuration refused: {e:#}", pod.name()));
    (settings, config)
}

/// The checks a Deployment's container passes without running it.
pub fn check_deployment(
    overlay: &Manifests,
    pod: &Pod<'_>,
    settings: &Settings,
    topics: &BTreeMap<String, i32>,
) {
    let name = pod.name();
    let command = pod.args()[0].clone();
    assert!(
        DAEMONS.contains(&command.as_str()),
        "{name}: `earshot {command}` is no daemon"
    );
    for (var, _) in pod.env() {
        assert!(
            var.starts_with("EARSHOT__"),
            "{name}: env {var} is not Earshot's"
        );
    }
    // Probes: on the admin port, at the paths the admin server serves.
    let listen_port: u64 = settings
        .admin
        .listen
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("{name}: admin.listen {:?}", settings.admin.listen));
    assert_eq!(
        pod.port("admin"),
        listen_port,
        "{name}: container port admin"
    );
    assert!(
        settings.admin.listen.starts_with("0.0.0.0:"),
        "{name}: the admin server must listen on every interface in a pod: {}",
        settings.admin.listen
    );
    for probe in ["livenessProbe", "readinessProbe"] {
        assert!(pod.container[probe].is_object(), "{name}: no {probe}");
    }
    let grace = pod.deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap_or(30);
    assert!(
        grace > settings.kafka.shutdown_seconds,
        "{name}: terminationGracePeriodSeconds {grace} must exceed kafka.shutdown_seconds {}",
        settings.kafka.shutdown_seconds
    );
    for resource in ["cpu", "memory"] {
        assert!(
            pod.container["resources"]["requests"][resource].is_string(),
            "{name}: no {resource} request"
        );
    }
    // A Service for the admin port and a disruption budget select the pods.
    assert!(
        overlay
            .of_kind("Service")
            .any(|s| pod.selected_by(&s["spec"]["selector"])
                && array_at(s, "/spec/ports")
                    .iter()
                    .any(|p| p["targetPort"] == "admin")),
        "{name}: no Service for its admin port"
    );
    assert!(
        overlay
            .of_kind("PodDisruptionBudget")
            .any(|b| pod.selected_by(&b["spec"]["selector"]["matchLabels"])),
        "{name}: no PodDisruptionBudget"
    );
    // Scaling on the lag of its own group and input topic, never past the partitions.
    let (group, input) = group_and_input(settings, &command);
    let scaled = overlay
        .of_kind("ScaledObject")
        .find(|s| s["spec"]["scaleTargetRef"]["name"] == name)
        .unwrap_or_else(|| panic!("{name}: no ScaledObject"));
    let trigger = array_at(scaled, "/spec/triggers")
        .iter()
        .find(|t| t["type"] == "kafka")
        .unwrap_or_else(|| panic!("{name}: no kafka trigger"));
    let meta = &trigger["metadata"];
    assert_eq!(
        meta["consumerGroup"],
        group.as_str(),
        "{name}: KEDA's consumer group"
    );
    assert_eq!(meta["topic"], input.as_str(), "{name}: KEDA's topic");
    assert_eq!(
        meta["bootstrapServers"],
        settings.kafka.brokers.as_str(),
        "{name}: KEDA's brokers"
    );
    assert_eq!(
        meta["allowIdleConsumers"], "false",
        "{name}: KEDA may not idle consumers"
    );
    let partitions = *topics
        .get(&input)
        .unwrap_or_else(|| panic!("{name}: no KafkaTopic for its input {input}"));
    let max = scaled["spec"]["maxReplicaCount"]
        .as_i64()
        .expect("maxReplicaCount");
    assert!(
        max <= i64::from(partitions),
        "{name}: maxReplicaCount {max} exceeds the {partitions} partitions of {input}"
    );
}

/// Starts the pod's command on the embedded broker (the one change to its configuration:
/// the brokers, without the SASL/TLS properties) and waits until every probe answers 200.
pub fn run_pod(pod: &Pod<'_>, config: &Path, brokers: &str, dir: &Path) {
    let name = pod.name();
    let mut table: toml::Table = std::fs::read_to_string(config).unwrap().parse().unwrap();
    let kafka = table
        .entry("kafka")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap();
    kafka.insert("brokers".into(), brokers.into());
    kafka.remove("properties");
    std::fs::write(config, toml::to_string(&table).unwrap()).unwrap();

    let admin = free_port();
    let mut command = Command::new(earshot_bin());
    let mut args = pod.args();
    let at = args.iter().position(|a| a == "--config").unwrap();
    args[at + 1] = config.display().to_string();
    command
        .args(&args)
        .envs(pod.env())
        .env("EARSHOT__ADMIN__LISTEN", format!("127.0.0.1:{admin}"))
        .env("EARSHOT__LOG__FORMAT", "human")
        .env("HOSTNAME", format!("{name}-0"))
        .env_remove("RUST_LOG");
    let mut process = Proc::spawn(name, command, dir);
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let spec = &pod.container[probe];
        if spec.is_null() {
            continue;
        }
        assert_eq!(spec["httpGet"]["port"], "admin", "{name}: {probe} port");
        let path = str_at(spec, "/httpGet/path", name);
        wait_ready(&mut process, admin, path);
    }
    let (_, metrics) = http_get(admin, "/metrics").expect("/metrics answers");
    assert!(
        metrics.contains("earshot_stage_ready{"),
        "{name}: /metrics lacks earshot_stage_ready"
    );
    let status = process.terminate(Duration::from_secs(60));
    assert!(
        status.success(),
        "{name} after SIGTERM: {status}\n{}",
        process.log_tail()
    );
}
