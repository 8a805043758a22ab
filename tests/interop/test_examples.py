"""What a new user copies: the consumer loops under examples/ and the README's tour with curl.

- The loops (examples/consumer.py, examples/consumer.sh, and examples/consumer.rs when cargo has
  built it) follow a feed, paged by `?limit=` so that they follow `next` links, while a producer
  adds, updates and deletes items; each is SIGKILLed and later SIGTERMed mid-way and started
  again on its state file, then run with `--once` once the producer is done. Every item the
  feed ends with is processed, in its final state (no transaction lost; replays allowed: at
  least once), every deleted item's last line is its deletion (or it never showed: created and
  deleted inside one page), and the stored ETag is the feed's head.
- The README's ```sh block after "## A tour with curl" runs as pasted (`bash -e`, only its
  `FG=` line changed) against the demo configuration (fixtures/demo.toml) on a free port, and
  its outputs are what the README says: a 200 and then a 304 with the ETag it read, the PUT's
  answer, a delta holding only the new item, the query form, the deletion, the replica and its
  409.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO, FeedgateServer
from fgclient import request, wait_next_second

LOOPS = {
    "python": lambda url, state: [sys.executable, str(REPO / "examples" / "consumer.py"), url,
                                  "--state", str(state), "--interval", "0.2"],
    "shell": lambda url, state: ["bash", str(REPO / "examples" / "consumer.sh"), url, str(state),
                                 "--interval", "0.2"],
}


def _rust_example() -> pathlib.Path | None:
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    for profile in ("debug", "release"):
        path = target / profile / "examples" / "consumer"
        if os.access(path, os.X_OK):
            return path
    return None


RUST = _rust_example()
if RUST is not None:
    LOOPS["rust"] = lambda url, state: [str(RUST), url, "--state", str(state), "--interval", "0.2"]


class Loop:
    """One consumer loop process at a time, its stdout appended to one file across restarts."""

    def __init__(self, kind: str, url: str, workdir: pathlib.Path):
        self.argv = LOOPS[kind]
        self.url = url
        self.state = workdir / "feed.etag"
        self.out = workdir / "processed.txt"
        self.err = workdir / "stderr.txt"
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def start(self, *extra: str) -> subprocess.Popen:
        with open(self.out, "ab") as out, open(self.err, "ab") as err:
            # A session of its own: a kill reaches the shell loop's curl and sed too.
            self.proc = subprocess.Popen([*self.argv(self.url, self.state), *extra], cwd=self.workdir,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         start_new_session=True)
        return self.proc

    def signal(self, sig: int) -> int:
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)
        return self.proc.wait(timeout=15)

    def lines(self) -> list[str]:
        return self.out.read_text(encoding="utf-8").splitlines()

    def wait_for_lines(self, n: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.lines()) < n:
            assert self.proc.poll() is None, f"the loop exited with {self.proc.returncode}: {self.err.read_text()}"
            assert time.monotonic() < deadline, f"fewer than {n} lines within {timeout}s: {self.lines()}"
            time.sleep(0.05)


def produce(base: str, feed: str, rounds: int, model: dict, done: threading.Event) -> None:
    """Adds, updates and deletes, each acknowledged; `model`: id -> final title, None if deleted."""
    try:
        for i in range(rounds):
            item = f"item-{i}"
            r = request("PUT", f"{base}/feeds/{feed}/items/{item}", body={"title": f"first {i}"})
            assert r.status == 201, r
            model[item] = f"first {i}"
            if i % 3 == 1:  # update an earlier item
                old = f"item-{i - 1}"
                r = request("PUT", f"{base}/feeds/{feed}/items/{old}", body={"title": f"second {i - 1}"})
                assert r.status == 200, r
                model[old] = f"second {i - 1}"
            if i % 5 == 4:  # delete an earlier one
                gone = f"item-{i - 2}"
                r = request("DELETE", f"{base}/feeds/{feed}/items/{gone}")
                assert r.status == 200, r
                model[gone] = None
            time.sleep(0.01)
    finally:
        done.set()


@pytest.mark.parametrize("kind", sorted(LOOPS))
def test_consumer_loop_survives_kills_and_misses_nothing(feedgate, tmp_path, kind):
    workdir = tmp_path / f"loop-{kind}"
    workdir.mkdir()
    # Pages of 7: the loop follows `next` links while it catches up.
    loop = Loop(kind, feedgate.url("/feeds/news?limit=7"), workdir)
    model: dict[str, str | None] = {}
    done = threading.Event()
    errors: list[BaseException] = []

    def producer():
        try:
            produce(feedgate.base, "news", 240, model, done)
        except BaseException as e:  # noqa: BLE001 (reported by the test)
            errors.append(e)

    writer = threading.Thread(target=producer, daemon=True)
    loop.start()
    writer.start()
    loop.wait_for_lines(20)
    assert loop.signal(signal.SIGKILL) == -signal.SIGKILL
    killed_at = len(loop.lines())
    loop.start()
    loop.wait_for_lines(killed_at + 40)
    rc = loop.signal(signal.SIGTERM)
    assert rc == 0, f"SIGTERM: exit {rc}, expected a clean exit: {loop.err.read_text()}"
    loop.start()
    assert done.wait(60), "the producer did not finish"
    writer.join(10)
    assert not errors, errors
    rc = loop.signal(signal.SIGTERM)
    assert rc == 0, f"SIGTERM: exit {rc}: {loop.err.read_text()}"
    # Caught up once more, then out: --once.
    final = loop.start("--once")
    assert final.wait(60) == 0, loop.err.read_text()

    last: dict[str, tuple[str, str]] = {}
    for line in loop.lines():
        action, _, rest = line.partition(" ")
        item, _, title = rest.partition(" ")
        assert action in ("add", "update", "delete"), line
        last[item] = (action, title)
    for item, title in model.items():
        if title is None:
            assert item not in last or last[item][0] == "delete", (item, last.get(item))
        else:
            assert item in last, f"{item} was never processed"
            assert last[item][0] in ("add", "update"), (item, last[item])
            if kind != "shell":  # the shell loop prints ACTION ID only
                assert last[item][1] == title, (item, last[item], title)
    # The stored ETag is the head (a probe of the head: If-None-Match: *).
    head = request("HEAD", feedgate.url("/feeds/news"), headers={"If-None-Match": "*"})
    assert head.status == 304, head
    stored = loop.state.read_text().strip()
    assert stored.removeprefix("W/") == head.header("ETag").removeprefix("W/"), (stored, head.header("ETag"))
    assert int(stored.strip('"W/').rsplit(".", 1)[1]) > 240


# --------------------------------------------------------------------------- the README's tour


def readme_tour() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    _, _, rest = text.partition("\n## A tour with curl\n")
    assert rest, "README.md has no '## A tour with curl' section"
    m = re.search(r"^```sh\n(.*?)^```$", rest, re.S | re.M)
    assert m, "no ```sh block in the README's tour"
    return m.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    """The README's tour, run once against a fresh demo gateway: (stdout, base URL)."""
    workdir = tmp_path_factory.mktemp("tour")
    port = free_port()
    # The demo as it is: its replica names `/feeds/news`, a feed of the same gateway, so it
    # follows `--listen` to this port.
    server = FeedgateServer(workdir / "server", args=[
        "--config", str(REPO / "fixtures" / "demo.toml"), "--listen", f"127.0.0.1:{port}",
        "--data-dir", str(workdir / "data")]).start()
    try:
        # A catch-up shows whole seconds only: the seed's second must be over, as it is for a
        # person who started the demo and then opened the README.
        wait_next_second()
        script = readme_tour()
        fg = re.findall(r"^FG=.*$", script, re.M)
        assert fg == ["FG=http://127.0.0.1:8080"], fg
        script = script.replace(fg[0], f"FG={server.base}")
        started = time.monotonic()
        r = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, timeout=60,
                           cwd=workdir, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"the tour failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
        assert time.monotonic() - started < 30
        yield r.stdout, server.base
    finally:
        server.shutdown()


def after(out: str, pos: int, pattern: str, flags: int = 0) -> re.Match:
    m = re.compile(pattern, re.M | flags).search(out, pos)
    assert m, f"{pattern!r} not in the tour's output after offset {pos}:\n{out[pos:pos + 3000]}"
    return m


def test_readme_tour_runs_as_pasted(tour):
    out, base = tour
    # First poll: a 200 with the catch-up, the position after the demo's three items.
    m = after(out, 0, r'^HTTP/1\.1 200 OK\r?$')
    e = after(out, m.end(), r'^etag: "([0-9a-z]+)\.3"\r?$')
    epoch = e.group(1)
    body = after(out, e.end(), r"<sync:syncMode>catchUp</sync:syncMode>")
    for item in ("welcome", "release-0.1", "podcast-1"):
        assert f'<guid isPermaLink="false">{item}</guid>' in out[body.end():out.index("holding")]
    # The ETag read from the headers, and a 304 that carries it.
    h = after(out, body.end(), rf'^holding "{epoch}\.3"$')
    m = after(out, h.end(), r"^HTTP/1\.1 304 Not Modified\r?$")
    after(out, m.end(), rf'^etag: "{epoch}\.3"\r?$')
    # The PUT's answer.
    put = after(out, m.end(), r"^\{.*\}$")
    assert json.loads(put.group(0)) == {"action": "add", "etag": f"{epoch}.4", "seq": 4}
    # The delta: only the new item, as Atom.
    m = after(out, put.end(), r"^HTTP/1\.1 200 OK\r?$")
    after(out, m.end(), rf'^etag: "{epoch}\.4"\r?$')
    atom = after(out, m.end(), r"<feed .*?</feed>", re.S)
    assert "<title>Release 0.2</title>" in atom.group(0)
    assert "<sync:syncMode>immediate</sync:syncMode>" in atom.group(0)
    assert atom.group(0).count("<entry ") == 1, atom.group(0)
    # The query form: the same delta, as RSS.
    rss = after(out, atom.end(), r"<rss .*?</rss>", re.S)
    assert '<guid isPermaLink="false">release-0.2</guid>' in rss.group(0)
    assert rss.group(0).count("<item>") == 1, rss.group(0)
    # The deletion and its delta.
    d = after(out, rss.end(), r"^\{.*\}$")
    assert json.loads(d.group(0)) == {"action": "delete", "etag": f"{epoch}.5", "seq": 5}
    atom = after(out, d.end(), r"<feed .*?</feed>", re.S)
    assert '<at:deleted-entry ref="urn:feedgate:podcast-1"' in atom.group(0)
    assert "<entry " not in atom.group(0), atom.group(0)
    # The replica answers with its own feed; /feeds shows its sync state.
    replica = after(out, atom.end(), r"<feed .*?</feed>", re.S)
    assert "<title>News (replica)</title>" in replica.group(0)
    feeds = json.loads(after(out, replica.end(), r'^\{"feeds".*$').group(0))
    state = {f["name"]: f for f in feeds["feeds"]}["news-replica"]
    assert state["upstream"]["state"] == "ok", state
    # And it is read-only.
    m = after(out, replica.end(), r"^HTTP/1\.1 409 Conflict\r?$")
    problem = json.loads(after(out, m.end(), r'^\{"code".*\}$').group(0))
    assert problem["code"] == "read_only_feed", problem


def test_readme_tour_replica_shows_the_demo_items_at_first_read(tour):
    out, _ = tour
    replica = re.findall(r"<feed .*?</feed>", out, re.S)[-1]
    assert "<title>News (replica)</title>" in replica
    for title in ("Welcome to feedgate", "Release 0.1", "Release 0.2"):
        assert f"<title>{title}</title>" in replica, replica


# --------------------------------------------------------------------------- links


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)  # keeps letters, digits, _, -, spaces (Unicode letters too)
    return s.replace(" ", "-")


def _anchors(path: pathlib.Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        m = re.match(r"^#{1,6} (.*)$", line)
        if m:
            slug = _slug(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_readme_and_docs_links_resolve():
    """Every relative link of README.md and docs/*.md names a file that exists, and every
    #anchor a heading of that file (as GitHub renders it)."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    broken = []
    checked = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        text = re.sub(r"^```.*?^```$", "", text, flags=re.S | re.M)  # links in code are no links
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            checked += 1
            if not dest.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert checked > 50
    assert not broken, "\n".join(broken)
