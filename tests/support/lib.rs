//! Helpers shared by the end-to-end tests: finding the `earshot` binary and the bundled data.

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
