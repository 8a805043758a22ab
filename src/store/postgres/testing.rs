//! A throw-away PostgreSQL server for the tests: started once per test
//! process, on first use, from the PostgreSQL binaries on this machine
//! (`FEEDGATE_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`,
//! else `initdb` on `PATH`; `FEEDGATE_TEST_PG_BIN=` empty skips them), in a
//! temporary directory, listening on a free loopback port; a fresh database
//! per test ([`Server::database`]).
//!
//! A guardian shell started with the server (as the `postgres` user when
//! the tests run as root: PostgreSQL refuses to run as root) reads its
//! standard input until the test process exits, whichever way it exits
//! (its end of the pipe closes), then stops the server and removes the
//! directory: no server outlives the test run.
//!
//! Without PostgreSQL binaries the PostgreSQL tests say so on stderr (past
//! the test harness's capture) and pass; with binaries that fail to start a
//! server they fail.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// The running server.
pub(crate) struct Server {
    port: u16,
    next: AtomicU64,
    /// Held open for the life of the process: its closing stops the server.
    _guardian: Mutex<(Child, ChildStdin)>,
}

static SERVER: OnceLock<Option<Server>> = OnceLock::new();

/// The server, started on first use; `None` (after a message on stderr)
/// when this machine has no PostgreSQL binaries.
pub(crate) fn server() -> Option<&'static Server> {
    SERVER
        .get_or_init(|| match bin_dir() {
            Some(bin) => Some(Server::start(&bin)),
            None => {
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: the PostgreSQL store tests (no PostgreSQL binaries found, or FEEDGATE_TEST_PG_BIN is empty: install \
                     Debian's postgresql package, or set FEEDGATE_TEST_PG_BIN)"
                );
                None
            }
        })
        .as_ref()
}

/// Where `initdb`, `pg_ctl` and `postgres` are.
fn bin_dir() -> Option<PathBuf> {
    let has = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(dir) = std::env::var_os("FEEDGATE_TEST_PG_BIN") {
        // Empty: skip on purpose.
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, dir)| has(dir))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|dir| has(dir))
}

/// Runs as the server's owner: creates the directory and the cluster,
/// starts the server, says `ready`, then waits for the end of its input
/// and cleans up. Arguments: the binaries' directory, the port.
const GUARDIAN: &str = r#"
set -u
bin=$1 port=$2
dir=$(mktemp -d /tmp/feedgate-test-pg.XXXXXX) || exit 1
cleanup() { "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$dir"; }
if ! "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale --no-sync \
        >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2; cleanup; exit 1
fi
if ! "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null 2>&1; then
    cat "$dir/server.log" >&2; cleanup; exit 1
fi
echo ready
cat >/dev/null
cleanup
"#;

impl Server {
    fn start(bin: &Path) -> Server {
        let mut last = String::new();
        for _ in 0..3 {
            match Server::try_start(bin) {
                Ok(server) => return server,
                Err(why) => last = why,
            }
        }
        panic!(
            "PostgreSQL binaries in {} cannot start a server: {last}",
            bin.display()
        );
    }

    fn try_start(bin: &Path) -> Result<Server, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt;
            m.uid() == 0
        });
        let mut cmd = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "sh"]);
            c
        } else {
            Command::new("sh")
        };
        cmd.arg("-c")
            .arg(GUARDIAN)
            .arg("sh")
            .arg(bin)
            .arg(port.to_string());
        // Its own process group: a Ctrl-C of the test run reaches the test
        // process, whose exit then stops the server in order.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run the guardian shell: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        if line.trim() != "ready" {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let _ = child.wait();
            return Err(err);
        }
        Ok(Server {
            port,
            next: AtomicU64::new(0),
            _guardian: Mutex::new((child, stdin)),
        })
    }

    /// The URL of database `name`.
    pub(crate) fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// A fresh, empty database; its URL.
    pub(crate) async fn database(&self) -> String {
        let name = format!("t_{}", self.next.fetch_add(1, Ordering::SeqCst));
        let (client, conn) = tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"));
        let driver = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        drop(client);
        let _ = driver.await;
        self.url(&name)
    }
}
