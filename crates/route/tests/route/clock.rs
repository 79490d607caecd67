//! The router with arbitrary clocks (issue 9): posts and ticks at any time between 1970 and
//! the end of year 9999, forwards and backwards, never panic, and every time a ticket or
//! incident carries serialises as RFC 3339 (four-digit years), so `due_at` past 9999 is
//! left out rather than written as `+10000-…`.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use earshot_model::Intent;
use earshot_route::RouteOutput;
use proptest::prelude::*;

use crate::support::{example_router, in_thread, post};

/// Seconds from 1970 to the last second of 9999.
const LAST_SECOND: i64 = 253_402_300_799;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().expect("in range")
}

/// A time: mostly near 2026 (so that folding and spikes happen), sometimes anywhere,
/// sometimes at the very end of time.
fn time() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 1_795_000_000i64..1_795_600_000,
        2 => 0i64..=LAST_SECOND,
        1 => (LAST_SECOND - 400_000)..=LAST_SECOND,
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Post {
        at: i64,
        author: u8,
        conversation: u8,
        watch: u8,
        intent: u8,
    },
    Tick(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (time(), 0u8..6, 0u8..4, 0u8..6, 0u8..6).prop_map(|(at, author, conversation, watch, intent)| Step::Post { at, author, conversation, watch, intent }),
        1 => time().prop_map(Step::Tick),
    ]
}

/// Every timestamp in a JSON value is RFC 3339 with a four-digit year.
fn check_times(value: &serde_json::Value) -> Result<(), TestCaseError> {
    match value {
        serde_json::Value::String(s) if s.starts_with('+') || s.starts_with("-0") => {
            prop_assert!(false, "not RFC 3339: {s}")
        }
        serde_json::Value::String(s) if s.len() >= 20 && s.as_bytes()[10] == b'T' => {
            prop_assert!(DateTime::parse_from_rfc3339(s).is_ok(), "not RFC 3339: {s}");
        }
        serde_json::Value::Array(items) => items.iter().try_for_each(check_times)?,
        serde_json::Value::Object(fields) => fields.values().try_for_each(check_times)?,
        _ => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn any_clock_routes_without_panic_and_with_rfc3339_times(steps in prop::collection::vec(step(), 1..40)) {
        let mut router = example_router();
        let watchlists = ["hoshizora", "hoshizora_hikari", "sorapay", "devices", "outage_area", "competitors"];
        for (i, step) in steps.iter().enumerate() {
            let outputs: Vec<RouteOutput> = match *step {
                Step::Post { at: t, author, conversation, watch, intent } => {
                    let p = post(
                        &format!("p{i}"),
                        &format!("a{author}"),
                        &[watchlists[usize::from(watch)]],
                        &[Intent::ALL[usize::from(intent)]],
                        -0.6,
                    );
                    router.route(&in_thread(p, &format!("c{conversation}")), at(t))
                }
                Step::Tick(t) => router.tick(at(t)),
            };
            for output in &outputs {
                let json = serde_json::to_value(output).unwrap();
                check_times(&json)?;
                if let RouteOutput::Ticket(ticket) = output {
                    prop_assert!(ticket.due_at.is_none_or(|due| due.year() <= 9999));
                }
            }
        }
    }
}

#[test]
fn a_ticket_at_the_end_of_time_has_no_due_time_rather_than_a_five_digit_year() {
    let mut router = example_router();
    let p = post("p", "a", &["hoshizora"], &[Intent::Outage], -0.8);
    let outputs = router.route(&p, at(LAST_SECOND - 60));
    let json = serde_json::to_string(&outputs).unwrap();
    assert!(!json.contains("+10000"), "{json}");
    let ticket = outputs
        .iter()
        .find_map(RouteOutput::as_ticket)
        .expect("a ticket");
    assert_eq!(ticket.due_at, None);
}
