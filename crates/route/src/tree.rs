//! A TOML document as a tree whose every key and value keeps its byte span.
//!
//! Serde structs stop at the first problem; a support lead fixing a rules file wants every
//! problem at once, each with its line. So the loader reads the file into this tree (only
//! syntax errors stop it) and then checks each section by hand, collecting diagnostics.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

/// A TOML value with spans.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Table(Vec<(String, Spanned<Node>)>),
    Array(Vec<Spanned<Node>>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A TOML date, time or date-time, as written.
    Datetime(String),
}

impl Node {
    /// The TOML type name, for "expected a string, found an integer".
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Node::Table(_) => "table",
            Node::Array(_) => "array",
            Node::Str(_) => "string",
            Node::Int(_) => "integer",
            Node::Float(_) => "float",
            Node::Bool(_) => "boolean",
            Node::Datetime(_) => "date",
        }
    }
}

/// A parsed document: the root table's entries.
pub(crate) type Document = Vec<(String, Spanned<Node>)>;

/// A table's entries.
pub(crate) type Entries = [(String, Spanned<Node>)];

/// Parses a document. The error carries the span toml reports, when it has one.
pub(crate) fn parse(text: &str) -> Result<Document, (String, Option<Range<usize>>)> {
    match toml::from_str::<Node>(text) {
        Ok(Node::Table(entries)) => Ok(entries),
        Ok(_) => Err(("a TOML document must be a table".into(), None)),
        Err(e) => Err((e.message().to_string(), e.span())),
    }
}

// toml hands a date-time to `deserialize_any` as a one-entry map under this private key.
const DATETIME_KEY: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        i64::try_from(v)
            .map(Node::Int)
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        // Keys are read without spans: toml cannot give one for the private date-time key,
        // and the value's span points at the same line for every diagnostic we report.
        while let Some(key) = map.next_key::<String>()? {
            if key == DATETIME_KEY {
                let text: String = map.next_value()?;
                return Ok(Node::Datetime(text));
            }
            let value = map.next_value::<Spanned<Node>>()?;
            entries.push((key, value));
        }
        Ok(Node::Table(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_spans_of_keys_and_values() {
        let text = "[[rule]]\nid = \"a\"\nwhen = 2026-05-06\n[x]\ny = [1, 2.5, true]\n";
        let doc = parse(text).unwrap();
        let (k, v) = &doc[0];
        assert_eq!(k, "rule");
        let Node::Array(rules) = v.get_ref() else {
            panic!("{v:?}")
        };
        let Node::Table(fields) = rules[0].get_ref() else {
            panic!()
        };
        assert_eq!(fields[0].0, "id");
        assert_eq!(&text[fields[0].1.span()], "\"a\"");
        assert_eq!(fields[1].1.get_ref(), &Node::Datetime("2026-05-06".into()));
        let (_, x) = &doc[1];
        let Node::Table(xs) = x.get_ref() else {
            panic!()
        };
        assert_eq!(&text[xs[0].1.span()], "[1, 2.5, true]");
    }
}
