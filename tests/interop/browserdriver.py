"""A browser driven by playwright-core over JSON lines: the Python half of `browser/*.mjs`.

Each driver script launches Debian's chromium, prints `{"ready": true, "browser": VERSION}`, then
answers each command `{"id", "cmd", ...}` read from stdin with `{"id", "ok": true, ...result}` or
`{"id", "ok": false, "error"}`. Without node, `browser/node_modules` (`npm ci --prefix
tests/interop/browser`) or /usr/bin/chromium the browser tests are skipped, except in CI
(CI=true), where they fail: `.ci/run` installs all three.
"""

from __future__ import annotations

import collections
import json
import os
import pathlib
import queue
import shutil
import subprocess
import threading

import pytest

BROWSER_DIR = pathlib.Path(__file__).resolve().parent / "browser"
CHROMIUM = "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
START_TIMEOUT = 30.0  # the driver's launch of chromium
CALL_TIMEOUT = 20.0  # one driver command


class BrowserDriver:
    """`node browser/SCRIPT`: one chromium, commanded over JSON lines."""

    def __init__(self, script: str):
        self.proc = subprocess.Popen(
            ["node", str(BROWSER_DIR / script), CHROMIUM], cwd=BROWSER_DIR, text=True, encoding="utf-8",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stderr: collections.deque[str] = collections.deque(maxlen=200)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._read, args=(self.proc.stdout, self._lines.put), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr.append), daemon=True).start()
        hello = self._reply(START_TIMEOUT)
        assert hello.get("ready"), hello
        self.version = hello["browser"]

    @staticmethod
    def _read(stream, sink) -> None:
        for line in iter(stream.readline, ""):
            sink(line.rstrip("\n"))
        sink(None)

    def _reply(self, timeout: float) -> dict:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the browser driver said nothing within {timeout}s{self.diagnostics()}")
        if line is None:
            self.proc.wait(timeout=5)
            raise AssertionError(f"the browser driver exited ({self.proc.returncode}){self.diagnostics()}")
        return json.loads(line)

    def call(self, cmd: str, **args) -> dict:
        self._next_id += 1
        self.proc.stdin.write(json.dumps({"id": self._next_id, "cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        reply = self._reply(CALL_TIMEOUT)
        assert reply.get("id") == self._next_id, reply
        assert reply["ok"], f"driver command {cmd} failed: {reply.get('error')}{self.diagnostics()}"
        return reply

    def diagnostics(self) -> str:
        return "\n--- browser driver stderr ---\n" + "\n".join(self.stderr) if self.stderr else ""

    def quit(self) -> None:
        try:
            self.call("quit")
            self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def require_browser() -> None:
    missing = []
    if shutil.which("node") is None:
        missing.append("node")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(CHROMIUM)
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        missing.append("tests/interop/browser/node_modules (npm ci --prefix tests/interop/browser)")
    if missing:
        message = f"missing for the browser tests: {', '.join(missing)} (.ci/run installs them)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
