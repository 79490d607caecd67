//! Closed pipes and full disks (issue 9): every command ends without a panic. A closed pipe
//! is a normal end (quiet, status 0; a daemon first stops gracefully); any other write error
//! is a message and status 74. Logs carry colour only on a terminal.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use earshot_kafka::EmbeddedKafka;

use super::{earshot, examples};

/// A mock cluster with Earshot's topics (one partition each). The mock does not answer the
/// admin API's CreateTopics, so the topics are made on the cluster directly.
fn broker() -> EmbeddedKafka {
    let broker = EmbeddedKafka::start(1).unwrap();
    let settings = earshot_pipeline::KafkaConfig {
        client: earshot_kafka::KafkaSettings {
            partitions: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    broker
        .create_topics(&settings, &settings.topics.all::<&str>(&[]))
        .unwrap();
    broker
}

/// The write end of a pipe whose reader is gone: any write to it fails with `BrokenPipe`.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer.into()
}

fn dev_full() -> Stdio {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
        .into()
}

fn assert_no_panic(what: &str, output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{what}: {stderr}"
    );
    assert!(
        !matches!(output.status.code(), Some(101) | None),
        "{what}: {:?}",
        output.status
    );
}

/// Runs `command` with stdout going to `stdout` and stderr captured.
fn run(mut command: Command, stdout: Stdio) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn posts_file(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("posts.jsonl");
    let posts: String = (0..200)
        .map(|i| {
            format!("{{\"id\":\"p{i}\",\"text\":\"星空モバイル 圏外で繋がらない {i}\",\"created_at\":\"2026-11-20T10:00:00Z\"}}\n")
        })
        .collect();
    std::fs::write(&file, posts).unwrap();
    file
}

/// Commands that write results to stdout, on a small posts file in `dir`.
fn stdout_commands(dir: &std::path::Path) -> Vec<(&'static str, Vec<std::ffi::OsString>)> {
    let posts = posts_file(dir).into_os_string();
    let config = examples().join("earshot.toml").into_os_string();
    let text = "オススメできません。さらに、機能が、ほぼ機能しません。";
    let args = |parts: &[&std::ffi::OsStr]| parts.iter().map(|p| p.to_os_string()).collect();
    vec![
        ("explain", args(&["explain".as_ref(), text.as_ref()])),
        (
            "explain --json",
            args(&["explain".as_ref(), "--json".as_ref(), text.as_ref()]),
        ),
        (
            "check",
            args(&["check".as_ref(), "--config".as_ref(), &config]),
        ),
        (
            "score",
            args(&["score".as_ref(), "--config".as_ref(), &config, &posts]),
        ),
        (
            "triage",
            args(&["triage".as_ref(), "--config".as_ref(), &config, &posts]),
        ),
        (
            "demo --json",
            args(&["demo".as_ref(), "--json".as_ref(), &posts]),
        ),
    ]
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let _one = super::one_broker_test_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    for (what, args) in stdout_commands(dir.path()) {
        let mut command = earshot();
        command.args(&args);
        let output = run(command, closed_pipe());
        assert_no_panic(what, &output);
        assert_eq!(output.status.code(), Some(0), "{what}: {output:?}");
    }
}

#[test]
fn a_full_disk_is_a_message_and_status_74() {
    let _one = super::one_broker_test_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    for (what, args) in stdout_commands(dir.path()) {
        let mut command = earshot();
        command.args(&args);
        let output = run(command, dev_full());
        assert_no_panic(what, &output);
        assert_eq!(output.status.code(), Some(74), "{what}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("could not write to stdout: No space left on device"),
            "{what}: {stderr}"
        );
    }
}

/// Ingest with stderr on a full disk still publishes every post, then reports the failure
/// in its status (the message itself cannot be written).
#[test]
fn ingest_with_stderr_on_a_full_disk_publishes_and_exits_74() {
    let _one = super::one_broker_test_at_a_time();
    let broker = broker();
    let dir = tempfile::tempdir().unwrap();
    let posts = posts_file(dir.path());
    let output = earshot()
        .args(["ingest", "--config"])
        .arg(examples().join("earshot.toml"))
        .arg(&posts)
        .env("EARSHOT__KAFKA__BROKERS", broker.bootstrap_servers())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(dev_full())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(74), "{output:?}");
    assert_eq!(count_records(&broker, "earshot.posts.raw"), 200);
}

fn count_records(broker: &EmbeddedKafka, topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap_servers())
        .create()
        .unwrap();
    let (low, high) = consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .unwrap();
    high - low
}

/// `earshot run 2>&1 | head -1`: once the reader is gone, the daemon stops gracefully (as on
/// SIGTERM) and exits 0, well within its shutdown deadline; librdkafka's threads log through
/// the same writer and do not abort the process.
#[test]
fn run_piped_into_head_stops_gracefully() {
    let _one = super::one_broker_test_at_a_time();
    let broker = broker();
    let (mut reader, writer) = std::io::pipe().unwrap();
    let mut child = earshot()
        .args(["run", "--config"])
        .arg(examples().join("earshot.toml"))
        .env("EARSHOT__KAFKA__BROKERS", broker.bootstrap_servers())
        .env("EARSHOT__KAFKA__SHUTDOWN_SECONDS", "5")
        .env("EARSHOT__ADMIN__LISTEN", "")
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    // `head -1`: one line, then the reader goes away.
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    while reader.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        first.push(byte[0]);
    }
    assert!(!first.is_empty());
    drop(reader);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("earshot run did not stop after its log reader went away");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let first = String::from_utf8_lossy(&first);
    assert_eq!(status.code(), Some(0), "{status:?}, first line {first}");
    assert!(!first.contains('\x1b'), "no colour on a pipe: {first}");
}

/// `earshot tail TOPIC | head`: the reader going away ends the tail quietly.
#[test]
fn tail_into_a_closed_pipe_exits_quietly() {
    let _one = super::one_broker_test_at_a_time();
    let broker = broker();
    {
        use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
        let producer: BaseProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap_servers())
            .create()
            .unwrap();
        for i in 0..20 {
            let payload = format!("{{\"kind\":\"unrouted\",\"n\":{i}}}");
            producer
                .send(BaseRecord::<(), str>::to("earshot.posts.unrouted").payload(&payload))
                .map_err(|(e, _)| e)
                .unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();
    }
    let mut command = earshot();
    command
        .args(["tail", "--from-beginning", "earshot.posts.unrouted"])
        .env("EARSHOT__KAFKA__BROKERS", broker.bootstrap_servers());
    let output = run(command, closed_pipe());
    assert_no_panic("tail", &output);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

/// `earshot score /dev/zero`: one endless line; memory stays bounded by the record limit.
#[test]
fn an_endless_line_does_not_grow_memory() {
    let mut child = earshot()
        .args(["score", "/dev/zero"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Long enough to have read far more than any limit (hundreds of MB a second).
    std::thread::sleep(Duration::from_secs(2));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(rss_kb < 200 * 1024, "resident memory {rss_kb} kB");
}

/// `earshot ingest` with a line over 1 MB: the line lands in the dead-letter topic, cut to
/// the record limit, with its reason, size and hash; the post after it is published.
#[test]
fn ingest_dead_letters_a_line_over_a_megabyte_cut_to_fit() {
    let _one = super::one_broker_test_at_a_time();
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message};
    let broker = broker();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("posts.jsonl");
    let long = format!(r#"{{"id":"long","text":"{}"}}"#, "x".repeat(1_500_000));
    std::fs::write(
        &file,
        format!("{long}\n{{\"id\":\"ok\",\"text\":\"星空モバイル\"}}\n"),
    )
    .unwrap();
    let output = earshot()
        .args(["ingest", "--config"])
        .arg(examples().join("earshot.toml"))
        .arg(&file)
        .env("EARSHOT__KAFKA__BROKERS", broker.bootstrap_servers())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(count_records(&broker, "earshot.posts.raw"), 1);
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap_servers())
        .set("group.id", "dlq-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&["earshot.dlq"]).unwrap();
    let started = Instant::now();
    let message = loop {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            break m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no dead letter"
        );
    };
    let header = |name: &str| {
        let headers = message.headers().unwrap();
        headers
            .iter()
            .find(|h| h.key == name)
            .map(|h| String::from_utf8_lossy(h.value.unwrap()).into_owned())
    };
    assert_eq!(
        header("earshot-dlq-error-code").as_deref(),
        Some("oversize")
    );
    assert_eq!(
        header("earshot-dlq-original-bytes"),
        Some(long.len().to_string())
    );
    assert!(header("earshot-dlq-reason")
        .unwrap()
        .contains("max_record_bytes"));
    assert_eq!(
        header("earshot-dlq-original-sha256").map(|h| h.len()),
        Some(64)
    );
    assert_eq!(message.payload().unwrap(), &long.as_bytes()[..256 * 1024]);
}
