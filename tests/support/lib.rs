//! Helpers shared by the end-to-end tests and the benchmarks: where the repository is, the
//! bundled sample texts, synthetic watchlists of any size, the `earshot` binary, child
//! processes ([`process`]) and the external programs some tests need ([`tools`]).

pub mod process;
pub mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Texts of the bundled sample posts and of the customer-care sets: tweet-length,
/// Japanese and English.
pub fn sample_texts(root: &Path) -> Vec<String> {
    let mut texts = Vec::new();
    if let Ok(posts) = std::fs::read_to_string(root.join("examples/posts.jsonl")) {
        for line in posts.lines() {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
                if let Some(text) = value.get("text").and_then(|t| t.as_str()) {
                    texts.push(text.to_string());
                }
            }
        }
    }
    for set in [
        "tests/data/ja_customer_care.tsv",
        "tests/data/en_customer_care.tsv",
    ] {
        if let Ok(source) = std::fs::read_to_string(root.join(set)) {
            texts.extend(
                source
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.rsplit('\t').next())
                    .map(str::to_string),
            );
        }
    }
    texts
}

/// A watchlist file with `terms` distinct terms in watchlists of `per_list` terms each: a mix
/// of English product names, model numbers and katakana names, the kinds of terms support
/// teams register. Deterministic.
pub fn synthetic_watchlists(terms: usize, per_list: usize) -> String {
    const SYLLABLES: [&str; 24] = [
        "カ", "キ", "ク", "サ", "シ", "ス", "タ", "ト", "ナ", "ノ", "ハ", "ヒ", "マ", "ミ", "ラ",
        "リ", "ル", "レ", "ロ", "ア", "イ", "オ", "ン", "ー",
    ];
    const WORDS: [&str; 16] = [
        "nova", "zen", "pixel", "aero", "luma", "terra", "volt", "echo", "flux", "orbit", "prism",
        "quartz", "sonic", "vista", "wave", "zest",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = String::new();
    for i in 0..terms {
        if i % per_list == 0 {
            out.push_str(&format!(
                "\n[[watchlist]]\nid = \"list{}\"\n[watchlist.terms]\nall = [\n",
                i / per_list
            ));
        }
        let r = next();
        let term = match r % 3 {
            0 => format!(
                "{} {}{}",
                WORDS[(r >> 8) as usize % 16],
                WORDS[(r >> 16) as usize % 16],
                i
            ),
            1 => format!(
                "{}{}-{}",
                (b'a' + (r >> 8) as u8 % 26) as char,
                (b'a' + (r >> 16) as u8 % 26) as char,
                i
            ),
            _ => {
                let mut name = String::new();
                for k in 0..4 {
                    name.push_str(SYLLABLES[(r >> (8 * k + 8)) as usize % 23]);
                }
                format!("{name}{i}")
            }
        };
        out.push_str(&format!("  \"{term}\",\n"));
        if i % per_list == per_list - 1 || i == terms - 1 {
            out.push_str("]\n");
        }
    }
    out
}

/// The `earshot` binary of this build, built first if needed.
pub fn earshot_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/earshot
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir");
    let bin = profile_dir.join(format!("earshot{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "earshot", "--bin", "earshot"])
            .current_dir(repo_root())
            .status()
            .expect("running cargo build");
        assert!(status.success(), "cargo build -p earshot failed");
    }
    bin
}
