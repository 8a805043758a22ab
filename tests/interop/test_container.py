"""The container image under podman: `scripts/build-image` builds the top-level Dockerfile
(FROM scratch, static binary, non-root); the image's metadata and files are what
docs/operations.md ("Container and sidecar") promises; a container starts on the default config; and a container serving the sidecar config
(deploy/feedgate.toml) takes pushes, stops on SIGTERM with exit code 0, and a new container on
the same volume serves the same ETags and items. The static binary resolves an upstream origin's
host name inside the image, where there is no glibc NSS (through /etc/hosts here).

Containers run as CI runs them: `podman --runtime runc --cgroup-manager cgroupfs run --ulimit …
--network host`, read-only, all capabilities dropped, listening on 127.0.0.1:0 (the bound port is
read from the log). Without podman the module is skipped, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import tarfile
import threading
import time
import uuid

import pytest
import yaml

from conftest import ANSI_RE, LISTEN_RE, REPO
from fgclient import assert_etag_header, parse_feed, request, wait_next_second

IMAGE = "localhost/feedgate:interop-test"
UID_GID = "65532:65532"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
RUN_FLAGS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "host",
             "--read-only", "--cap-drop", "all", "--security-opt", "no-new-privileges"]
SIDECAR_CONFIG = REPO / "deploy" / "feedgate.toml"


def podman_global() -> list[str]:
    flags = ["--cgroup-manager", "cgroupfs"]
    if shutil.which("runc"):
        flags = ["--runtime", "runc", *flags]  # crun does not work on these machines
    return flags


def diagnostics() -> str:
    """podman's version and storage, for failures that are about the machine."""
    out = []
    for args in (["version"], ["info", "--format", "{{json .Store}}"]):
        r = subprocess.run(["podman", *podman_global(), *args], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        out.append(f"$ podman {' '.join(args)}\n{r.stdout}{r.stderr}")
    return "\n".join(out)


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["podman", *podman_global(), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}\n{r.stdout}\n{r.stderr}\n{diagnostics()}")
    return r


@pytest.fixture(scope="module")
def image(figures):
    if shutil.which("podman") is None:
        if IN_CI:
            pytest.fail("podman is not installed: CI must build and run the container image "
                        "(.ci/run installs podman and runc)")
        pytest.skip("podman is not installed")
    start = time.monotonic()
    r = subprocess.run([str(REPO / "scripts" / "build-image"), IMAGE], cwd=REPO, capture_output=True,
                       text=True, timeout=2400, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        pytest.fail(f"scripts/build-image exited {r.returncode}\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}\n"
                    f"{diagnostics()}")
    figures["build-image (cargo + podman build)"] = f"{time.monotonic() - start:.1f} s"
    yield IMAGE
    podman("rmi", "--force", IMAGE, check=False)


@pytest.fixture(scope="module")
def figures(pytestconfig):
    """Figures measured along the way, printed once at the end of the module."""
    measured: dict[str, str] = {}
    yield measured
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    if capture and measured:
        with capture.global_and_fixture_disabled():
            print("\ncontainer figures: " + ", ".join(f"{k}: {v}" for k, v in measured.items()))


class Container:
    """One detached container; `base` is its HTTP address once it listens."""

    def __init__(self, image: str, *extra: str):
        self.name = f"feedgate-test-{uuid.uuid4().hex[:12]}"
        self.started_at = time.monotonic()
        podman("run", "--detach", "--name", self.name, *RUN_FLAGS,
               "--env", "FEEDGATE_LISTEN=127.0.0.1:0", *extra, image)
        self.base = self._wait_listening()
        self.ready_after = self._wait_ready()

    def logs(self, raw: bool = False) -> str:
        r = podman("logs", self.name, check=False)
        return r.stdout + r.stderr if raw else ANSI_RE.sub("", r.stdout + r.stderr)

    def state(self) -> str:
        return podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", self.name).stdout.strip()

    def _wait_listening(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = LISTEN_RE.search(self.logs())
            if m:
                return f"http://{m.group(1)}"
            if not self.state().startswith("running"):
                break
            time.sleep(0.05)
        raise AssertionError(f"container did not listen ({self.state()}):\n{self.logs()}\n{diagnostics()}")

    def _wait_ready(self) -> float:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if request("GET", self.base + "/readyz").status == 200:
                return time.monotonic() - self.started_at
            time.sleep(0.02)
        raise AssertionError(f"/readyz never answered 200:\n{self.logs()}")

    def stop(self) -> int:
        """`podman stop` (SIGTERM, the image's STOPSIGNAL) and the exit code."""
        podman("stop", "--time", "30", self.name, timeout=60)
        status, code = self.state().split()
        assert status == "exited", status
        return int(code)

    def remove(self) -> None:
        podman("rm", "--force", "--volumes", self.name, check=False)


@pytest.fixture
def containers():
    started: list[Container] = []
    yield started
    for c in started:
        c.remove()


@pytest.fixture
def volume():
    name = f"feedgate-test-{uuid.uuid4().hex[:12]}"
    podman("volume", "create", name)
    yield name
    podman("volume", "rm", "--force", name, check=False)


def test_image_is_static_non_root_and_configured_by_environment(image, figures, tmp_path):
    config = podman("image", "inspect", "--format", "{{json .Config}}", image).stdout
    meta = yaml.safe_load(config)  # JSON is YAML
    assert meta["User"] == UID_GID
    assert meta["ExposedPorts"] == {"8080/tcp": {}}
    assert meta["Volumes"] == {"/data": {}}
    assert meta["Entrypoint"] == ["/usr/local/bin/feedgate"] and meta["Cmd"] == ["serve"]
    assert meta.get("StopSignal") == "SIGTERM"
    # The binary is its own probe (no curl in the image); kept by `build --format docker`.
    health = json.loads(podman("image", "inspect", "--format", "{{json .HealthCheck}}", image).stdout)
    assert health["Test"] == ["CMD", "/usr/local/bin/feedgate", "healthcheck", "--timeout", "3s"], health
    env = dict(e.split("=", 1) for e in meta["Env"])
    assert env["FEEDGATE_LISTEN"] == "0.0.0.0:8080"
    assert env["FEEDGATE_DATA_DIR"] == "/data"
    assert env["FEEDGATE_CONFIG"] == "/etc/feedgate/feedgate.toml"
    assert env["NO_COLOR"] == "1"
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout)
    figures["image size"] = f"{size / 1e6:.1f} MB"
    assert size < 32 << 20, f"image is {size} bytes: is the binary stripped?"

    # The whole filesystem: the binary (root-owned), the default config, /data owned by the user.
    created = podman("create", image).stdout.strip()
    try:
        podman("export", "--output", str(tmp_path / "rootfs.tar"), created)
    finally:
        podman("rm", "--volumes", created, check=False)
    with tarfile.open(tmp_path / "rootfs.tar") as t:
        files = {m.name.lstrip("./").rstrip("/"): m for m in t.getmembers()}
    regular = {n for n, m in files.items() if m.isfile()}
    assert regular == {"usr/local/bin/feedgate", "etc/feedgate/feedgate.toml"}, sorted(files)
    assert (files["usr/local/bin/feedgate"].uid, files["usr/local/bin/feedgate"].mode & 0o777) == (0, 0o755)
    assert files["data"].isdir() and f"{files['data'].uid}:{files['data'].gid}" == UID_GID


def test_default_config_starts_without_feeds(image, containers, figures):
    c = Container(image)  # no mounts: the default config and an anonymous /data volume
    containers.append(c)
    figures["start to /readyz"] = f"{c.ready_after * 1000:.0f} ms"
    resp = request("GET", c.base + "/feeds")
    assert resp.status == 200 and resp.json() == {"feeds": []}, resp
    # The image's HEALTHCHECK command, run now: the server answers /healthz. (Here the test's
    # FEEDGATE_LISTEN has port 0, so the probe is given the URL; the image's 8080 needs none.)
    probe = podman("exec", c.name, "/usr/local/bin/feedgate", "healthcheck", "--timeout", "3s",
                   "--url", c.base + "/healthz")
    assert probe.stdout.strip() == "healthy: HTTP 200", probe
    assert c.stop() == 0, c.logs()
    assert "\x1b[" not in c.logs(raw=True), "container logs carry no colour codes"


def readable_copy(source, tmp_path):
    """A copy the image's user can read, whatever the checkout's umask."""
    copy = tmp_path / source.name
    copy.write_bytes(source.read_bytes())
    copy.chmod(0o644)
    return copy


def test_restart_on_the_same_volume_serves_the_same_etags(image, containers, volume, tmp_path):
    token = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())["services"]["app"]["environment"][
        "FEEDS_TOKEN"]
    auth = {"Authorization": f"Bearer {token}"}
    config = readable_copy(SIDECAR_CONFIG, tmp_path)
    mounts = ["--volume", f"{volume}:/data", "--volume", f"{config}:/etc/feedgate/feedgate.toml:ro"]

    first = Container(image, *mounts)
    containers.append(first)
    feed = first.base + "/feeds/orders"
    assert request("GET", feed).status == 401, "the sidecar config's credentials apply"
    for item, title, status in (("o-1", "Order 1", 201), ("o-2", "Order 2", 201), ("o-1", "Order 1, paid", 200)):
        resp = request("PUT", f"{feed}/items/{item}", auth, {"title": title})
        assert resp.status == status, resp
    wait_next_second()  # a catch-up shows only transactions of finished seconds
    before = request("GET", feed, auth)
    assert before.status == 200, before
    epoch, seq = assert_etag_header(before.header("ETag"))
    assert seq == 3
    doc = parse_feed(before.body)
    assert [(e.id, e.title, e.action, e.tick) for e in doc.entries] == [
        ("o-2", "Order 2", "add", 2), ("o-1", "Order 1, paid", "add", 3)]
    assert first.stop() == 0, f"SIGTERM must end feedgate with exit code 0:\n{first.logs()}"

    second = Container(image, *mounts)
    containers.append(second)
    feed = second.base + "/feeds/orders"
    after = request("GET", feed, auth)
    assert after.status == 200, after
    assert after.header("ETag") == before.header("ETag")
    assert after.header("Last-Modified") == before.header("Last-Modified")
    assert parse_feed(after.body).entries == doc.entries
    not_modified = request("GET", feed, auth | {"If-None-Match": before.header("ETag")})
    assert not_modified.status == 304 and not_modified.header("ETag") == before.header("ETag"), not_modified
    # The volume stays writable by the image's user: the log goes on in the same epoch.
    resp = request("PUT", f"{feed}/items/o-3", auth, {"title": "Order 3"})
    assert resp.status == 201 and resp.json()["etag"] == f"{epoch}.4", resp
    assert second.stop() == 0, second.logs()


@pytest.fixture
def origin():
    """A JSON origin on the host's loopback: one item."""
    body = json.dumps([{"id": "u-1", "title": "From upstream"}]).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_upstream_host_names_resolve_in_the_image(image, containers, origin, tmp_path):
    config_dir = tmp_path / "etc"
    config_dir.mkdir(mode=0o755)
    config_dir.chmod(0o755)  # readable by the image's user, whatever the umask
    (config_dir / "feedgate.toml").write_text(
        "[feeds.catalog]\n"
        f'upstream = {{ url = "http://origin.feedgate.test:{origin}/items.json", format = "json", refresh = "0s" }}\n')
    (config_dir / "feedgate.toml").chmod(0o644)
    c = Container(image, "--add-host", "origin.feedgate.test:127.0.0.1", "--volume", f"{config_dir}:/etc/feedgate:ro")
    containers.append(c)
    deadline = time.monotonic() + 20
    while True:
        resp = request("GET", c.base + "/feeds/catalog")  # each read syncs (refresh 0s)
        assert resp.status == 200, resp
        entries = [(e.id, e.title) for e in parse_feed(resp.body).entries]
        if entries or time.monotonic() > deadline:
            break
        wait_next_second()  # a catch-up shows only transactions of finished seconds
    assert entries == [("u-1", "From upstream")], c.logs()
    assert c.stop() == 0, c.logs()
