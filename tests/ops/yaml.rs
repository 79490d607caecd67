//! YAML files as `serde_json::Value`s: Kubernetes manifests (many documents in one stream),
//! compose files (anchors and `<<` merge keys), Prometheus rules.

use serde::Deserialize;
use serde_json::Value;

/// Every non-empty document of a YAML stream, merge keys applied.
pub fn documents(text: &str, what: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|document| {
            let mut yaml = serde_norway::Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{what} is not valid YAML: {e}"));
            yaml.apply_merge()
                .unwrap_or_else(|e| panic!("{what}: merge keys: {e}"));
            serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{what}: {e}"))
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The one document of a YAML file of the repository.
pub fn file(path: &str) -> Value {
    let text = std::fs::read_to_string(earshot_e2e::repo_root().join(path))
        .unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let mut docs = documents(&text, path);
    assert_eq!(docs.len(), 1, "{path} holds one YAML document");
    docs.remove(0)
}

/// A string field, or a panic naming what is missing.
pub fn str_at<'a>(value: &'a Value, pointer: &str, what: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{what}: no string at {pointer} in {value}"))
}

/// An array field (empty when absent).
pub fn array_at<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}
