//! Hot reload of a real `earshot run` (issue 10): a file edited in place is reloaded (the
//! folder watch), a broken one is refused with its place in the log while the old set stays,
//! SIGHUP reloads when watching is off; `/readyz` names the version each stage processes
//! with and `/metrics` counts the reloads.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use earshot_kafka::EmbeddedKafka;

use super::daemon::{get, wait_until};
use super::{earshot, examples};

const WITHIN: Duration = Duration::from_secs(60);

/// The example configuration in a folder of its own.
fn example_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "earshot.toml",
        "watchlists.toml",
        "lexicon.toml",
        "route.toml",
        "rules.toml",
    ] {
        std::fs::copy(examples().join(file), dir.path().join(file)).unwrap();
    }
    dir
}

fn append(path: &Path, text: &str) {
    let old = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, format!("{old}{text}")).unwrap();
}

struct Daemon {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Daemon {
    fn start(dir: &Path, broker: &EmbeddedKafka, env: &[(&str, &str)]) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let settings = earshot::settings::Settings::load(Some(&dir.join("earshot.toml"))).unwrap();
        let queues = earshot::topics::route_queues(&settings).unwrap();
        let kafka = earshot_pipeline::KafkaConfig {
            client: earshot_kafka::KafkaSettings {
                partitions: 1,
                ..Default::default()
            },
            ..Default::default()
        };
        broker
            .create_topics(&kafka, &kafka.topics.all(&queues))
            .unwrap();
        let log = dir.join("log");
        let mut command = earshot();
        command
            .args(["run", "--config"])
            .arg(dir.join("earshot.toml"))
            .env("EARSHOT__KAFKA__BROKERS", broker.bootstrap_servers())
            .env("EARSHOT__KAFKA__SHUTDOWN_SECONDS", "5")
            .env("EARSHOT__ADMIN__LISTEN", format!("127.0.0.1:{port}"))
            .env("EARSHOT__RELOAD__DEBOUNCE_MS", "200")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().unwrap();
        Daemon { child, port, log }
    }

    /// [`wait_until`], failing with the daemon's log.
    fn wait<T>(&self, what: &str, mut done: impl FnMut() -> Option<T>) -> T {
        let started = std::time::Instant::now();
        loop {
            if let Some(found) = done() {
                return found;
            }
            assert!(
                started.elapsed() < WITHIN,
                "waited {WITHIN:?} for {what}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The version `/readyz` names once it answers 200, when every stage (the fused
    /// stage of `earshot run`, or analyze and route when split) processes with the same.
    fn versions(&self) -> Option<String> {
        let (status, body) = get(self.port, "/readyz")?;
        if status != 200 {
            return None;
        }
        let versions: std::collections::BTreeSet<&str> = body
            .lines()
            .filter_map(|l| l.split_once(": config ").map(|(_, v)| v))
            .collect();
        match versions.len() {
            1 => versions.into_iter().next().map(str::to_string),
            _ => None,
        }
    }

    /// Waits until every stage processes with a version other than `old`; returns it.
    fn wait_for_new_version(&self, old: &str) -> String {
        self.wait("every stage on a new version", || {
            self.versions().filter(|v| v != old)
        })
    }

    /// A sample of `/metrics`: the value of the first line that starts with `series`.
    fn metric(&self, series: &str) -> Option<f64> {
        let (_, body) = get(self.port, "/metrics")?;
        body.lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse().ok())
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM, and the exit status 0.
    fn stop(mut self) {
        self.signal("TERM");
        let status = wait_until("the daemon to exit", WITHIN, || {
            self.child.try_wait().unwrap()
        });
        assert!(status.success(), "{status:?}\n{}", self.log());
        assert!(!self.log().contains("panicked"), "{}", self.log());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const NEW_RULE: &str =
    "\n[[rule]]\nid = \"reload-test\"\nwatchlist = \"hoshizora\"\nqueue = \"social_care\"\npriority = \"P3\"\n";
const BROKEN_RULE: &str =
    "\n[[rule]]\nid = \"broken\"\nwatchlist = \"no-such-list\"\nqueue = \"social_care\"\npriority = \"P3\"\n";

#[test]
fn an_edited_file_is_reloaded_and_a_broken_one_refused_with_its_place() {
    let _one = super::one_broker_test_at_a_time();
    let broker = EmbeddedKafka::start(1).unwrap();
    let dir = example_copy();
    let daemon = Daemon::start(dir.path(), &broker, &[]);
    let first = daemon.wait("/readyz to be 200 with versions", || daemon.versions());
    assert!(first.starts_with("sha256:"), "{first}");
    let ok = "earshot_config_reloads_total{result=\"ok\"}";
    let refused = "earshot_config_reloads_total{result=\"refused\"}";
    assert_eq!(daemon.metric(ok), Some(0.0));
    assert_eq!(daemon.metric(refused), Some(0.0));
    assert_eq!(
        daemon.metric(&format!("earshot_config_info{{version=\"{first}\"}}")),
        Some(1.0)
    );

    // An edit in place: the folder watch sees it and both stages swap the new set in.
    let rules = dir.path().join("rules.toml");
    append(&rules, NEW_RULE);
    let second = daemon.wait_for_new_version(&first);
    assert_eq!(daemon.metric(ok), Some(1.0), "{}", daemon.log());
    assert_eq!(
        daemon.metric(&format!("earshot_config_info{{version=\"{second}\"}}")),
        Some(1.0)
    );

    // A broken rule, replacing the file by renaming another over it as editors do: refused,
    // with its place in the log; the set in force stays and the daemon stays ready.
    let good = std::fs::read_to_string(&rules).unwrap();
    let broken = format!("{good}{BROKEN_RULE}");
    std::fs::write(dir.path().join(".rules.toml.new"), &broken).unwrap();
    std::fs::rename(dir.path().join(".rules.toml.new"), &rules).unwrap();
    daemon.wait("the reload to be refused", || {
        daemon.metric(refused).filter(|n| *n == 1.0)
    });
    assert_eq!(
        daemon.metric("earshot_config_last_reload_refused"),
        Some(1.0)
    );
    let line = 1 + broken
        .lines()
        .position(|l| l.contains("no-such-list"))
        .unwrap();
    let log = daemon.log();
    assert!(
        log.contains(&format!("rules.toml:{line}:13: error[unknown_watchlist]")),
        "{log}"
    );
    assert!(log.contains("Configuration reload refused"), "{log}");
    assert_eq!(daemon.versions(), Some(second.clone()), "{log}");

    // Fixed: swapped in again, and the refusal is over.
    std::fs::write(&rules, format!("{good}\n# fixed\n")).unwrap();
    daemon.wait_for_new_version(&second);
    assert_eq!(
        daemon.metric("earshot_config_last_reload_refused"),
        Some(0.0)
    );
    assert_eq!(daemon.metric(ok), Some(2.0));
    daemon.stop();
}

#[test]
fn sighup_reloads_when_files_are_not_watched() {
    let _one = super::one_broker_test_at_a_time();
    let broker = EmbeddedKafka::start(1).unwrap();
    let dir = example_copy();
    let daemon = Daemon::start(dir.path(), &broker, &[("EARSHOT__RELOAD__WATCH", "false")]);
    let first = daemon.wait("/readyz to be 200 with versions", || daemon.versions());
    append(&dir.path().join("watchlists.toml"), "\n# a comment\n");
    // Not watched: nothing happens until the signal (no reload is even tried).
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(daemon.versions(), Some(first.clone()));
    daemon.signal("HUP");
    let second = daemon.wait_for_new_version(&first);
    assert_ne!(second, first);
    let log = daemon.log();
    assert!(log.contains("SIGHUP: reloading the configuration"), "{log}");
    assert!(!log.contains("Watching for configuration changes"), "{log}");
    // A second SIGHUP with nothing changed: still running, same version, nothing counted.
    daemon.signal("HUP");
    daemon.wait("the unchanged reload", || {
        daemon
            .log()
            .contains("Configuration reloaded: unchanged")
            .then_some(())
    });
    assert_eq!(daemon.versions(), Some(second));
    assert_eq!(
        daemon.metric("earshot_config_reloads_total{result=\"ok\"}"),
        Some(1.0)
    );
    daemon.stop();
}

/// Lays `files` out as kubelet does a ConfigMap volume: the data in a timestamped hidden
/// folder, `..data` a symlink to it, each file a symlink through `..data`. Called again,
/// swaps `..data` to a new folder the way kubelet's atomic writer updates a volume.
fn configmap_volume(volume: &Path, stamp: &str, files: &[(&str, String)]) {
    use std::os::unix::fs::symlink;
    let data = volume.join(format!("..{stamp}"));
    std::fs::create_dir_all(&data).unwrap();
    for (name, text) in files {
        std::fs::write(data.join(name), text).unwrap();
    }
    let old = std::fs::read_link(volume.join("..data")).ok();
    symlink(format!("..{stamp}"), volume.join("..data_tmp")).unwrap();
    std::fs::rename(volume.join("..data_tmp"), volume.join("..data")).unwrap();
    for (name, _) in files {
        let link = volume.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new("..data").join(name), link).unwrap();
        }
    }
    if let Some(old) = old {
        std::fs::remove_dir_all(volume.join(old)).unwrap();
    }
}

#[test]
fn a_configmap_volume_update_is_reloaded_and_the_version_is_earshot_checks() {
    let _one = super::one_broker_test_at_a_time();
    let broker = EmbeddedKafka::start(1).unwrap();
    let dir = example_copy();
    let volume = dir.path().join("rules");
    std::fs::create_dir(&volume).unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let (route, rules) = (read("route.toml"), read("rules.toml"));
    configmap_volume(
        &volume,
        "2026_11_30_10_00_00.1",
        &[("route.toml", route.clone()), ("rules.toml", rules.clone())],
    );
    std::fs::write(
        dir.path().join("earshot.toml"),
        "[analyze]\nwatchlists = \"watchlists.toml\"\nlexicon = [\"lexicon.toml\"]\n\n[route]\nfiles = [\"rules/route.toml\", \"rules/rules.toml\"]\n",
    )
    .unwrap();
    let daemon = Daemon::start(dir.path(), &broker, &[]);
    let first = daemon.wait("/readyz to be 200 with versions", || daemon.versions());

    // `earshot check` names the version the daemons report for the same files.
    let check = earshot()
        .args(["check", "--config"])
        .arg(dir.path().join("earshot.toml"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout).into_owned()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(said.contains(&format!("version {first}")), "{said}");

    configmap_volume(
        &volume,
        "2026_11_30_10_05_00.2",
        &[
            ("route.toml", route),
            ("rules.toml", format!("{rules}{NEW_RULE}")),
        ],
    );
    daemon.wait_for_new_version(&first);
    assert_eq!(
        daemon.metric("earshot_config_reloads_total{result=\"ok\"}"),
        Some(1.0)
    );
    daemon.stop();
}
