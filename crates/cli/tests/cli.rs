//! The `earshot` binary's contract: what other tools and checks rely on.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Tests that run a broker and stages (demo, bench, the daemon) take one at a time: the
/// machine has two cores, and the bench measures latency, which a neighbour's load skews.
pub(crate) fn one_broker_test_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static BROKER_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    BROKER_TESTS.lock().unwrap_or_else(|p| p.into_inner())
}

#[path = "cli/config.rs"]
mod config;
#[path = "cli/daemon.rs"]
mod daemon;
#[path = "cli/output.rs"]
mod output;
#[path = "cli/reload.rs"]
mod reload;

pub(crate) fn earshot() -> Command {
    Command::new(env!("CARGO_BIN_EXE_earshot"))
}

pub(crate) fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

pub(crate) fn run_with_stdin(mut command: Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Fails with the command's stderr unless it exited 0.
fn assert_succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub(crate) fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn score_writes_one_line_per_post_in_input_order() {
    let input = (0..50)
        .map(|i| {
            let text = if i % 2 == 0 {
                format!("星空モバイル圏外 {i}")
            } else {
                format!("lovely day {i}")
            };
            serde_json::json!({"id": format!("p{i}"), "text": text}).to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut command = earshot();
    command
        .args(["score", "--config"])
        .arg(examples().join("earshot.toml"));
    let output = run_with_stdin(command, &input);
    assert_succeeded(&output);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 50);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["id"], format!("p{i}"));
        let analysis = &line["analysis"];
        assert!(analysis["sentiment"]["score"].is_f64());
        assert!(["positive", "neutral", "negative"]
            .contains(&analysis["sentiment"]["label"].as_str().unwrap()));
        assert!(analysis["intents"]
            .as_array()
            .is_some_and(|a| !a.is_empty()));
        assert!(analysis["urgency"].is_f64() && analysis["influence"].is_f64());
        assert!(analysis["lang"].is_string() && analysis["watch"].is_array());
    }
    assert_eq!(
        lines[0]["analysis"]["watch"][0]["id"], "hoshizora",
        "posts matching a watchlist say so"
    );
    assert_eq!(
        lines[1]["analysis"]["watch"],
        serde_json::json!([]),
        "and the others are scored too"
    );
}

#[test]
fn score_explains_only_when_asked_and_scores_the_same() {
    let input = [
        r#"{"id":"1","text":"Hoshizora Mobile is not great, no signal since the morning #outage @hoshizora_help https://example.com","author":{"id":"u","handle":"h","followers":1200,"verified":true}}"#,
        r#"{"id":"2","text":"星空モバイル、朝から圏外で電話が繋がらない…"}"#,
    ]
    .join("\n");
    let score = |extra: &[&str]| {
        let mut command = earshot();
        command
            .args(["score", "--config"])
            .arg(examples().join("earshot.toml"))
            .args(extra);
        let output = run_with_stdin(command, &input);
        assert_succeeded(&output);
        json_lines(&output)
    };
    const EXPLANATION: [&str; 6] = [
        "hits",
        "urgency_reasons",
        "influence_reasons",
        "hashtags",
        "mentions",
        "urls",
    ];
    let lean = score(&[]);
    let explained = score(&["--explain"]);
    for key in EXPLANATION {
        assert!(
            lean[0]["analysis"].get(key).is_none(),
            "{key} without --explain"
        );
        assert!(
            explained[0]["analysis"].get(key).is_some(),
            "{key} with --explain"
        );
    }
    assert!(lean[0]["analysis"]["model"].get("features").is_none());
    assert!(explained[0]["analysis"]["model"]["features"].is_array());
    for (mut full, lean) in explained.into_iter().zip(lean) {
        let analysis = full["analysis"].as_object_mut().unwrap();
        for key in EXPLANATION {
            analysis.remove(key);
        }
        analysis["model"]
            .as_object_mut()
            .unwrap()
            .remove("features");
        assert_eq!(
            full, lean,
            "the same scores with and without the explanation"
        );
    }
}

#[test]
fn invalid_lines_are_reported_with_their_number_and_skipped() {
    let output = earshot()
        .arg("score")
        .arg(examples().join("bad_posts.jsonl"))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "non-zero exit when any line is invalid"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reported: Vec<&str> = stderr.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(reported.len(), 8, "{stderr}");
    assert!(reported.iter().all(|l| l.contains("skipped")), "{stderr}");
    let valid = json_lines(&output);
    assert_eq!(valid.len(), 3);
}

#[test]
fn score_reads_a_file_and_handles_the_sample_posts() {
    let output = earshot()
        .args(["score", "--config"])
        .arg(examples().join("earshot.toml"))
        .arg(examples().join("posts.jsonl"))
        .output()
        .unwrap();
    assert_succeeded(&output);
    let lines = json_lines(&output);
    let posts = std::fs::read_to_string(examples().join("posts.jsonl")).unwrap();
    assert_eq!(lines.len(), posts.lines().count());
    let outage = lines
        .iter()
        .filter(|l| {
            l["analysis"]["intents"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i == "outage")
        })
        .count();
    assert!(
        outage > 200,
        "the outage burst is recognised ({outage} outage posts)"
    );
}

#[test]
fn explain_prints_hits_and_json() {
    let output = earshot()
        .args(["explain", "荷物が届かない、最悪"])
        .output()
        .unwrap();
    assert_succeeded(&output);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("negative") && text.contains("届かない"),
        "{text}"
    );

    let output = earshot()
        .args(["explain", "--json", "I love it"])
        .output()
        .unwrap();
    let analysis: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(analysis["sentiment"]["label"], "positive");
    assert_eq!(analysis["hits"][0]["term"], "love");
    assert_eq!(
        (
            analysis["hits"][0]["start"].as_u64(),
            analysis["hits"][0]["end"].as_u64()
        ),
        (Some(2), Some(6))
    );
}

#[test]
fn check_lists_every_problem_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("earshot.toml"),
        "[analyze]\nwatchlists = \"w.toml\"\nlexicon = [\"l.toml\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("w.toml"),
        "[[watchlist]]\nid = \"a\"\nquery = \"$nope AND (x\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("l.toml"),
        "[[term]]\ntext = \"x\"\nsentiment = 12\n",
    )
    .unwrap();
    let output = earshot()
        .args(["check", "--config"])
        .arg(dir.path().join("earshot.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("l.toml:1:1: sentiment 12 is outside -4..4"),
        "{stderr}"
    );
    assert!(stderr.contains("w.toml:3:"), "{stderr}");

    let ok = earshot()
        .args(["check", "--config"])
        .arg(examples().join("earshot.toml"))
        .output()
        .unwrap();
    assert_succeeded(&ok);
}

#[test]
fn a_broken_config_is_refused_before_reading_posts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("earshot.toml"),
        "[analyze]\nwatchlists = \"missing.toml\"\n",
    )
    .unwrap();
    let output = run_with_stdin(
        {
            let mut c = earshot();
            c.args(["score", "--config"])
                .arg(dir.path().join("earshot.toml"));
            c
        },
        "{\"id\":\"1\",\"text\":\"x\"}\n",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.toml"));
    assert!(output.stdout.is_empty());
}

#[test]
fn environment_overrides_the_config_file() {
    let output = earshot()
        .args(["score", "--config"])
        .arg(examples().join("earshot.toml"))
        .env(
            "EARSHOT__ANALYZE__WATCHLISTS",
            examples().join("does-not-exist.toml"),
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does-not-exist.toml"));
}

#[test]
fn a_misspelt_section_is_refused_from_the_file_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("earshot.toml");
    std::fs::write(&config, "[kafak]\nbrokers = \"kafka:9092\"\n").unwrap();
    let output = earshot()
        .arg("check")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("kafak"));

    let output = earshot()
        .args(["check", "--config"])
        .arg(examples().join("earshot.toml"))
        .env("EARSHOT__ADMN__LISTEN", "0.0.0.0:9464")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("admn"));
}

#[test]
fn eval_prints_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("set.tsv");
    std::fs::write(&file, "sentiment\tintents\ttext\nnegative\toutage,complaint\t圏外で電話が繋がらない、最悪\npositive\tpraise\tThank you, great support!\n").unwrap();
    let output = earshot().arg("eval").arg(&file).output().unwrap();
    assert_succeeded(&output);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("accuracy       1.000"), "{text}");
    assert!(text.contains("outage"), "{text}");
}

#[test]
fn triage_replays_history_into_tickets_and_one_incident_per_outage() {
    let run = || {
        earshot()
            .args(["triage", "--config"])
            .arg(examples().join("earshot.toml"))
            .arg(examples().join("posts.jsonl"))
            .output()
            .unwrap()
    };
    let output = run();
    assert_succeeded(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tickets:")
            && stderr.contains("incidents:")
            && stderr.contains("unrouted:"),
        "{stderr}"
    );
    let lines = json_lines(&output);
    let kinds: std::collections::BTreeSet<&str> =
        lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["incident", "ticket", "unrouted"]
    );

    let outage_incidents: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["kind"] == "incident" && l["revision"] == 1 && l["intent"] == "outage")
        .collect();
    assert_eq!(
        outage_incidents.len(),
        1,
        "one incident for the outage burst, not one per post"
    );
    let opened = outage_incidents[0]["opened_at"].as_str().unwrap();
    assert!(
        opened.starts_with("2026-11-19T10:") || opened.starts_with("2026-11-19T11:"),
        "{opened}"
    );

    let tickets: Vec<&serde_json::Value> = lines.iter().filter(|l| l["kind"] == "ticket").collect();
    assert!(
        tickets.iter().any(|t| t["revision"].as_u64() > Some(1)),
        "conversations fold into tickets"
    );
    for t in &tickets {
        assert!(t["ticket_id"].as_str().unwrap().starts_with("tkt_"));
        assert!(
            t["queue"].is_string() && t["priority"].is_string() && t["due_at"].is_string(),
            "{t}"
        );
    }

    let again = json_lines(&run());
    let ids = |ls: &[serde_json::Value]| -> Vec<String> {
        ls.iter()
            .filter(|l| l["kind"] == "ticket")
            .map(|l| l["ticket_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&lines),
        ids(&again),
        "a replay gives the same ticket ids"
    );
}

#[test]
fn check_reports_route_problems_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        examples().join("watchlists.toml"),
        dir.path().join("watchlists.toml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("earshot.toml"),
        "[analyze]\nwatchlists = \"watchlists.toml\"\n[route]\nfiles = [\"rules.toml\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rules.toml"),
        "[[queue]]\nid = \"support\"\nalways_open = true\n\n[[rule]]\nid = \"r1\"\nwatchlist = \"no_such_watchlist\"\nqueue = \"support\"\npriority = \"P2\"\n",
    )
    .unwrap();
    let output = earshot()
        .args(["check", "--config"])
        .arg(dir.path().join("earshot.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("rules.toml:") && stderr.contains("no_such_watchlist"),
        "{stderr}"
    );
}

/// The README's main job: the whole pipeline on the embedded broker ends with one JSON line
/// whose counts are those of the sample (one partition and the event clock make them exact).
#[test]
fn demo_runs_the_sample_through_the_embedded_broker() {
    let _one = one_broker_test_at_a_time();
    let output = earshot().args(["demo", "--json"]).output().unwrap();
    assert_succeeded(&output);
    let summary = json_lines(&output).pop().expect("a summary line");
    for (field, want) in [
        ("posts", 2800),
        ("tickets", 1012),
        ("incidents", 2),
        ("unrouted", 359),
        ("dlq", 8),
    ] {
        assert_eq!(summary[field], want, "{field} in {summary}");
    }
    // Every phishing post in our name is a ticket of its own on the brand-protection queue.
    assert_eq!(
        summary["queues"]["brand_protection"],
        phishing_in_the_sample().len(),
        "{summary}"
    );
    assert!(summary["seconds"].as_f64().unwrap() > 0.0);
}

/// Posts of the sample that phish in the name of the example brands (prize, account
/// suspension, free data, half-price trick, reward claim, each with a lookalike link): each
/// must reach the brand-protection queue, not praise or billing.
fn phishing_in_the_sample() -> Vec<String> {
    let posts = std::fs::read_to_string(examples().join("posts.jsonl")).unwrap();
    posts
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|p| {
            let text = p["text"].as_str().unwrap_or_default();
            [
                "【当選】おめでとうございます！ソラペイ",
                "【ソラペイ】アカウントが停止されました",
                "星空モバイルユーザー限定！ギガ無料配布中",
                "星空モバイルの料金が半額になる裏ワザ",
                "Claim your Hoshizora Mobile reward",
                "Your SoraPay account has been suspended",
            ]
            .iter()
            .any(|t| text.starts_with(t))
        })
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn phishing_in_our_name_reaches_brand_protection() {
    let phishing = phishing_in_the_sample();
    assert!(phishing.len() >= 8, "{phishing:?}");
    let output = earshot()
        .args(["triage", "--config"])
        .arg(examples().join("earshot.toml"))
        .arg(examples().join("posts.jsonl"))
        .output()
        .unwrap();
    assert_succeeded(&output);
    let lines = json_lines(&output);
    for id in &phishing {
        let ticket = lines
            .iter()
            .find(|l| l["kind"] == "ticket" && l["post"]["id"] == id.as_str())
            .unwrap_or_else(|| panic!("no ticket for phishing post {id}"));
        assert_eq!(ticket["queue"], "brand_protection", "{ticket}");
        assert_eq!(ticket["analysis"]["flags"][0], "scam", "{ticket}");
    }
    for ticket in lines.iter().filter(|l| l["queue"] == "praise") {
        assert_eq!(
            ticket["analysis"]["flags"],
            serde_json::json!([]),
            "{ticket}"
        );
    }
}

/// `earshot train` on a small recipe: the same data and seed give the same file, the file
/// is a model `eval` and `score` use, and a damaged one is refused with its name.
#[test]
fn train_writes_a_reproducible_model_that_eval_and_score_use() {
    let recipe =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../analyze/tests/data/train/recipe.toml");
    let dir = tempfile::tempdir().unwrap();
    let train = |out: &Path| {
        let output = earshot()
            .arg("train")
            .arg(&recipe)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert_succeeded(&output);
        String::from_utf8(output.stdout).unwrap()
    };
    let (a, b) = (dir.path().join("a.model"), dir.path().join("b.model"));
    let card = train(&a);
    train(&b);
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap());
    assert!(card.contains("small (team-written): 23 rows"), "{card}");
    assert!(card.contains("validation"), "{card}");

    let set = dir.path().join("set.tsv");
    std::fs::write(
        &set,
        "sentiment\tintents\tflags\ttext\n\
         negative\tcomplaint\tnone\tstill waiting for my refund\n\
         neutral\tother\tscam\tyou won a prize, claim now http://bit.ly/z\n",
    )
    .unwrap();
    let output = earshot()
        .arg("eval")
        .arg("--model")
        .arg(&a)
        .arg(&set)
        .output()
        .unwrap();
    assert_succeeded(&output);
    let report = String::from_utf8(output.stdout).unwrap();
    assert!(report.contains("model test 1"), "{report}");
    assert!(
        report.contains("scam") && report.contains("complaint|outage"),
        "{report}"
    );

    let config = dir.path().join("earshot.toml");
    std::fs::write(&config, "[analyze]\nmodel = \"a.model\"\n").unwrap();
    let output = earshot()
        .args(["explain", "--json", "--config"])
        .arg(&config)
        .arg("still waiting")
        .output()
        .unwrap();
    assert_succeeded(&output);
    let analysis: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(analysis["model"]["name"], "test 1");

    let mut bytes = std::fs::read(&a).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&a, bytes).unwrap();
    let output = earshot()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("a.model") && stderr.contains("corrupt"),
        "{stderr}"
    );
}

/// The throughput command measures the pass-through, analyze alone and both pipeline shapes
/// on the embedded broker and reports them, with where the latency goes.
#[test]
fn bench_pipeline_reports_every_run_and_their_ratios() {
    let _one = one_broker_test_at_a_time();
    let output = earshot()
        .args([
            "bench", "pipeline", "--copies", "1", "--rate", "100", "--runs", "2", "--json",
        ])
        .output()
        .unwrap();
    assert_succeeded(&output);
    let report = json_lines(&output).pop().expect("a report line");
    for run in ["pass_through", "analyze_only", "pipeline", "fused", "split"] {
        let r = &report[run];
        assert_eq!(r["posts"], 2797, "{run}: {r}");
        assert!(r["posts_per_second"].as_f64().unwrap() > 0.0, "{run}: {r}");
        let ms = |field: &str| r[field].as_f64().unwrap();
        let (p50, p99) = (ms("latency_p50_ms"), ms("latency_p99_ms"));
        assert!(p50 > 0.0 && p50 <= p99, "{run}: {r}");
        let (produced, read) = (ms("until_produced_p50_ms"), ms("produced_to_read_p50_ms"));
        assert!(
            produced >= 0.0 && read >= 0.0 && produced <= p99,
            "{run}: {r}"
        );
        assert!(ms("processing_ms") > 0.0, "{run}: {r}");
        let runs = r["throughput_runs"].as_array().expect("throughput_runs");
        assert_eq!(runs.len(), 2, "{run}: {r}");
        let (a, b) = (runs[0].as_f64().unwrap(), runs[1].as_f64().unwrap());
        assert_eq!(
            ms("posts_per_second"),
            ((a + b) / 2.0).round(),
            "{run}: the median of 2"
        );
    }
    assert_eq!(report["runs"], 2);
    assert_eq!(
        report["pipeline"]["name"], "fused",
        "earshot run's default shape"
    );
    assert_eq!(report["profile"], "default");
    assert_eq!(report["analysis_threads"], 1, "the default");
    for ratio in ["ratio", "fused_ratio", "split_ratio", "analyze_only_ratio"] {
        assert!(report[ratio].as_f64().unwrap() > 0.0, "{report}");
    }
}
