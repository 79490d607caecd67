//! A TOML document as a tree whose every key and value keeps its byte span. Only syntax
//! errors stop reading; the checks that follow walk the tree and collect every problem.

use std::ops::Range;

use toml::Spanned;

/// A TOML value with spans.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
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
    pub fn type_name(&self) -> &'static str {
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
pub type Document = Vec<(String, Spanned<Node>)>;

/// A table's entries.
pub type Entries = [(String, Spanned<Node>)];

/// Parses a document. The error carries the span toml reports, when it has one.
///
/// Read with `toml_edit`, which keeps the span of every key and value, including tables
/// only implied by a dotted header (`[analyze.sentiment]` implies `analyze`), which toml's
/// serde `Spanned` cannot represent. An implied table's span is its key's.
pub fn parse(text: &str) -> Result<Document, (String, Option<Range<usize>>)> {
    let doc = toml_edit::ImDocument::parse(text)
        .map_err(|e| (e.message().trim().to_string(), e.span()))?;
    Ok(table(doc.as_table(), 0..0))
}

fn table(table: &toml_edit::Table, fallback: Range<usize>) -> Document {
    table
        .iter()
        .map(|(key, item)| {
            let key_span = table
                .key(key)
                .and_then(toml_edit::Key::span)
                .unwrap_or_else(|| fallback.clone());
            (key.to_string(), self::item(item, key_span))
        })
        .collect()
}

fn item(item: &toml_edit::Item, key_span: Range<usize>) -> Spanned<Node> {
    let span = item.span().unwrap_or_else(|| key_span.clone());
    let node = match item {
        toml_edit::Item::None => Node::Table(Vec::new()),
        toml_edit::Item::Value(v) => return value(v, key_span),
        toml_edit::Item::Table(t) => Node::Table(self::table(t, span.clone())),
        toml_edit::Item::ArrayOfTables(tables) => Node::Array(
            tables
                .iter()
                .map(|t| {
                    let span = t.span().unwrap_or_else(|| key_span.clone());
                    Spanned::new(span.clone(), Node::Table(self::table(t, span)))
                })
                .collect(),
        ),
    };
    Spanned::new(span, node)
}

fn value(value: &toml_edit::Value, fallback: Range<usize>) -> Spanned<Node> {
    use toml_edit::Value;
    let span = value.span().unwrap_or(fallback);
    let node = match value {
        Value::String(s) => Node::Str(s.value().clone()),
        Value::Integer(i) => Node::Int(*i.value()),
        Value::Float(f) => Node::Float(*f.value()),
        Value::Boolean(b) => Node::Bool(*b.value()),
        Value::Datetime(d) => Node::Datetime(d.value().to_string()),
        Value::Array(items) => {
            Node::Array(items.iter().map(|v| self::value(v, span.clone())).collect())
        }
        Value::InlineTable(t) => Node::Table(
            t.iter()
                .map(|(key, v)| {
                    let key_span = t
                        .key(key)
                        .and_then(toml_edit::Key::span)
                        .unwrap_or_else(|| span.clone());
                    (key.to_string(), self::value(v, key_span))
                })
                .collect(),
        ),
    };
    Spanned::new(span, node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_implied_by_dotted_keys_are_read() {
        let text = "[x]\n[a.b]\nc = 1\nd.e = \"f\"\n";
        let doc = parse(text).unwrap();
        let (key, a) = &doc[1];
        assert_eq!(key, "a");
        assert_eq!(&text[a.span()], "a", "an implied table's span is its key's");
        let Node::Table(a) = a.get_ref() else {
            panic!()
        };
        let Node::Table(b) = a[0].1.get_ref() else {
            panic!()
        };
        assert_eq!(b[0].0, "c");
        assert_eq!(&text[b[0].1.span()], "1");
        assert_eq!(b[1].0, "d");
    }

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
