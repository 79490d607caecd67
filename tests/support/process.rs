//! Child processes for end-to-end tests: started with their output in a log file, killed
//! on drop; and the small loopback helpers they need (a free port, a plain HTTP GET).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed (SIGKILL) on drop; stdout and stderr go to `<dir>/<name>.log`.
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, command: Command, dir: &Path) -> Proc {
        Proc::spawn_with(name, command, dir, Stdio::null())
    }

    pub fn spawn_with(name: &str, mut command: Command, dir: &Path, stdin: Stdio) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).expect("creating a log file");
        let err = out.try_clone().expect("cloning a log file handle");
        let child = command
            .stdin(stdin)
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({command:?}): {e}"));
        Proc {
            name: name.to_string(),
            child: Some(child),
            log,
        }
    }

    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("process still owned")
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child().try_wait().expect("polling a child process")
    }

    pub fn assert_running(&mut self, context: &str) {
        if let Some(status) = self.exited() {
            panic!(
                "{} exited {context} ({status})\n{}",
                self.name,
                self.log_tail()
            );
        }
    }

    /// The last lines of the process's output, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(40);
        format!(
            "--- last lines of {} ({}):\n{}",
            self.name,
            self.log.display(),
            lines[from..].join("\n")
        )
    }

    /// Waits for the process to exit on its own.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(
                started.elapsed() < within,
                "{} did not exit within {} s\n{}",
                self.name,
                within.as_secs(),
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then waits for a graceful exit.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        let pid = self.child().id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM {pid} failed");
        self.wait(within)
    }

    /// SIGKILL: no drain, no flush, no commit.
    pub fn kill_hard(&mut self) {
        let child = self.child();
        child.kill().expect("kill -9");
        child.wait().expect("reaping a killed process");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("asking the OS for a free port")
        .port()
}

/// `GET path` on a loopback HTTP server: status code and body, or `None` if no answer.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string();
    Some((status, body))
}
