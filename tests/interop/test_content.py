"""Content mirroring with real clients (issue 18): the release binary mirrors a podcast feed's
enclosures from a local origin (fileorigin.py) and serves them at /content/{sha256}.

- a podcast-style consumer (feedparser reading the enclosures, then fetching each) gets every
  file from feedgate, byte for byte the origin's, and the origin's URL as the `via` link;
- `curl -C -` and `wget -c` resume a cut-off download from /content/…;
- a SIGKILL in the middle of a download leaves nothing half-written visible (no object, the
  item still at the origin's URL), and the restart resumes the download with a Range request.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import socket
import subprocess
import time
import urllib.request

import feedparser
import pytest

from fileorigin import FileOrigin
from fgclient import request

FEED = {"title": "Podcast", "link": "https://example.org/podcast", "description": "Episodes"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def origin(tmp_path):
    root = tmp_path / "origin"
    root.mkdir()
    o = FileOrigin(root)
    yield o
    o.close()


def episode_files(origin: FileOrigin, n: int, size: int) -> dict[str, bytes]:
    files = {f"ep{i}.mp3": os.urandom(size) for i in range(n)}
    for name, data in files.items():
        (origin.root / name).write_bytes(data)
    return files


def gateway(feedgate_factory, origin: FileOrigin, workdir: pathlib.Path | None = None, port: int | None = None):
    port = port or free_port()
    extra = {"listen": f"127.0.0.1:{port}", "base_url": f"http://127.0.0.1:{port}"}
    feeds = {"podcast": {**FEED, "content": {"mirror": True, "allow": [origin.base],
                                            "retry_min": "50ms", "retry_max": "200ms"}}}
    return feedgate_factory(feeds=feeds, extra=extra, workdir=workdir), port


def publish(server, origin: FileOrigin, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        item = {"title": f"Episode {name}", "enclosures": [{"url": origin.url(name), "length": len(data),
                                                             "type": "audio/mpeg"}]}
        r = request("PUT", server.url(f"/feeds/podcast/items/{name}"), body=item)
        assert r.status == 201, r


def wait_mirrored(server, ids, timeout: float = 30.0) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        items = {i: request("GET", server.url(f"/feeds/podcast/items/{i}")).json() for i in ids}
        if all(it["enclosures"][0]["url"].startswith(server.base + "/content/") for it in items.values()):
            return items
        assert time.monotonic() < deadline, f"not mirrored within {timeout}s: {items}\n{server.log_text()}"
        time.sleep(0.1)


def test_a_podcast_consumer_gets_every_file_from_feedgate(feedgate_factory, origin):
    files = episode_files(origin, 3, 300_000)
    server, _ = gateway(feedgate_factory, origin)
    publish(server, origin, files)
    wait_mirrored(server, files)
    time.sleep(1.1)  # the update transactions' second closes (whole seconds)
    feed = feedparser.parse(server.url("/feeds/podcast"))
    assert not feed.bozo, feed.bozo_exception
    assert len(feed.entries) == 3
    for entry in feed.entries:
        (enclosure,) = entry.enclosures
        assert enclosure.href.startswith(server.base + "/content/"), enclosure
        with urllib.request.urlopen(enclosure.href, timeout=10) as r:
            body = r.read()
            assert r.headers["ETag"] == '"' + hashlib.sha256(body).hexdigest() + '"'
            assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        name = entry.id.rsplit("/", 1)[-1]
        assert body == files[name], name
    atom = feedparser.parse(server.url("/feeds/podcast.atom"))
    vias = {l.href for e in atom.entries for l in e.links if l.rel == "via"}
    assert vias == {origin.url(n) for n in files}
    assert {p for p, _ in origin.ranges} == {f"/{n}" for n in files}, "each file fetched from the origin"
    assert len(origin.ranges) == 3, "and once"


@pytest.mark.parametrize("client", ["curl", "wget"])
def test_curl_and_wget_resume_a_download_from_feedgate(feedgate_factory, origin, tmp_path, client):
    assert shutil.which(client), f"{client} is needed (.ci/run installs it)"
    files = episode_files(origin, 1, 1_000_000)
    server, _ = gateway(feedgate_factory, origin)
    publish(server, origin, files)
    (item,) = wait_mirrored(server, files).values()
    url = item["enclosures"][0]["url"]
    data = files["ep0.mp3"]
    out = tmp_path / f"{client}.mp3"
    out.write_bytes(data[:377_777])  # what an interrupted download left
    if client == "curl":
        cmd = ["curl", "-sS", "-f", "-C", "-", "-o", str(out), url]
    else:
        cmd = ["wget", "-q", "-c", "-O", str(out), url]
    subprocess.run(cmd, check=True, timeout=30)
    assert out.read_bytes() == data
    # It was a resume: a 206 from the offset (feedgate logs no ranges; ask the same way).
    r = request("GET", url, {"Range": "bytes=377777-"})
    assert r.status == 206 and r.header("Content-Range") == f"bytes 377777-999999/{len(data)}"


def test_a_kill_mid_download_leaves_nothing_half_written_and_the_restart_resumes(feedgate_factory, origin):
    files = episode_files(origin, 1, 3_000_000)
    origin.rate = 1_000_000  # ~3 s for the file
    server, port = gateway(feedgate_factory, origin)
    publish(server, origin, files)
    content = server.data_dir / "content"
    partial = content / "partial"
    deadline = time.monotonic() + 10
    while not any(p.stat().st_size > 200_000 for p in partial.glob("*") if p.suffix != ".source"):
        assert time.monotonic() < deadline, "the download did not start"
        time.sleep(0.05)
    server.proc.kill()
    server.proc.wait()
    objects = [p for p in (content / "objects").rglob("*") if p.is_file()]
    assert objects == [], f"nothing counts before it is whole: {objects}"
    origin.rate = None
    server2, _ = gateway(feedgate_factory, origin, workdir=server.workdir, port=port)
    (item,) = wait_mirrored(server2, files).values()
    r = request("GET", item["enclosures"][0]["url"])
    assert r.status == 200 and r.body == files["ep0.mp3"]
    resumed = [rng for _, rng in origin.ranges[1:]]
    assert resumed and resumed[0] and resumed[0].startswith("bytes="), origin.ranges
    assert int(resumed[0][6:].rstrip("-")) > 200_000, origin.ranges
    report = json.loads(request("GET", server2.url("/feeds")).body)
    (podcast,) = [f for f in report["feeds"] if f["name"] == "podcast"]
    assert podcast["content"]["failed"] == {}
