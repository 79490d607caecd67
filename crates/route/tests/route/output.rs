//! Outputs as JSON lines: the `kind` tag, and agreement with the documented JSON Schemas.

use chrono::Duration;
use earshot_model::Intent;
use earshot_route::RouteOutput;
use serde_json::Value;

use crate::support::{example_router, in_thread, post, tokyo};

const TICKET_SCHEMA: &str = include_str!("../../../../docs/schema/ticket.schema.json");
const INCIDENT_SCHEMA: &str = include_str!("../../../../docs/schema/incident.schema.json");

/// Checks `value` has every required key of `schema` and no key the schema does not list.
fn conforms(value: &Value, schema: &str) {
    let schema: Value = serde_json::from_str(schema).unwrap();
    let object = value.as_object().unwrap();
    for key in schema["required"].as_array().unwrap() {
        assert!(
            object.contains_key(key.as_str().unwrap()),
            "missing {key} in {value:#}"
        );
    }
    let properties = schema["properties"].as_object().unwrap();
    for key in object.keys() {
        assert!(properties.contains_key(key), "undocumented field {key}");
    }
    let pattern_prefix = |field: &str| {
        properties.get(field)?["pattern"]
            .as_str()
            .map(|p| p[1..5].to_string())
    };
    for field in ["ticket_id", "incident_id"] {
        if let (Some(prefix), Some(Value::String(id))) = (pattern_prefix(field), object.get(field))
        {
            assert!(id.starts_with(&prefix) && id.len() == 20, "{field} = {id}");
        }
    }
}

#[test]
fn every_output_is_one_json_line_with_a_kind_and_matches_its_schema() {
    let mut r = example_router();
    let start = tokyo(2026, 11, 20, 9, 0);
    let mut lines = Vec::new();
    let mut id = 0u64;
    // A normal day, then a fibre outage: tickets, an incident, unrouted chatter.
    for minute in 0..(24 * 60) {
        let at = start + Duration::minutes(minute);
        let mut outputs = r.tick(at);
        if minute % 30 == 0 {
            id += 1;
            let q = in_thread(
                post(
                    &id.to_string(),
                    &format!("u{id}"),
                    &["hoshizora"],
                    &[Intent::Question],
                    0.0,
                ),
                &format!("c{id}"),
            );
            outputs.extend(r.route(&q, at));
            id += 1;
            outputs.extend(r.route(
                &post(&id.to_string(), "u0", &["hoshizora"], &[Intent::Other], 0.0),
                at,
            ));
        }
        if (600..615).contains(&minute) {
            for _ in 0..6 {
                id += 1;
                let p = post(
                    &id.to_string(),
                    &format!("u{id}"),
                    &["hoshizora_hikari"],
                    &[Intent::Outage],
                    -0.7,
                );
                outputs.extend(r.route(&p, at));
            }
        }
        lines.extend(outputs.iter().map(|o| serde_json::to_string(o).unwrap()));
    }
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for line in &lines {
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(line).unwrap();
        let kind = value["kind"].as_str().unwrap().to_string();
        match kind.as_str() {
            "ticket" => conforms(&value, TICKET_SCHEMA),
            "incident" => conforms(&value, INCIDENT_SCHEMA),
            "unrouted" => assert_eq!(value["reason_code"], "no_rule_matched"),
            other => panic!("kind {other}"),
        }
        let back: RouteOutput = serde_json::from_str(line).unwrap();
        assert_eq!(back.kind(), kind);
        *kinds.entry(kind).or_default() += 1;
    }
    assert!(kinds["ticket"] >= 48, "{kinds:?}");
    assert!(kinds["unrouted"] >= 48, "{kinds:?}");
    assert!(
        kinds.get("incident").copied().unwrap_or(0) >= 2,
        "{kinds:?}"
    );
}
