"""Real caching proxies in front of feedgate, for the interop suite: Varnish (`varnishd`) and
nginx from Debian's packages, each on a free loopback port in its own temporary directory.

`start_varnish` and `start_nginx` run the configurations docs/deploying.md gives,
`deploy/varnish/feedgate.vcl` and `deploy/nginx/feedgate.conf`, read from those files with only
the backend address, the listen port and the cache directory replaced (each replaced text must
occur exactly once, so the files and the tests cannot drift apart). `config=` runs another
configuration text instead (the tests' naive setups). `Proxy.stop()` ends the process group it
started and removes the proxy's directory.

Without the programs the tests are skipped, except in CI (CI=true), where they fail: `.ci/run`
installs both packages.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import REPO

DEPLOY = REPO / "deploy"
VCL = DEPLOY / "varnish" / "feedgate.vcl"
NGINX_CONF = DEPLOY / "nginx" / "feedgate.conf"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
START_TIMEOUT = 30.0


def require(program: str) -> str:
    """The path of `program` (looked up in the sbin directories too), else skip or fail."""
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin:/usr/local/sbin")
    if path is None:
        message = f"{program} is not installed (.ci/run installs nginx and varnish)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def substitute(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        count = text.count(old)
        assert count == 1, f"{old!r} occurs {count} times in the deployed configuration, not once"
        text = text.replace(old, new)
    return text


def split_host_port(base: str) -> tuple[str, int]:
    """`http://127.0.0.1:1234` -> ("127.0.0.1", 1234)."""
    host, _, port = base.removeprefix("http://").rpartition(":")
    return host, int(port)


class Proxy:
    """One running proxy: `name`, its `base` URL, the process and its log file."""

    def __init__(self, name: str, workdir: pathlib.Path, cmd: list[str], port: int):
        self.name = name
        self.workdir = workdir
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
        self._wait_ready()

    def url(self, path: str) -> str:
        return self.base + path

    def log_text(self, last: int = 60) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        error_log = self.workdir / "error.log"  # nginx's
        if error_log.exists():
            lines += error_log.read_text(errors="replace").splitlines()
        return "\n".join(lines[-last:])

    def _wait_ready(self) -> None:
        """Until the proxy answers /healthz from feedgate (which also proves the backend path)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"{self.name} exited with {self.proc.returncode} (log above)")
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{self.name} not answering within {START_TIMEOUT}s (log above)")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM to the process group (nginx's workers, Varnish's child), then SIGKILL if it
        has not exited within 10 s; then its log goes to stdout (pytest shows it for a failed
        test) and its directory (config, cache, Varnish's shared memory) is removed."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # Nothing of the group may outlive the test.
        deadline = time.monotonic() + 5
        while _group_alive(self.proc.pid):
            if time.monotonic() > deadline:
                os.killpg(self.proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        self._log.close()
        print(f"--- {self.name} log (last lines) ---\n{self.log_text()}")
        shutil.rmtree(self.workdir, ignore_errors=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def start_varnish(workdir: pathlib.Path, backend: str, config: str | None = None) -> Proxy:
    """varnishd in the foreground (`-F`) with the deployed VCL pointing at `backend`."""
    varnishd = require("varnishd")
    workdir.mkdir(parents=True, exist_ok=True)
    host, port = split_host_port(backend)
    if config is None:
        config = substitute(VCL.read_text(), {
            '.host = "127.0.0.1";': f'.host = "{host}";',
            '.port = "8080";': f'.port = "{port}";',
        })
    vcl = workdir / "feedgate.vcl"
    vcl.write_text(config)
    listen = free_port()
    cmd = [varnishd, "-F", "-n", str(workdir / "varnish"), "-a", f"127.0.0.1:{listen}",
           "-f", str(vcl), "-s", "malloc,64m", "-T", "none"]
    if os.geteuid() == 0:
        cmd += ["-j", "none"]  # no privilege separation: the temporary directory stays usable
    return Proxy("varnish", workdir, cmd, listen)


def start_nginx(workdir: pathlib.Path, backend: str, config: str | None = None) -> Proxy:
    """nginx (master and one worker, not daemonised) with the deployed site config included
    in a minimal main config of its own (pid, logs and temporary paths in `workdir`)."""
    nginx = require("nginx")
    workdir.mkdir(parents=True, exist_ok=True)
    listen = free_port()
    if config is None:
        config = substitute(NGINX_CONF.read_text(), {
            "server 127.0.0.1:8080;": f"server {backend.removeprefix('http://')};",
            "listen 127.0.0.1:8081;": f"listen 127.0.0.1:{listen};",
            "/var/cache/nginx/feedgate": str(workdir / "cache"),
        })
    else:
        config = config.replace("LISTEN", f"127.0.0.1:{listen}")
    site = workdir / "feedgate.conf"
    site.write_text(config)
    temp = workdir / "temp"
    temp.mkdir(exist_ok=True)
    user = "user root root;\n" if os.geteuid() == 0 else ""
    main = workdir / "nginx.conf"
    main.write_text(f"""{user}daemon off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {workdir}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {site};
}}
""")
    cmd = [nginx, "-p", str(workdir), "-c", str(main), "-e", str(workdir / "error.log")]
    return Proxy("nginx", workdir, cmd, listen)


STARTERS = {"varnish": start_varnish, "nginx": start_nginx}
