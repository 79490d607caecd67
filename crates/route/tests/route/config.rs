//! Loading and checking route configuration: every problem at once, with file:line.

use earshot_route::{ConfigFile, RouteConfig, Severity};

use crate::support::{example_files, WATCHLISTS};

fn check(text: &str) -> Vec<(String, u32)> {
    RouteConfig::check(
        &[ConfigFile {
            name: "rules.toml",
            text,
        }],
        None,
    )
    .0
    .iter()
    .map(|d| (d.code().to_string(), d.line))
    .collect()
}

#[test]
fn the_example_configuration_is_clean() {
    let diags = RouteConfig::check(&example_files(), Some(WATCHLISTS));
    assert!(diags.is_empty(), "{diags}");
    let loaded = RouteConfig::load(&example_files(), Some(WATCHLISTS)).unwrap();
    assert_eq!(loaded.config.queues.len(), 7);
    assert!(loaded.config.rules.len() >= 20);
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let text = r#"[[queue]]
id = "billing"
calendar = "nowhere"
sla = { P2 = "1d", P9 = "1h" }

[[calendar]]
id = "cal"
time_zone = "Asia/Tokio"
hours = { weekdays = "18:00-09:00" }

[[rule]]
id = "a"
watchlist = "sorapay"
intent = ["complaint", "anger"]
sentiment = { min = 0.5, max = -0.5 }
min_urgency = 1.5
queue = "biling"
priority = "P7"

[[rule]]
id = "a"
queu = "billing"
author_in = "vips"
"#;
    let got = check(text);
    let expected = [
        ("unknown_calendar", 3),
        ("bad_duration", 4),
        ("bad_priority", 4),
        ("bad_time_zone", 8),
        ("bad_hours", 9),
        ("unknown_intent", 14),
        ("bad_range", 15),
        ("bad_range", 16),
        ("unknown_queue", 17),
        ("bad_priority", 18),
        ("duplicate_id", 21),
        ("rule_without_action", 21),
        ("unknown_key", 22),
        ("unknown_list", 23),
    ];
    for (code, line) in expected {
        assert!(
            got.contains(&(code.to_string(), line)),
            "missing {code} at line {line} in {got:?}"
        );
    }
    assert_eq!(got.len(), expected.len(), "{got:?}");
}

#[test]
fn unknown_watchlists_are_errors_only_when_the_list_is_known() {
    let text = "[[queue]]\nid = \"q\"\nsla = { P3 = \"1h\" }\n[[rule]]\nid = \"r\"\nwatchlist = \"sorapai\"\nqueue = \"q\"\npriority = \"P3\"\n";
    let files = [ConfigFile {
        name: "rules.toml",
        text,
    }];
    assert!(RouteConfig::load(&files, None).is_ok());
    let diags = RouteConfig::load(&files, Some(WATCHLISTS)).unwrap_err();
    let d = diags.errors().next().unwrap();
    assert_eq!((d.code(), d.line, d.column), ("unknown_watchlist", 6, 13));
    assert_eq!(d.text, "\"sorapai\"");
    assert_eq!(
        d.to_string(),
        "rules.toml:6:13: error[unknown_watchlist]: unknown watchlist `sorapai`\n    | \"sorapai\""
    );
}

#[test]
fn a_shadowed_rule_is_a_warning_naming_the_earlier_rule() {
    let text = r#"
[[queue]]
id = "q"
sla = { P1 = "1h", P2 = "2h" }

[[rule]]
id = "all-outages"
intent = ["outage", "complaint"]
queue = "q"
priority = "P2"

[[rule]]
id = "angry-outages"
intent = "outage"
sentiment = [-1.0, -0.5]
queue = "q"
priority = "P1"
"#;
    let loaded = RouteConfig::load(
        &[ConfigFile {
            name: "r.toml",
            text,
        }],
        None,
    )
    .unwrap();
    let w: Vec<_> = loaded.warnings.warnings().collect();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].code(), "shadowed_rule");
    assert_eq!(w[0].severity(), Severity::Warning);
    assert_eq!(w[0].line, 13);
    assert!(
        w[0].to_string().contains("rule `all-outages` (line 7)"),
        "{}",
        w[0]
    );

    // A rule that continues shadows nothing.
    let text = text.replacen("priority = \"P2\"", "priority = \"P2\"\ncontinue = true", 1);
    let loaded = RouteConfig::load(
        &[ConfigFile {
            name: "r.toml",
            text: &text,
        }],
        None,
    )
    .unwrap();
    assert!(loaded.warnings.is_empty(), "{}", loaded.warnings);
}

#[test]
fn missing_sla_target_is_a_warning() {
    let text = "[[queue]]\nid = \"q\"\nsla = { P1 = \"1h\" }\n[[rule]]\nid = \"r\"\nqueue = \"q\"\npriority = \"P3\"\n";
    let loaded = RouteConfig::load(
        &[ConfigFile {
            name: "r.toml",
            text,
        }],
        None,
    )
    .unwrap();
    assert_eq!(loaded.warnings.0[0].code(), "missing_sla");
}

#[test]
fn problems_name_their_own_file() {
    let queues = ConfigFile {
        name: "queues.toml",
        text: "[[queue]]\nid = \"q\"\ncalendar = \"c\"\n",
    };
    let rules = ConfigFile {
        name: "rules.toml",
        text: "[[rule]]\nid = \"r\"\nqueue = \"q\"\npriority = \"P3\"\nsuppress = true\n",
    };
    let diags = RouteConfig::load(&[queues, rules], None).unwrap_err();
    let places: Vec<_> = diags
        .errors()
        .map(|d| (d.file.as_str(), d.line, d.code()))
        .collect();
    assert_eq!(
        places,
        [
            ("queues.toml", 3, "unknown_calendar"),
            ("rules.toml", 5, "bad_value")
        ]
    );
}

#[test]
fn syntax_errors_have_a_line_and_other_files_are_still_checked() {
    let broken = ConfigFile {
        name: "a.toml",
        text: "[[rule]]\nid = \"x\nqueue = 1\n",
    };
    let other = ConfigFile {
        name: "b.toml",
        text: "[[rule]]\nid = \"y\"\nqueue = \"nope\"\npriority = \"P1\"\n",
    };
    let diags = RouteConfig::load(&[broken, other], None).unwrap_err();
    let places: Vec<_> = diags
        .errors()
        .map(|d| (d.file.as_str(), d.line, d.code()))
        .collect();
    assert_eq!(
        places,
        [("a.toml", 2, "syntax"), ("b.toml", 3, "unknown_queue")]
    );
}

#[test]
fn wrong_types_and_empty_lists_are_reported() {
    let got = check("[[rule]]\nid = 7\nwatchlist = []\n[[rule]]\nid = \"z\"\nsuppress = \"yes\"\n");
    assert!(got.contains(&("wrong_type".into(), 2)), "{got:?}");
    assert!(got.contains(&("missing_key".into(), 1)), "{got:?}");
    assert!(got.contains(&("bad_value".into(), 3)), "{got:?}");
    assert!(got.contains(&("wrong_type".into(), 6)), "{got:?}");
}

#[test]
fn an_empty_configuration_warns_that_everything_is_unrouted() {
    let loaded = RouteConfig::load(
        &[ConfigFile {
            name: "r.toml",
            text: "",
        }],
        None,
    )
    .unwrap();
    assert_eq!(loaded.warnings.0[0].code(), "no_rules");
}
