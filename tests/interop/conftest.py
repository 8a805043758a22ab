"""Fixtures that run the real release binary for the interop suite.

`feedgate` starts `feedgate serve --config FILE` on `127.0.0.1:0` with a fresh data dir and
the feeds in `FEEDS`, waits for the log line `listening on http://ADDR`, and yields a handle
with the base URL. Teardown sends SIGTERM and requires exit code 0 within 10 s (graceful
shutdown, PROTOCOL §8). `feedgate_factory` starts servers with other feeds or settings.
`postgres` (postgres.py) is a throw-away PostgreSQL server for the session.

The binary is `$FEEDGATE_BIN`, else `$CARGO_TARGET_DIR/release/feedgate`, else
`target/release/feedgate` in the repository (built by `scripts/test`).
"""

from __future__ import annotations

import collections
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import threading
import time
import warnings

import pytest

from fgclient import Producer
from postgres import postgres  # noqa: F401  (a session's PostgreSQL server, for the scale-out tests)

REPO = pathlib.Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(r"listening on http://([0-9.:\[\]]+)")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

# feedparser.parse(url) has no timeout argument; never let a test hang on a socket.
socket.setdefaulttimeout(15)

FEEDS = {
    "news": {"title": "News", "link": "https://example.org/news", "description": "Company news"},
    "other": {"title": "Other", "link": "https://example.org/other", "description": "Another feed"},
}


def feedgate_bin() -> str:
    if os.environ.get("FEEDGATE_BIN"):
        return os.environ["FEEDGATE_BIN"]
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or "target")
    if not target.is_absolute():
        target = REPO / target
    return str(target / "release" / "feedgate")


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string of BMP text is a valid TOML basic string
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(v)


def render_config(data_dir: pathlib.Path, feeds: dict, extra: dict | None = None) -> str:
    extra = dict(extra or {})
    listen = extra.pop("listen", "127.0.0.1:0")  # a fixed port, for a base_url that names it
    lines = [f"listen = {_toml_value(listen)}", f"data_dir = {_toml_value(str(data_dir))}"]
    for key, value in extra.items():
        lines.append(f"{key} = {_toml_value(value)}")
    for name, settings in feeds.items():
        lines.append("")
        lines.append(f"[feeds.{name}]")
        for key, value in settings.items():
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


class FeedgateServer:
    def __init__(self, workdir: pathlib.Path, feeds: dict | None = None, extra: dict | None = None,
                 args: list[str] | None = None):
        """`args` replaces the default `--config FILE` command-line arguments after `serve`."""
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = workdir / "data"
        self.config_path = workdir / "feedgate.toml"
        self.config_path.write_text(render_config(self.data_dir, feeds or FEEDS, extra))
        self.args = ["--config", str(self.config_path)] if args is None else args
        self.proc: subprocess.Popen | None = None
        self.base: str | None = None
        self.log: collections.deque[str] = collections.deque(maxlen=2000)
        self._listening = threading.Event()
        self._threads: list[threading.Thread] = []
        self.listen_stream: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FeedgateServer":
        binary = feedgate_bin()
        if not os.access(binary, os.X_OK):
            pytest.fail(f"feedgate binary not found or not executable: {binary} "
                        "(run `cargo build --release` or set FEEDGATE_BIN)")
        env = dict(os.environ, RUST_LOG="info", NO_COLOR="1", RUST_BACKTRACE="1")
        for var in ("FEEDGATE_CONFIG", "FEEDGATE_LISTEN", "FEEDGATE_DATA_DIR"):
            env.pop(var, None)
        self.proc = subprocess.Popen(
            [binary, "serve", *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.workdir,
            env=env,
        )
        for name, stream in (("stderr", self.proc.stderr), ("stdout", self.proc.stdout)):
            t = threading.Thread(target=self._pump, args=(name, stream), daemon=True)
            t.start()
            self._threads.append(t)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._listening.wait(0.05):
            if self.proc.poll() is not None:
                self._join_pumps()
                pytest.fail(f"feedgate exited with {self.proc.returncode} before listening:\n{self.log_text()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"no 'listening on http://…' log line within {START_TIMEOUT}s:\n{self.log_text()}")
        if self.listen_stream != "stderr":
            warnings.warn(f"feedgate logged its listen address on {self.listen_stream}, not stderr")
        return self

    def _pump(self, name: str, stream) -> None:
        # Read until EOF so the pipe never fills, whatever the server logs.
        for raw in iter(stream.readline, b""):
            line = ANSI_RE.sub("", raw.decode("utf-8", "replace").rstrip("\n"))
            self.log.append(f"[{name}] {line}")
            if not self._listening.is_set():
                m = LISTEN_RE.search(line)
                if m:
                    self.base = f"http://{m.group(1)}"
                    self.listen_stream = name
                    self._listening.set()
        stream.close()

    def _join_pumps(self) -> None:
        for t in self._threads:
            t.join(timeout=5)

    def stop(self) -> int:
        """SIGTERM, then the exit code (killing the process if it does not exit in time)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._join_pumps()
                raise AssertionError(
                    f"feedgate did not exit within {STOP_TIMEOUT}s of SIGTERM:\n{self.log_text()}"
                )
        self._join_pumps()
        return self.proc.returncode

    def shutdown(self) -> None:
        """Stop with SIGTERM and require a graceful exit (code 0 within 10 s)."""
        try:
            rc = self.stop()
        finally:
            print(f"--- feedgate log (last lines) ---\n{self.log_text()}")
        assert rc == 0, f"feedgate exited with {rc} after SIGTERM (expected 0)"

    # ------------------------------------------------------------------ helpers
    def url(self, path: str) -> str:
        return self.base + path

    def producer(self, feed: str = "news") -> Producer:
        return Producer(self.base, feed)

    def log_text(self, last: int = 80) -> str:
        return "\n".join(list(self.log)[-last:])


@pytest.fixture
def feedgate(tmp_path):
    server = FeedgateServer(tmp_path / "feedgate").start()
    yield server
    server.shutdown()


@pytest.fixture
def feedgate_factory(tmp_path):
    servers: list[FeedgateServer] = []

    def start(feeds: dict | None = None, extra: dict | None = None, args: list[str] | None = None,
              workdir: pathlib.Path | None = None) -> FeedgateServer:
        """Start a server; pass the `workdir` of an earlier (stopped) one to restart on its data."""
        workdir = workdir or tmp_path / f"feedgate{len(servers)}"
        server = FeedgateServer(workdir, feeds, extra, args).start()
        servers.append(server)
        return server

    yield start
    failures = []
    for server in servers:
        if server.proc.returncode is not None:
            continue  # stopped (and checked) by the test itself
        try:
            server.shutdown()
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)
