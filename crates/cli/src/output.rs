//! One path for everything the CLI writes: results on stdout, notes and logs on stderr.
//!
//! A closed pipe (`earshot explain … | head -1`, `earshot run 2>&1 | head -1`) is a normal
//! end for a command-line tool: the command stops quietly and exits 0 (a daemon first stops
//! gracefully, as on SIGTERM). Any other write error (`>/dev/full`) is an error: a message
//! on stderr when stderr still works, and exit status 74 (`EX_IOERR`). Nothing panics: Rust's
//! `println!` panics on a write error, and tracing-subscriber's own error report does too
//! (from librdkafka's threads that aborts the process), so neither is used.

use std::fmt;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use earshot_kafka::Shutdown;

/// Exit status when output could not be written (sysexits' `EX_IOERR`).
pub const EXIT_OUTPUT_ERROR: u8 = 74;

/// A write to stdout or stderr failed.
#[derive(Debug)]
pub struct OutputError {
    stream: &'static str,
    source: io::Error,
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not write to {}: {}", self.stream, self.source)
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl OutputError {
    pub fn stdout(source: io::Error) -> OutputError {
        OutputError {
            stream: "stdout",
            source,
        }
    }

    pub fn stderr(source: io::Error) -> OutputError {
        OutputError {
            stream: "stderr",
            source,
        }
    }

    /// The reader went away: not a failure.
    pub fn is_closed_pipe(&self) -> bool {
        self.source.kind() == io::ErrorKind::BrokenPipe
    }
}

/// Buffered standard output whose errors are [`OutputError`]s.
#[derive(Debug)]
pub struct Stdout {
    inner: BufWriter<io::StdoutLock<'static>>,
    scratch: Vec<u8>,
}

impl Default for Stdout {
    fn default() -> Self {
        Stdout::new()
    }
}

impl Stdout {
    pub fn new() -> Stdout {
        Stdout {
            inner: BufWriter::with_capacity(1 << 16, io::stdout().lock()),
            scratch: Vec::new(),
        }
    }

    /// Writes `text` as is.
    pub fn write(&mut self, text: &str) -> Result<(), OutputError> {
        self.inner
            .write_all(text.as_bytes())
            .map_err(OutputError::stdout)
    }

    /// Writes one line.
    pub fn line(&mut self, args: fmt::Arguments<'_>) -> Result<(), OutputError> {
        self.inner
            .write_fmt(args)
            .and_then(|()| self.inner.write_all(b"\n"))
            .map_err(OutputError::stdout)
    }

    /// Writes `value` as one JSON line.
    pub fn json_line<T: serde::Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), OutputError> {
        self.scratch.clear();
        // Serialising into memory cannot fail for Earshot's types (string keys only).
        serde_json::to_writer(&mut self.scratch, value)
            .map_err(|e| OutputError::stdout(io::Error::other(e)))?;
        self.scratch.push(b'\n');
        self.inner
            .write_all(&self.scratch)
            .map_err(OutputError::stdout)
    }

    /// Writes one line that `fill` appends to an empty buffer (a record's own JSON writer,
    /// such as [`earshot_model::write_scored_post`]).
    pub fn line_with(&mut self, fill: impl FnOnce(&mut Vec<u8>)) -> Result<(), OutputError> {
        self.scratch.clear();
        fill(&mut self.scratch);
        self.scratch.push(b'\n');
        self.inner
            .write_all(&self.scratch)
            .map_err(OutputError::stdout)
    }

    /// Flushes; call before returning, so that a failure is reported.
    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.inner.flush().map_err(OutputError::stdout)
    }
}

/// Writes one line to stdout at once (for commands that print as things happen).
pub fn print(args: fmt::Arguments<'_>) -> Result<(), OutputError> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(OutputError::stdout)
}

/// Writes one line to stderr (a summary, a skipped line).
pub fn note(args: fmt::Arguments<'_>) -> Result<(), OutputError> {
    let mut err = io::stderr().lock();
    err.write_fmt(args)
        .and_then(|()| err.write_all(b"\n"))
        .map_err(OutputError::stderr)
}

/// Writes to stderr without a newline (a progress line), ignoring nothing.
pub fn note_raw(text: &str) -> Result<(), OutputError> {
    let mut err = io::stderr().lock();
    err.write_all(text.as_bytes())
        .and_then(|()| err.flush())
        .map_err(OutputError::stderr)
}

/// Set when a log line could not be written for a reason other than a closed pipe.
static LOG_WRITE_FAILED: AtomicBool = AtomicBool::new(false);
/// Set when stderr turned out to be a closed pipe.
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);
/// Stopped gracefully when stderr closes (a daemon whose log reader went away).
static ON_STDERR_CLOSED: OnceLock<Mutex<Vec<Shutdown>>> = OnceLock::new();

/// Asks `shutdown` to be triggered when stderr turns out to be a closed pipe: a daemon
/// piped into `head` stops as a command-line tool would, but gracefully.
pub fn stop_when_stderr_closes(shutdown: &Shutdown) {
    let list = ON_STDERR_CLOSED.get_or_init(|| Mutex::new(Vec::new()));
    list.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(shutdown.clone());
    if STDERR_CLOSED.load(Ordering::SeqCst) {
        shutdown.trigger();
    }
}

fn stderr_failed(error: &io::Error) {
    if error.kind() == io::ErrorKind::BrokenPipe {
        if !STDERR_CLOSED.swap(true, Ordering::SeqCst) {
            if let Some(list) = ON_STDERR_CLOSED.get() {
                for shutdown in list.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                    shutdown.trigger();
                }
            }
        }
    } else {
        LOG_WRITE_FAILED.store(true, Ordering::SeqCst);
    }
}

/// The writer behind `tracing`: stderr, where a failed write is remembered (and a closed
/// pipe stops daemons) instead of reported on stderr itself or panicking.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if STDERR_CLOSED.load(Ordering::Relaxed) {
            return Ok(buf.len());
        }
        if let Err(e) = io::stderr().write_all(buf) {
            stderr_failed(&e);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter
    }
}

/// Whether logs on stderr get ANSI colours: only on a terminal, and never with `NO_COLOR`
/// set to anything non-empty (<https://no-color.org>).
pub fn colour_logs() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && io::stderr().is_terminal()
}

/// The exit status for a command's outcome, after telling the user what went wrong.
pub fn exit(result: anyhow::Result<ExitCode>) -> ExitCode {
    let code = match result {
        Ok(code) => code,
        Err(error) => match error.chain().find_map(|e| e.downcast_ref::<OutputError>()) {
            Some(output) if output.is_closed_pipe() => ExitCode::SUCCESS,
            Some(output) => {
                let _ = writeln!(io::stderr(), "earshot: {output}");
                ExitCode::from(EXIT_OUTPUT_ERROR)
            }
            None => {
                let _ = writeln!(io::stderr(), "earshot: {error:#}");
                ExitCode::from(2)
            }
        },
    };
    if LOG_WRITE_FAILED.load(Ordering::SeqCst) && code == ExitCode::SUCCESS {
        // Logs were lost (a full disk): the run did not go as it should be seen to.
        return ExitCode::from(EXIT_OUTPUT_ERROR);
    }
    code
}

/// Reports panics through `tracing` (JSON logs stay parseable) with where they happened,
/// and never writes to a closed stderr. The stage runner catches panics of one record;
/// this is what the log shows for them and for any other.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        if tracing::dispatcher::has_been_set() {
            tracing::error!(%location, %thread, panic = %message, "Panic");
        } else {
            let _ = writeln!(
                io::stderr(),
                "earshot: internal error (a bug): thread '{thread}' panicked at {location}: {message}"
            );
        }
    }));
}
