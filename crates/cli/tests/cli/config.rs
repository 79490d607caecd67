//! `earshot check` lists every problem at once (issue 9): unknown sections and keys, types,
//! ranges and choices in the main configuration, every term and watchlist with a problem,
//! absurd SLAs; a FIFO is refused instead of read.

use std::process::Stdio;
use std::time::Duration;

use super::{earshot, examples};

fn check(config: &std::path::Path) -> (Option<i32>, String) {
    let output = earshot()
        .args(["check", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn ten_mistakes_in_the_configuration_are_ten_problems_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("earshot.toml");
    std::fs::write(
        &config,
        r#"[kafak]
brokers = "kafka:9092"

[Analyze]
watchlists = "watchlists.toml"

[analyze.sentiment]
alpha = 0
exclamation = inf

[kafka]
partitions = 0
delivery = "exactly"

[kafka.topics]
rwa = "posts"

[route]
clock = "moon"

[log]
level = "verbose"

[limits]
max_record_bytes = "big"
"#,
    )
    .unwrap();
    let (code, stderr) = check(&config);
    assert_eq!(code, Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().skip(1).map(str::trim).collect();
    let want = [
        "earshot.toml:1:1: unknown key `kafak`",
        "earshot.toml:4:1: unknown key `Analyze`",
        "earshot.toml:8:9: `analyze.sentiment.alpha` = 0 is outside (0, 1000000]",
        "earshot.toml:9:15: `analyze.sentiment.exclamation` = inf is outside [0, 10]",
        "earshot.toml:12:14: `kafka.partitions` = 0 is outside 1..=100000",
        "earshot.toml:13:12: `kafka.delivery` = \"exactly\" is not one of at_least_once, exactly_once",
        "earshot.toml:16:7: unknown key `rwa` in kafka.topics",
        "earshot.toml:19:9: `route.clock` = \"moon\" is not one of wall, event",
        "earshot.toml:22:9: `log.level` = \"verbose\"",
        "earshot.toml:25:20: `limits.max_record_bytes` must be an integer, found string",
    ];
    assert!(stderr.starts_with("earshot: 10 problem(s)"), "{stderr}");
    assert_eq!(lines.len(), want.len(), "{stderr}");
    for (line, want) in lines.iter().zip(want) {
        let line = line.rsplit_once('/').map_or(*line, |(_, l)| l);
        assert!(line.starts_with(want), "{line}\n  wanted {want}");
    }
}

#[test]
fn every_file_s_problems_are_listed_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let examples = examples();
    std::fs::write(
        dir.path().join("earshot.toml"),
        format!(
            "[analyze]\nwatchlists = \"w.toml\"\nlexicon = [\"l.toml\"]\n[route]\nfiles = [\"{}\", \"r.toml\"]\n",
            examples.join("rules.toml").display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("w.toml"),
        "[[watchlist]]\nid = \"hoshizora\"\nterms.brand = [\"星空モバイル\"]\nqurey = \"x\"\n\n[[watchlist]]\nid = 5\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("l.toml"),
        "[[term]]\ntext = \"a\"\nintent = \"complaint\"\nweight = inf\n[[term]]\ntext = \"b\"\nsentiment = nan\n[[term]]\ntext = \"c\"\nmodifer = 1\n",
    )
    .unwrap();
    // The example route file with an absurd SLA.
    let route = std::fs::read_to_string(examples.join("route.toml"))
        .unwrap()
        .replacen("P1 = \"15m\"", "P1 = \"999999999h\"", 1);
    std::fs::write(dir.path().join("r.toml"), route).unwrap();
    let (code, stderr) = check(&dir.path().join("earshot.toml"));
    assert_eq!(code, Some(1), "{stderr}");
    for want in [
        "l.toml:1:1: weight inf is outside 0..10",
        "l.toml:5:1: sentiment NaN is outside -4..4",
        "l.toml:10:1: unknown field `modifer`",
        "w.toml:1:1: unknown field `qurey`",
        "w.toml:6:1: invalid type: integer `5`",
        "bad duration `999999999h`: a response target is at most 8760h",
    ] {
        assert!(stderr.contains(want), "{want} in\n{stderr}");
    }
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("watchlists.toml");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let config = dir.path().join("earshot.toml");
    std::fs::write(&config, "[analyze]\nwatchlists = \"watchlists.toml\"\n").unwrap();
    let mut child = earshot()
        .args(["check", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("check blocked on a FIFO");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a regular file"));
    // The main configuration itself may not be one either.
    let (code, stderr) = check(&fifo);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

#[test]
fn a_toml_error_on_a_huge_line_is_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("earshot.toml");
    std::fs::write(
        &config,
        format!("[kafka]\nbrokers = \"{}\n", "x".repeat(3_000_000)),
    )
    .unwrap();
    let (code, stderr) = check(&config);
    assert_eq!(code, Some(2));
    assert!(stderr.len() < 1000, "{} bytes of stderr", stderr.len());
    assert!(stderr.contains("earshot.toml:2:"), "{stderr}");
}

/// A post dated 9999-12-31 is refused with its reason and does not move the event clock:
/// the next post's ticket carries its own time and an RFC 3339 `due_at`.
#[test]
fn far_future_posts_are_refused_and_do_not_move_the_clock() {
    let input = concat!(
        r#"{"id":"f1","text":"星空モバイル 圏外で繋がらない","author":{"id":"a1"},"created_at":"9999-12-31T23:59:59Z"}"#,
        "\n",
        r#"{"id":"f2","text":"星空モバイル 圏外で電話が繋がらない","author":{"id":"a2"},"created_at":"2026-11-20T09:00:00Z"}"#,
        "\n"
    );
    let mut command = earshot();
    command
        .args(["triage", "--config"])
        .arg(examples().join("earshot.toml"));
    let output = super::run_with_stdin(command, input);
    assert_eq!(output.status.code(), Some(1), "an invalid line was skipped");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 1: skipped (implausible_time): created_at 9999-12-31T23:59:59Z is more than 86400 s ahead"),
        "{stderr}"
    );
    let tickets = super::json_lines(&output);
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["post"]["id"], "f2");
    assert_eq!(tickets[0]["created_at"], "2026-11-20T09:00:00Z");
    let due = tickets[0]["due_at"].as_str().unwrap();
    assert!(due.starts_with("2026-11-20T"), "{due}");
}
