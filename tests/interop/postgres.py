"""A throw-away PostgreSQL server for the interop suite: `initdb` and `pg_ctl` from Debian's
postgresql package (the newest `/usr/lib/postgresql/*/bin`, or `$FEEDGATE_TEST_PG_BIN`), run as
the `postgres` user when the suite runs as root (PostgreSQL refuses root), in a temporary
directory that user owns, on a free loopback port. `PgServer.database()` creates a fresh, empty
database and returns its `postgres://` URL; `halt()` and `start()` stop and restart the server
on the same port and data (an outage); `stop()` stops it and removes the directory.

Settings are the defaults that matter to feedgate (`synchronous_commit` on, docs/deploying.md),
with `fsync` off only because the directory is thrown away and the machine is shared.

Without the binaries the tests that need a server are skipped, except in CI (CI=true), where
they fail: `.ci/run` installs postgresql.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PROGRAMS = ("initdb", "pg_ctl", "postgres", "psql")


def bin_dir() -> pathlib.Path | None:
    env = os.environ.get("FEEDGATE_TEST_PG_BIN")
    if env is not None:
        return pathlib.Path(env) if env else None
    versions = []
    for d in pathlib.Path("/usr/lib/postgresql").glob("*/bin"):
        if d.parent.name.isdigit() and all((d / p).is_file() for p in PROGRAMS):
            versions.append((int(d.parent.name), d))
    if versions:
        return max(versions)[1]
    found = shutil.which("initdb")
    if found and all((pathlib.Path(found).parent / p).is_file() for p in PROGRAMS):
        return pathlib.Path(found).parent
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, bin: pathlib.Path):
        self.bin = bin
        self.as_postgres = os.geteuid() == 0
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="feedgate-interop-pg."))
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.count = 0
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        try:
            self.start()
        except AssertionError:
            self.stop()
            raise

    def start(self) -> None:
        """Start the server (again, after `halt()`), on the same port and data."""
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
                   "-c fsync=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
                  "-t", "60", "-o", options, "start")

    def halt(self) -> None:
        """Stop the server (fast shutdown: clients are disconnected), keeping its data."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def _run(self, program: str, *args: str) -> str:
        cmd = [str(self.bin / program), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        r = subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (
            f"{' '.join(cmd)} exited with {r.returncode}:\n{r.stdout}\n{r.stderr}\n{self.log_text()}")
        return r.stdout

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def database(self) -> str:
        """A fresh, empty database: its URL."""
        self.count += 1
        name = f"interop_{self.count}"
        self._run("psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-d", "postgres", "-c", f"CREATE DATABASE {name}")
        return self.url(name)

    def log_text(self, last: int = 40) -> str:
        log = self.dir / "server.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-last:])

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            except AssertionError:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the session (databases are per test); conftest.py makes it
    available to every module."""
    bin = bin_dir()
    if bin is None:
        message = ("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin with "
                   f"{', '.join(PROGRAMS)}; .ci/run installs postgresql)")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    server = PgServer(bin)
    try:
        yield server
    finally:
        server.stop()
