//! The real `feedgate` binary as a child process: started with its stderr
//! read by a thread, ready once it logs `listening on http://ADDR`. With
//! `TEST_LOG` set, its log lines are also copied to the test's output.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    /// The log lines up to and including the `listening on` line.
    pub startup: Vec<String>,
    log: Receiver<String>,
}

/// Start `feedgate ARGS` (`RUST_LOG=info` unless `env` says otherwise) and
/// wait up to 20 s for it to listen.
pub fn start(args: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_feedgate"));
    cmd.args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let Some(stderr) = child.stderr.take() else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no stderr pipe");
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let echo = super::log::enabled().then_some(child.id());
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(pid) = echo {
                eprintln!("feedgate[{pid}]: {line}");
            }
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut startup = Vec::new();
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no listening line in: {startup:#?}"));
        let addr = line
            .split("listening on http://")
            .nth(1)
            // Text (`… http://ADDR store=…`) or JSON (`… http://ADDR","store":…`).
            .and_then(|rest| rest.split(|c: char| c.is_whitespace() || c == '"').next())
            .map(|addr| addr.parse().unwrap());
        startup.push(line);
        if let Some(addr) = addr {
            return Proc {
                child,
                addr,
                startup,
                log: rx,
            };
        }
    }
}

impl Proc {
    /// Send SIGTERM.
    pub fn term(&mut self) {
        self.signal("TERM");
    }

    /// Send the signal `name` (`TERM`, `HUP`, `INT`).
    pub fn signal(&mut self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Wait up to 10 s for the process to exit; its exit code.
    pub fn wait_exit(&mut self) -> i32 {
        for _ in 0..200 {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("feedgate did not exit within 10 s");
    }

    /// The log lines read since startup (or since the last call), so far.
    pub fn logs(&self) -> String {
        self.log.try_iter().collect::<Vec<_>>().join("\n")
    }

    /// After the process has exited: every log line since startup, up to
    /// the end of its stderr.
    pub fn all_logs(&self) -> String {
        let mut out = Vec::new();
        loop {
            match self.log.recv_timeout(Duration::from_secs(10)) {
                Ok(line) => out.push(line),
                Err(RecvTimeoutError::Disconnected) => return out.join("\n"),
                Err(RecvTimeoutError::Timeout) => panic!("stderr still open: {out:#?}"),
            }
        }
    }

    /// Stop the process (SIGKILL) and reap it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory holding `f.toml`: `data_dir` (inside it) and then
/// `body` (settings, then `[feeds.…]` tables). Returns the directory and the
/// config's path.
pub fn config_file(body: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("f.toml");
    std::fs::write(
        &cfg,
        format!("data_dir = {:?}\n{body}", dir.path().join("d")),
    )
    .unwrap();
    let path = cfg.to_str().unwrap().to_string();
    (dir, path)
}

/// `feedgate serve --listen 127.0.0.1:0 --config CONFIG`.
pub fn serve(config: &str, env: &[(&str, &str)]) -> Proc {
    start(
        &["serve", "--listen", "127.0.0.1:0", "--config", config],
        env,
    )
}

/// A line of /proc/PID/status in KiB (`VmHWM:`, `VmRSS:`).
pub fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {status}"))
}
