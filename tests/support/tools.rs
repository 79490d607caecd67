//! The programs some end-to-end tests run besides Earshot (tansu, prometheus, promtool,
//! kubectl): where they are, and what a test does when one is missing.
//!
//! `scripts/test` installs them. A test whose tool is missing fails with the command that
//! installs it. Outside CI, `EARSHOT_SKIP_<TOOL>=1` turns that failure into a note and a
//! pass; under CI (`CI` set to anything but `false`/`0`) the skip variables are refused, so
//! a CI run never passes a test that did not run.

use std::path::PathBuf;

/// An external program a test needs.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// The executable's name on `PATH`.
    pub name: &'static str,
    /// A variable naming the executable, looked at first.
    pub env: &'static str,
    /// `EARSHOT_SKIP_…=1` skips the tests that need it (outside CI only).
    pub skip: &'static str,
    /// How to install it, for the failure message.
    pub install: &'static str,
    /// Also look in `$CARGO_HOME/bin` and `~/.cargo/bin` (tools installed by `cargo install`).
    pub cargo_installed: bool,
}

pub const TANSU: Tool = Tool {
    name: "tansu",
    env: "TANSU_BIN",
    skip: "EARSHOT_SKIP_TANSU",
    install: "cargo install tansu --version 0.6.0 --locked --features dynostore",
    cargo_installed: true,
};

pub const PROMETHEUS: Tool = Tool {
    name: "prometheus",
    env: "PROMETHEUS_BIN",
    skip: "EARSHOT_SKIP_PROMETHEUS",
    install: "apt-get install prometheus (Debian's package: the server and promtool)",
    cargo_installed: false,
};

pub const PROMTOOL: Tool = Tool {
    name: "promtool",
    env: "PROMTOOL_BIN",
    skip: "EARSHOT_SKIP_PROMETHEUS",
    install: "apt-get install prometheus (Debian's package: the server and promtool)",
    cargo_installed: false,
};

pub const KUBECTL: Tool = Tool {
    name: "kubectl",
    env: "KUBECTL_BIN",
    skip: "EARSHOT_SKIP_KUBECTL",
    install: "kubectl 1.27 or later (https://kubernetes.io/docs/tasks/tools/)",
    cargo_installed: false,
};

impl Tool {
    /// Where the tool is, or `None` (after printing a note) when it is missing and its skip
    /// variable is set outside CI. Panics when it is missing otherwise.
    pub fn find_or_skip(&self, test: &str) -> Option<PathBuf> {
        if let Some(path) = self.find() {
            return Some(path);
        }
        let skip = std::env::var(self.skip).as_deref() == Ok("1");
        if skip && !in_ci() {
            eprintln!(
                "note: {test} skipped: {} is not installed and {}=1",
                self.name, self.skip
            );
            return None;
        }
        let why = if skip {
            format!(
                "{}=1 is refused under CI, where every test must run",
                self.skip
            )
        } else {
            format!("or set {}=1 to skip the tests that need it", self.skip)
        };
        panic!(
            "{test}: {} is not installed (looked at {}, {}PATH).\n\
             Run scripts/test, which installs it, or install it yourself: {}.\n\
             Point {} at it if it is elsewhere, {why}.",
            self.name,
            self.env,
            if self.cargo_installed {
                "~/.cargo/bin, "
            } else {
                ""
            },
            self.install,
            self.env,
        );
    }

    /// Where the tool is: `$<env>`, then `~/.cargo/bin` for cargo-installed tools, then PATH.
    /// Panics when `$<env>` names something that is not a file.
    pub fn find(&self) -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(self.env).filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "{}={} is not a file; install {} with {}",
                self.env,
                path.display(),
                self.name,
                self.install
            );
            return Some(path);
        }
        let mut candidates = Vec::new();
        if self.cargo_installed {
            if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
                candidates.push(PathBuf::from(cargo_home).join("bin").join(self.name));
            }
            if let Some(home) = std::env::var_os("HOME") {
                candidates.push(PathBuf::from(home).join(".cargo/bin").join(self.name));
            }
        }
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(self.name)));
        }
        candidates.into_iter().find(|p| p.is_file())
    }
}

/// Whether this is a CI run (`CI=true`, as CI services and `.ci/run`'s caller set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}
