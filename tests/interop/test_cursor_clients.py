"""Lossless cursors with the real tools users poll with, while writers append: `curl -R -z`
(keeps only the file's date, set from Last-Modified), `curl --etag-save --etag-compare` (keeps
the ETag) and `wget -N` (timestamping: If-Modified-Since from the file's date). Each keeps only
what the tool keeps between runs; each ends up having seen every seq (the date-keeping tools may
see one twice, never miss one)."""

from __future__ import annotations

import pathlib
import subprocess
import threading
import time

from fgclient import parse_feed, payload_for, wait_next_second


def run(cwd: pathlib.Path, cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


class Tool:
    """One polling tool in its own directory: what it fetched, and the seqs it saw."""

    def __init__(self, name: str, root: pathlib.Path, url: str):
        self.name, self.url = name, url
        self.dir = root / name
        self.dir.mkdir()
        self.seen: list[int] = []
        self.pages = 0
        self.not_modified = 0

    def command(self) -> tuple[list[str], pathlib.Path]:
        """The tool's command line and the file it writes a 200's body to."""
        body = self.dir / "news"
        if self.name == "curl-z":
            # -z FILE: If-Modified-Since from FILE's time (ignored while it does not exist);
            # -R: set FILE's time from Last-Modified.
            cmd = ["curl", "-sS", "-R", "-o", "news", "-w", "%{http_code}", self.url]
            if body.exists():
                cmd[2:2] = ["-z", "news"]
            return cmd, body
        if self.name == "curl-etag":
            flags = ["--etag-compare", "etag.txt"] if (self.dir / "etag.txt").exists() else []
            cmd = ["curl", "-sS", *flags, "--etag-save", "etag.txt", "-o", "news", "-w", "%{http_code}", self.url]
            return cmd, body
        # wget -N: If-Modified-Since from the file's time; the file's time from Last-Modified.
        return ["wget", "-q", "-N", "--server-response", self.url], body

    def poll(self) -> bool:
        """One run of the tool; True when it fetched a page."""
        cmd, body = self.command()
        before = body.stat().st_mtime_ns if body.exists() else None
        size = body.stat().st_size if body.exists() else None
        r = run(self.dir, cmd)
        assert r.returncode == 0, f"{self.name}: {cmd} exited {r.returncode}: {r.stderr}"
        if self.name == "wget":
            statuses = [int(line.split()[1]) for line in r.stderr.splitlines() if line.strip().startswith("HTTP/")]
            assert statuses, r.stderr
            code = statuses[-1]
        else:
            code = int(r.stdout)
        assert code in (200, 304), f"{self.name}: HTTP {code}"
        if code == 304:
            self.not_modified += 1
            assert body.exists() and body.stat().st_size == size, f"{self.name}: a 304 touched the copy"
            assert body.stat().st_mtime_ns == before, f"{self.name}: a 304 moved the copy's date"
            return False
        self.pages += 1
        doc = parse_feed(body.read_bytes())
        self.seen.extend(doc.ticks)
        return True


def test_curl_and_wget_lose_nothing_while_writers_append(feedgate, tmp_path):
    url = feedgate.url("/feeds/news")
    producer = feedgate.producer()
    stop = threading.Event()
    written: list[int] = []

    def writer(w: int) -> None:
        n = 0
        while not stop.is_set():
            # Each write a new item, so no collapse hides a seq; concurrent acks name any head.
            resp = producer.put(f"w{w}-{n}", payload_for(f"w{w}-{n}", f"item {w}-{n}"))
            assert resp.status == 201, resp
            n += 1
        written.append(n)

    tools = [Tool(name, tmp_path, url) for name in ("curl-z", "curl-etag", "wget")]
    # The first fetch, of the empty feed, must date the copy by the server (position 0 has a
    # Last-Modified), or the next If-Modified-Since would skip the writes of that second.
    for tool in tools:
        assert tool.poll()
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    started = time.monotonic()
    try:
        while time.monotonic() - started < 8:
            for tool in tools:
                tool.poll()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(written) == 2, "a writer failed"
    head = sum(written)
    wait_next_second()
    for tool in tools:
        for _ in range(head + 5):
            if not tool.poll():
                break
        missed = sorted(set(range(1, head + 1)) - set(tool.seen))
        assert not missed, f"{tool.name} missed {len(missed)} of {head}: {missed[:20]}"
        print(f"{tool.name}: {tool.pages} pages, {tool.not_modified} 304s, {len(tool.seen)} entries for {head} seqs")
    # The ETag keeper never sees a seq twice.
    assert sorted(tools[1].seen) == list(range(1, head + 1))
