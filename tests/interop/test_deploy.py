"""The sidecar examples in deploy/ against the real binary: the Kubernetes manifest
(`deploy/kubernetes/feedgate-sidecar.yaml`) and the compose file (`deploy/compose.yaml`) parse,
every subcommand and flag they pass is one `feedgate --help` / `feedgate serve --help` lists,
the binary starts with their config and their exact `FEEDGATE_*` environment without rejecting
or ignoring any variable and answers the probe paths, and the pieces agree with each other
(probe and Service ports with the listen address, mounts with the data and config paths, the
pod's user with the image's, the app's token with the config's digest)."""

from __future__ import annotations

import hashlib
import os
import pathlib
import re
import signal
import subprocess
import threading
import tomllib
import urllib.parse

import pytest
import yaml

from conftest import ANSI_RE, LISTEN_RE, REPO, feedgate_bin
from fgclient import request

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "kubernetes" / "feedgate-sidecar.yaml"
COMPOSE = DEPLOY / "compose.yaml"
CONFIG = DEPLOY / "feedgate.toml"
IMAGE_DATA_DIR = "/data"  # the Dockerfile's FEEDGATE_DATA_DIR


# --------------------------------------------------------------------------- the examples


def k8s_docs() -> dict[str, dict]:
    docs = [d for d in yaml.safe_load_all(K8S.read_text()) if d is not None]
    kinds = [d["kind"] for d in docs]
    assert len(set(kinds)) == len(kinds), f"one object per kind expected: {kinds}"
    for d in docs:
        assert d.get("apiVersion") and d.get("metadata", {}).get("name"), d
    return {d["kind"]: d for d in docs}


def compose_doc() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def k8s_container(name: str) -> dict:
    containers = {c["name"]: c for c in k8s_docs()["Pod"]["spec"]["containers"]}
    return containers[name]


def k8s_env(container: dict) -> dict[str, str]:
    env = {}
    for entry in container.get("env", []):
        if entry["name"].startswith("FEEDGATE_"):
            assert "value" in entry, f"{entry['name']} must be a literal value to be checkable"
        env[entry["name"]] = str(entry.get("value", ""))
    return env


def compose_env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the `- KEY=VALUE` form
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def sidecar(example: str) -> tuple[list[str], dict[str, str]]:
    """The feedgate container's arguments and environment in one example."""
    if example == "kubernetes":
        c = k8s_container("feedgate")
        assert "command" not in c, "the image's entrypoint is the binary; pass only args"
        return [str(a) for a in c.get("args", [])], k8s_env(c)
    svc = compose_doc()["services"]["feedgate"]
    assert "entrypoint" not in svc, "the image's entrypoint is the binary; pass only a command"
    command = svc.get("command", [])
    return [str(a) for a in (command.split() if isinstance(command, str) else command)], compose_env(svc)


def listen_port(env: dict[str, str]) -> int:
    return int(env.get("FEEDGATE_LISTEN", "0.0.0.0:8080").rsplit(":", 1)[1])


# --------------------------------------------------------------------------- the binary


def binary() -> str:
    path = feedgate_bin()
    if not os.access(path, os.X_OK):
        pytest.fail(f"feedgate binary not found: {path} (run `cargo build --release`)")
    return path


def help_text(*args: str) -> str:
    r = subprocess.run([binary(), *args, "--help"], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL, env=dict(os.environ, NO_COLOR="1"))
    assert r.returncode == 0, r
    return ANSI_RE.sub("", r.stdout)


def accepted_cli() -> tuple[set[str], dict[str, bool], set[str]]:
    """(subcommands, {flag: takes a value}, env names) as the binary's clap help lists them."""
    top = help_text()
    commands_section = top.split("Commands:", 1)[1].split("\n\n", 1)[0]
    commands = {line.split()[0] for line in commands_section.splitlines() if line.strip()} - {"help"}
    serve = help_text("serve")
    flags = {m.group(1): bool(m.group(2)) for m in re.finditer(r"(--[a-z][a-z0-9-]*)( <[A-Z_]+>)?", serve)}
    envs = set(re.findall(r"\[env: (FEEDGATE_[A-Z0-9_]+)=", serve))
    return commands, flags, envs


class Run:
    """The binary started with an example's config and environment; its log and exit code."""

    def __init__(self, tmp: pathlib.Path, args: list[str], env: dict[str, str], config_text: str):
        config = tmp / "feedgate.toml"
        config.write_text(config_text)
        # Flags beat the environment: the manifest's variables are all parsed and validated
        # (FEEDGATE_LISTEN too), then this run binds a free loopback port in a temporary dir.
        cmd = [binary(), *args, "--config", str(config), "--listen", "127.0.0.1:0",
               "--data-dir", str(tmp / "data")]
        clean = {k: v for k, v in os.environ.items() if not k.startswith("FEEDGATE_")}
        self.proc = subprocess.Popen(cmd, env=clean | env | {"RUST_LOG": "info", "NO_COLOR": "1"},
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, cwd=tmp)
        self.lines: list[str] = []
        self.base: str | None = None
        listening = threading.Event()

        def pump():
            for raw in self.proc.stderr:
                line = ANSI_RE.sub("", raw.rstrip("\n"))
                self.lines.append(line)
                m = LISTEN_RE.search(line)
                if m and self.base is None:
                    self.base = f"http://{m.group(1)}"
                    listening.set()
            listening.set()  # EOF: exited

        self.pump = threading.Thread(target=pump, daemon=True)
        self.pump.start()
        if not listening.wait(20):
            self.proc.kill()
        self.started = self.base is not None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.pump.join(5)
        return rc

    def complaints_about(self, name: str) -> list[str]:
        """Warnings or errors that name the variable: rejected or ignored."""
        return [l for l in self.lines if name in l and re.search(r"\b(WARN|ERROR)\b|^Error", l)]

    @property
    def log(self) -> str:
        return "\n".join(self.lines)


# --------------------------------------------------------------------------- tests


def test_examples_parse_and_have_the_sidecar_shape():
    docs = k8s_docs()
    assert set(docs) == {"ConfigMap", "Secret", "PersistentVolumeClaim", "Pod", "Service"}
    assert {c["name"] for c in docs["Pod"]["spec"]["containers"]} == {"app", "feedgate"}
    services = compose_doc()["services"]
    assert set(services) == {"app", "feedgate"}
    # compose's equivalent of a pod: the app joins feedgate's network namespace (localhost).
    assert services["app"]["network_mode"] == "service:feedgate"
    assert "ports" not in services["app"], "published ports belong to the namespace's owner"


def test_configmap_is_deploy_feedgate_toml():
    assert k8s_docs()["ConfigMap"]["data"]["feedgate.toml"] == CONFIG.read_text()


@pytest.mark.parametrize("example", ["kubernetes", "compose"])
def test_subcommands_and_flags_are_ones_feedgate_accepts(example):
    commands, flags, _ = accepted_cli()
    assert "serve" in commands and "--config" in flags, "help output not understood"
    args, _ = sidecar(example)
    assert args and args[0] in commands, f"{example}: {args} does not start with one of {commands}"
    rest = iter(args[1:])
    for token in rest:
        name = token.split("=", 1)[0]
        assert name in flags, f"{example}: {token!r} is not a flag of `feedgate serve` ({sorted(flags)})"
        if flags[name] and "=" not in token:
            assert next(rest, None) is not None, f"{example}: {name} needs a value"


@pytest.mark.parametrize("example", ["kubernetes", "compose"])
def test_feedgate_starts_with_the_examples_config_and_environment(example, tmp_path):
    args, env = sidecar(example)
    variables = sorted(k for k in env if k.startswith("FEEDGATE_"))
    assert {"FEEDGATE_LISTEN", "FEEDGATE_DATA_DIR", "FEEDGATE_CONFIG"} <= set(variables)
    _, _, clap_envs = accepted_cli()
    assert {"FEEDGATE_CONFIG", "FEEDGATE_LISTEN", "FEEDGATE_DATA_DIR"} <= clap_envs
    run = Run(tmp_path, args, env, CONFIG.read_text())
    try:
        assert run.started, f"{example}: feedgate did not start:\n{run.log}"
        for name in variables:
            assert not run.complaints_about(name), f"{example}: feedgate rejects or ignores {name}:\n{run.log}"
        # The probe paths the manifest uses, on the binary itself.
        for path in ("/healthz", "/readyz"):
            resp = request("GET", run.base + path)
            assert resp.status == 200, resp
        assert request("GET", run.base + "/feeds/orders").status == 401, "the config's credentials apply"
    finally:
        rc = run.stop()
    assert rc == 0, f"exit code {rc} after SIGTERM:\n{run.log}"


@pytest.mark.parametrize("example", ["kubernetes", "compose"])
def test_check_config_applies_the_examples_environment(example):
    """`feedgate check-config` loads file + environment as `serve` does: the example's listen
    address and data dir are the ones that take effect."""
    _, env = sidecar(example)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FEEDGATE_")}
    r = subprocess.run([binary(), "check-config", "--config", str(CONFIG)], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL, cwd=REPO,
                       env=clean | env | {"RUST_LOG": "info", "NO_COLOR": "1"})
    data_dir = env["FEEDGATE_DATA_DIR"]
    if not os.path.isdir(data_dir) and not os.access(os.path.dirname(data_dir) or "/", os.W_OK):
        # check-config probes the data dir (or the parent it would be created in) as serve
        # does: without root, the example's /data cannot be made here, and it says so by name.
        assert r.returncode == 1 and f"error: data dir {data_dir}:" in r.stderr, r
        return
    assert r.returncode == 0, r
    assert re.search(rf"^listen\s+{re.escape(env['FEEDGATE_LISTEN'])}$", r.stdout, re.M), r.stdout
    assert re.search(rf"^data_dir\s+{re.escape(env['FEEDGATE_DATA_DIR'])}$", r.stdout, re.M), r.stdout
    assert "FEEDGATE_" not in ANSI_RE.sub("", r.stderr), f"a variable was rejected or ignored:\n{r.stderr}"


def test_an_unknown_variable_is_caught(tmp_path):
    """The check above would notice a variable feedgate does not know (a typo)."""
    args, env = sidecar("kubernetes")
    run = Run(tmp_path, args, env | {"FEEDGATE_MAX_BODY_BYTE": "2048"}, CONFIG.read_text())
    rc = run.stop()
    assert run.complaints_about("FEEDGATE_MAX_BODY_BYTE"), f"not reported (exit {rc}):\n{run.log}"


def test_kubernetes_probes_ports_and_mounts_agree():
    docs = k8s_docs()
    c = k8s_container("feedgate")
    env = k8s_env(c)
    port = listen_port(env)
    named = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert port in named.values(), f"listen port {port} not among the container's ports {named}"

    def resolve(p):
        return named[p] if isinstance(p, str) else p

    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe"):
        assert resolve(c[probe]["httpGet"]["port"]) == port, probe
    service = docs["Service"]["spec"]
    assert service["selector"].items() <= docs["Pod"]["metadata"]["labels"].items()
    assert [resolve(p["targetPort"]) for p in service["ports"]] == [port]
    # The kubelet probes the pod IP: feedgate must not listen on loopback only.
    assert not env["FEEDGATE_LISTEN"].startswith("127."), env["FEEDGATE_LISTEN"]

    volumes = {v["name"]: v for v in docs["Pod"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    data = volumes[mounts[env.get("FEEDGATE_DATA_DIR", IMAGE_DATA_DIR)]]
    assert data["persistentVolumeClaim"]["claimName"] == docs["PersistentVolumeClaim"]["metadata"]["name"]
    config_dir, config_file = env["FEEDGATE_CONFIG"].rsplit("/", 1)
    config = volumes[mounts[config_dir]]
    assert config["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    assert config_file in docs["ConfigMap"]["data"]


def test_compose_ports_and_mounts_agree():
    svc = compose_doc()["services"]["feedgate"]
    env = compose_env(svc)
    port = listen_port(env)
    assert [int(str(p).rsplit(":", 1)[1]) for p in svc["ports"]] == [port]
    mounts = {}
    for v in svc["volumes"]:
        source, target = v.split(":")[:2]
        mounts[target] = source
    assert mounts[env.get("FEEDGATE_DATA_DIR", IMAGE_DATA_DIR)] in compose_doc()["volumes"]
    assert (COMPOSE.parent / mounts[env["FEEDGATE_CONFIG"]]).resolve() == CONFIG.resolve()


def test_the_pod_runs_as_the_images_user():
    user = re.search(r"^USER\s+(\d+):(\d+)\s*$", (REPO / "Dockerfile").read_text(), re.M)
    assert user, "the Dockerfile sets a numeric USER uid:gid"
    ctx = k8s_docs()["Pod"]["spec"]["securityContext"]
    assert ctx["runAsNonRoot"] is True
    assert (ctx["runAsUser"], ctx["runAsGroup"], ctx["fsGroup"]) == (int(user[1]), int(user[2]), int(user[2]))
    assert k8s_container("feedgate")["securityContext"]["readOnlyRootFilesystem"] is True
    assert compose_doc()["services"]["feedgate"]["read_only"] is True


def test_the_app_reaches_its_sidecar_with_a_token_the_config_knows():
    digest = tomllib.loads(CONFIG.read_text())["credentials"]["app"]["token_sha256"]
    docs = k8s_docs()
    k8s_app = k8s_container("app")
    ref = next(e for e in k8s_app["env"] if e["name"] == "FEEDS_TOKEN")["valueFrom"]["secretKeyRef"]
    assert ref["name"] == docs["Secret"]["metadata"]["name"]
    compose_app = compose_env(compose_doc()["services"]["app"])
    for token in (docs["Secret"]["stringData"][ref["key"]], compose_app["FEEDS_TOKEN"]):
        assert hashlib.sha256(token.encode()).hexdigest() == digest
    ports = (listen_port(k8s_env(k8s_container("feedgate"))),
             listen_port(compose_env(compose_doc()["services"]["feedgate"])))
    for url, port in zip((k8s_env(k8s_app)["FEEDS_URL"], compose_app["FEEDS_URL"]), ports):
        parsed = urllib.parse.urlsplit(url)
        assert (parsed.hostname, parsed.port) == ("127.0.0.1", port), url
