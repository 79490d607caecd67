//! The daemon with a frozen broker (issue 9): records in flight whose outputs the broker
//! never acknowledges make `/readyz` and then `/livez` fail, and a SIGTERM still ends the
//! process within `shutdown_seconds`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use earshot_kafka::EmbeddedKafka;
use earshot_pipeline::KafkaConfig;
use rdkafka::mocking::MockCoordinator;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::{earshot, examples};

/// `GET path` on the admin server: (status, body); `None` while it does not answer.
pub(super) fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Some((status, body))
}

pub(super) fn wait_until<T>(
    what: &str,
    within: Duration,
    mut done: impl FnMut() -> Option<T>,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(found) = done() {
            return found;
        }
        assert!(started.elapsed() < within, "waited {within:?} for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_frozen_broker_fails_readiness_and_liveness_and_the_deadline_holds() {
    let _one = super::one_broker_test_at_a_time();
    // Broker 2 leads the scored topic; everything else (raw posts, the groups) is on 1. The
    // pipeline runs split, so that analyze's outputs go to the frozen broker.
    let broker = EmbeddedKafka::start(2).unwrap();
    let settings = KafkaConfig {
        client: earshot_kafka::KafkaSettings {
            partitions: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    broker
        .create_topics(&settings, &settings.topics.all(&["outage", "social_care"]))
        .unwrap();
    let cluster = broker.cluster();
    for topic in settings.topics.all(&["outage", "social_care"]) {
        let leader = if topic == settings.topics.scored {
            2
        } else {
            1
        };
        cluster.partition_leader(&topic, 0, Some(leader)).unwrap();
    }
    for group in ["earshot-analyze", "earshot-route"] {
        cluster
            .coordinator(MockCoordinator::Group(group.into()), 1)
            .unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut child = earshot()
        .args(["run", "--config"])
        .arg(examples().join("earshot.toml"))
        .env("EARSHOT__KAFKA__BROKERS", broker.bootstrap_servers())
        .env("EARSHOT__KAFKA__SHUTDOWN_SECONDS", "5")
        .env("EARSHOT__ADMIN__LISTEN", format!("127.0.0.1:{port}"))
        .env("EARSHOT__ADMIN__LIVE_STALL_SECONDS", "15")
        .env("EARSHOT__PIPELINE__SHAPE", "split")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    wait_until("/readyz to be 200", Duration::from_secs(60), || {
        get(port, "/readyz")
            .filter(|(s, _)| *s == 200)
            .map(|(_, b)| b)
    });

    // Freeze the broker behind the scored topic, then give analyze work.
    cluster
        .broker_round_trip_time(2, Duration::from_secs(600))
        .unwrap();
    let first_broker = broker.bootstrap_servers();
    let first_broker = first_broker.split(',').next().unwrap();
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", first_broker)
        .create()
        .unwrap();
    for i in 0..20 {
        let post = format!(r#"{{"id":"frozen-{i}","text":"星空モバイル 圏外で繋がらない"}}"#);
        producer
            .send(BaseRecord::to(&settings.topics.raw).key("k").payload(&post))
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(20)).unwrap();

    let ready = wait_until("/readyz to fail", Duration::from_secs(60), || {
        get(port, "/readyz")
            .filter(|(s, _)| *s == 503)
            .map(|(_, b)| b)
    });
    assert!(
        ready.contains("analyze: outputs not acknowledged by the broker"),
        "{ready}\n{}",
        log()
    );
    let live = wait_until("/livez to fail", Duration::from_secs(60), || {
        get(port, "/livez")
            .filter(|(s, _)| *s == 503)
            .map(|(_, b)| b)
    });
    assert!(
        live.contains("analyze: outputs not acknowledged for"),
        "{live}"
    );

    // SIGTERM: the process is gone within shutdown_seconds (5 s), with a little slack for
    // a loaded machine, although the outputs can never be delivered.
    let terminated = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if terminated.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("still running 30 s after SIGTERM\n{}", log());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = terminated.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "stopped after {took:?} with shutdown_seconds = 5\n{}",
        log()
    );
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "{status:?}\n{}",
        log()
    );
    assert!(!log().contains("panicked"), "{}", log());
}
