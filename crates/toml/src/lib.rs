//! TOML configuration read for checking: a document as a tree whose every key and value
//! keeps its byte span ([`Node`]), so that a check can go on past the first problem and
//! report each with its line and column. Serde structs stop at the first problem; a support
//! lead fixing a file wants every problem at once.
//!
//! ```
//! use earshot_toml::{parse, Node};
//!
//! let text = "[kafka]\npartitions = 0\n";
//! let doc = parse(text).unwrap();
//! let (key, kafka) = &doc[0];
//! assert_eq!(key, "kafka");
//! let Node::Table(entries) = kafka.get_ref() else { unreachable!() };
//! assert_eq!(&text[entries[0].1.span()], "0");
//! ```

mod tree;

pub use tree::{parse, Document, Entries, Node};
