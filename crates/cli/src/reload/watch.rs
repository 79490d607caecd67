//! What starts a reload: SIGHUP at once, a change of a watched file once the files have been
//! quiet for `[reload] debounce_ms` ([`Debounce`]).
//!
//! The folders of the files are watched rather than the files: editors replace a file by
//! renaming another over it, and Kubernetes updates a ConfigMap volume by writing a new
//! hidden folder and swapping the `..data` symlink the files point through, neither of which
//! a watch on the file itself would see. Events on other files of those folders (an editor's
//! swap file) are ignored ([`relevant`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use earshot_kafka::Shutdown;
use notify::event::ModifyKind;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tracing::{debug, info, warn};

use super::Reloader;
use crate::settings::ReloadSettings;

/// Why a reload is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// SIGHUP: reload now.
    Signal,
    /// Something changed in a watched folder.
    Changed(Vec<PathBuf>),
}

/// Trailing-edge debounce: a burst of changes makes one reload, `quiet` after the last of
/// them, or `longest` after the first if the changes never stop (a file rewritten every
/// 100 ms must not put reloads off for ever).
#[derive(Debug, Clone)]
pub struct Debounce {
    quiet: Duration,
    longest: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Debounce {
    pub fn new(quiet: Duration) -> Debounce {
        Debounce {
            quiet,
            longest: (quiet * 10).max(Duration::from_secs(1)),
            first: None,
            last: None,
        }
    }

    /// A change at `at`.
    pub fn note(&mut self, at: Instant) {
        self.first.get_or_insert(at);
        self.last = Some(at);
    }

    /// When the pending changes are due for a reload; `None` when none is pending.
    pub fn due_at(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        Some((last + self.quiet).min(first + self.longest))
    }

    /// Whether a reload is due at `now`; if so, the pending changes are taken by it.
    pub fn take_if_due(&mut self, now: Instant) -> bool {
        if self.due_at().is_some_and(|due| due <= now) {
            self.clear();
            true
        } else {
            false
        }
    }

    /// Forgets pending changes (a reload for another reason reads them too).
    pub fn clear(&mut self) {
        self.first = None;
        self.last = None;
    }
}

/// Whether a change of `changed` concerns one of `files`: the file itself, a file of the
/// same name in its folder (renamed over it), or a hidden `..` entry of its folder
/// (Kubernetes' `..data` symlink and the timestamped folders behind it).
pub fn relevant(changed: &Path, files: &[PathBuf]) -> bool {
    let (Some(name), Some(folder)) = (changed.file_name(), folder_of(changed)) else {
        return false;
    };
    files.iter().any(|file| {
        if folder_of(file).as_ref() != Some(&folder) {
            return false;
        }
        file.file_name() == Some(name) || name.to_string_lossy().starts_with("..")
    })
}

/// Whether an event of `kind` can change what a file holds. Opening and reading (ours, at
/// each reload) and metadata (the access time a read updates) cannot: reacting to them would
/// make each reload start the next.
pub fn changes_content(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_))
    )
}

/// The folders to watch for `files`.
fn folders(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    files.iter().filter_map(|f| folder_of(f)).collect()
}

/// The folder of `path`, `.` for a bare name (which is how the watcher names its events).
fn folder_of(path: &Path) -> Option<PathBuf> {
    let folder = path.parent()?;
    Some(if folder.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        folder.to_path_buf()
    })
}

/// The reloader on a thread of its own: reloads on each trigger until `shutdown`.
#[derive(Debug)]
pub struct Watching {
    triggers: Sender<Trigger>,
    thread: JoinHandle<()>,
}

impl Watching {
    /// Starts the thread; with `settings.watch`, the files of the set in force are watched.
    pub fn start(reloader: Reloader, settings: ReloadSettings, shutdown: Shutdown) -> Watching {
        let (triggers, received) = channel();
        let watcher = if settings.watch {
            let events = triggers.clone();
            let watcher = notify::recommended_watcher(
                move |event: notify::Result<notify::Event>| match event {
                    Ok(e) if !changes_content(&e.kind) => {}
                    Ok(e) => {
                        let _ = events.send(Trigger::Changed(e.paths));
                    }
                    Err(e) => warn!(error = %e, "Watching the configuration files failed"),
                },
            );
            match watcher {
                Ok(w) => Some(w),
                Err(e) => {
                    warn!(error = %e, "Cannot watch the configuration files; reload with SIGHUP");
                    None
                }
            }
        } else {
            None
        };
        let quiet = Duration::from_millis(settings.debounce_ms);
        let thread = std::thread::Builder::new()
            .name("earshot-reload".into())
            .spawn(move || run(reloader, watcher, received, quiet, &shutdown))
            .expect("spawning the reload thread");
        Watching { triggers, thread }
    }

    /// Where SIGHUP sends its trigger.
    pub fn triggers(&self) -> Sender<Trigger> {
        self.triggers.clone()
    }

    /// Waits for the thread (after shutdown).
    pub fn join(self) {
        drop(self.triggers);
        let _ = self.thread.join();
    }
}

fn run(
    mut reloader: Reloader,
    mut watcher: Option<RecommendedWatcher>,
    triggers: Receiver<Trigger>,
    quiet: Duration,
    shutdown: &Shutdown,
) {
    let mut watching = BTreeSet::new();
    if let Some(w) = &mut watcher {
        rewatch(w, &mut watching, reloader.watched());
    }
    let mut debounce = Debounce::new(quiet);
    // Often enough to notice shutdown.
    let idle = Duration::from_millis(200);
    while !shutdown.is_triggered() {
        let wait = debounce
            .due_at()
            .map_or(idle, |due| due.saturating_duration_since(Instant::now()))
            .min(idle);
        match triggers.recv_timeout(wait) {
            Ok(Trigger::Signal) => {
                debounce.clear();
                reloader.reload("SIGHUP");
            }
            Ok(Trigger::Changed(paths)) => {
                let files = reloader.watched();
                if let Some(path) = paths.iter().find(|p| relevant(p, files)) {
                    debug!(path = %path.display(), "Configuration file changed");
                    debounce.note(Instant::now());
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if debounce.take_if_due(Instant::now()) {
            reloader.reload("file change");
        }
        if let Some(w) = &mut watcher {
            rewatch(w, &mut watching, reloader.watched());
        }
    }
}

/// Watches the folders of `files` not watched yet (a reload may name new files).
fn rewatch(watcher: &mut RecommendedWatcher, watching: &mut BTreeSet<PathBuf>, files: &[PathBuf]) {
    for folder in folders(files) {
        if watching.contains(&folder) {
            continue;
        }
        match watcher.watch(&folder, RecursiveMode::NonRecursive) {
            Ok(()) => {
                info!(folder = %folder.display(), "Watching for configuration changes");
                watching.insert(folder);
            }
            // A folder that does not exist yet: tried again after the next reload.
            Err(e) => {
                warn!(folder = %folder.display(), error = %e, "Cannot watch a configuration folder; reload with SIGHUP")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_makes_one_reload_after_it_is_quiet() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = Debounce::new(ms(500));
        assert_eq!(d.due_at(), None);
        assert!(
            !d.take_if_due(t0 + ms(10_000)),
            "nothing pending, nothing due"
        );
        d.note(t0);
        d.note(t0 + ms(100));
        d.note(t0 + ms(300));
        assert_eq!(d.due_at(), Some(t0 + ms(800)));
        assert!(!d.take_if_due(t0 + ms(799)));
        assert!(d.take_if_due(t0 + ms(800)));
        assert!(!d.take_if_due(t0 + ms(5_000)), "taken once");
    }

    #[test]
    fn changes_that_never_stop_still_reload() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = Debounce::new(ms(500));
        let mut reloads = Vec::new();
        // A write every 200 ms for 12 s: quiet never comes.
        for i in 0..60 {
            let now = t0 + ms(200 * i);
            if d.take_if_due(now) {
                reloads.push(200 * i);
            }
            d.note(now);
        }
        // At most every 5 s (ten times the quiet period), not never.
        assert_eq!(reloads, [5_000, 10_000]);
    }

    #[test]
    fn a_signal_clears_what_is_pending() {
        let t0 = Instant::now();
        let mut d = Debounce::new(Duration::from_millis(500));
        d.note(t0);
        d.clear();
        assert_eq!(d.due_at(), None);
    }

    #[test]
    fn changes_to_the_files_and_to_kubernetes_data_links_count_others_do_not() {
        let files = [
            PathBuf::from("/etc/earshot/rules/rules.toml"),
            PathBuf::from("/etc/earshot/watchlists/watchlists.toml"),
        ];
        let yes = [
            "/etc/earshot/rules/rules.toml",
            "/etc/earshot/rules/..data",
            "/etc/earshot/rules/..data_tmp",
            "/etc/earshot/watchlists/..2026_11_30_16_00_00.123456789",
        ];
        assert!(relevant(Path::new("./r.toml"), &[PathBuf::from("r.toml")]));
        for path in yes {
            assert!(relevant(Path::new(path), &files), "{path}");
        }
        let no = [
            "/etc/earshot/rules/.rules.toml.swp",
            "/etc/earshot/rules/4913",
            "/etc/earshot/rules/rules.toml~",
            "/etc/earshot/other/rules.toml",
            "/etc/earshot/other/..data",
            "/",
        ];
        for path in no {
            assert!(!relevant(Path::new(path), &files), "{path}");
        }
    }

    #[test]
    fn writes_renames_and_removals_count_reads_and_metadata_do_not() {
        use notify::event::{
            AccessKind, CreateKind, DataChange, MetadataKind, RemoveKind, RenameMode,
        };
        for kind in [
            EventKind::Create(CreateKind::Any),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            EventKind::Remove(RemoveKind::Any),
            EventKind::Any,
        ] {
            assert!(changes_content(&kind), "{kind:?}");
        }
        for kind in [
            EventKind::Access(AccessKind::Any),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)),
        ] {
            assert!(!changes_content(&kind), "{kind:?}");
        }
    }

    #[test]
    fn each_folder_is_watched_once_and_a_bare_name_is_the_current_folder() {
        let files = [
            PathBuf::from("/a/x.toml"),
            PathBuf::from("/a/y.toml"),
            PathBuf::from("z.toml"),
        ];
        let got: Vec<PathBuf> = folders(&files).into_iter().collect();
        assert_eq!(got, [PathBuf::from("/a"), PathBuf::from(".")]);
    }
}
