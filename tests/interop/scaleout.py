"""The clients of the scale-out test (test_scale_out.py), written only against PROTOCOL.md:
a `Cluster` of feedgate processes on one database (SIGKILL and restart one), `Producer` threads
writing to a process picked at random for each request (single PUTs and batch POSTs, unique
titles, every request and its acknowledgement recorded), and `Consumer` threads (ETag, date or
next-link walker) switching process at random between polls and recording every page they
receive, with the range of the log it covers, for the test to check against the log.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
import urllib.parse

from conftest import FEEDS, FeedgateServer
from fgclient import assert_etag_header, parse_feed
from test_crash import Conn

IDS_PER_PRODUCER = 8
LIMIT = 7
FEED = "news"

# --------------------------------------------------------------------------- the cluster


class Cluster:
    """The processes, by index. Clients pick one at random for each request, dead or alive, as
    behind a load balancer that has not noticed yet: a dead one refuses the connection (or drops
    it mid-request), and the client moves on to another pick."""

    def __init__(self, root, store: str, n: int):
        self.root, self.store = root, store
        self.lock = threading.Lock()
        self.servers = [self._start(i) for i in range(n)]

    def _start(self, i: int) -> FeedgateServer:
        return FeedgateServer(self.root / f"p{i}", FEEDS, {"store": self.store}).start()

    def pick(self, rng: random.Random) -> tuple[int, str]:
        with self.lock:
            i = rng.randrange(len(self.servers))
            return i, self.servers[i].base

    def kill_and_restart(self, i: int, pause: float) -> None:
        with self.lock:
            server = self.servers[i]
        server.proc.kill()
        server.proc.wait()
        server._join_pumps()
        time.sleep(pause)
        restarted = self._start(i)
        with self.lock:
            self.servers[i] = restarted

    def bases(self) -> list[str]:
        with self.lock:
            return [s.base for s in self.servers]

    def shutdown(self) -> None:
        for s in self.servers:
            if s.proc.poll() is None:
                s.shutdown()


# --------------------------------------------------------------------------- producers


@dataclasses.dataclass
class Write:
    kind: str  # put | batch
    ops: list[tuple[str, str]]  # (id, title)
    process: int
    ack: dict | None = None  # None: the outcome is unknown (the process died)


class Producer(threading.Thread):
    def __init__(self, n: int, cluster: Cluster, rng: random.Random, stop: threading.Event):
        super().__init__(daemon=True)
        self.n, self.cluster, self.rng, self.stop = n, cluster, rng, stop
        self.ids = [f"p{n}-{k}" for k in range(IDS_PER_PRODUCER)]
        self.writes: list[Write] = []
        self.errors: list[str] = []
        self.count = self.failovers = 0

    def title(self) -> str:
        self.count += 1
        return f"p{self.n}-w{self.count}"

    def write_once(self) -> None:
        i, base = self.cluster.pick(self.rng)
        if self.rng.random() < 0.4:
            ops = [(self.rng.choice(self.ids), self.title()) for _ in range(self.rng.randint(2, 6))]
            w = Write("batch", ops, i)
            body = [{"id": item, "title": t} for item, t in ops]
            method, path = "POST", f"/feeds/{FEED}/items"
        else:
            ops = [(self.rng.choice(self.ids), self.title())]
            w = Write("put", ops, i)
            body = {"title": ops[0][1]}
            method, path = "PUT", f"/feeds/{FEED}/items/{urllib.parse.quote(ops[0][0], safe='')}"
        self.writes.append(w)
        conn = Conn(base)
        try:
            status, _, data = conn.request(method, path, json.dumps(body).encode())
        except ConnectionError:
            self.failovers += 1
            return  # a dead process: the outcome is unknown (refused: nothing was written)
        finally:
            conn.close()
        if status not in (200, 201):
            self.errors.append(f"{w}: {status} {data[:300]!r}")
            return
        w.ack = json.loads(data)

    def run(self) -> None:
        try:
            while not self.stop.is_set() and not self.errors:
                self.write_once()
                time.sleep(self.rng.uniform(0, 0.01))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))


# --------------------------------------------------------------------------- consumers


@dataclasses.dataclass
class Page:
    held: int
    new: int
    entries: list[tuple[str, str, int, str]]  # (id, action, tick, title)
    process: int
    url: str


class Consumer(threading.Thread):
    """`kind`: etag (If-None-Match), date (If-Modified-Since) or walker (?etag= and next links).
    Each poll goes to a process picked at random; a dead one is a failover to another."""

    def __init__(self, kind: str, cluster: Cluster, rng: random.Random, epoch: str):
        super().__init__(daemon=True)
        self.kind, self.cluster, self.rng, self.epoch = kind, cluster, rng, epoch
        self.seq = 0
        self.last_modified: str | None = None
        self.next_query: str | None = None
        self.pages: list[Page] = []
        self.polls = self.switches = self.failovers = self.not_modified = 0
        self.last_process: int | None = None
        self.errors: list[str] = []
        self.stop = threading.Event()

    def request(self) -> tuple[str, dict]:
        path, headers = f"/feeds/{FEED}?limit={LIMIT}", {}
        if self.kind == "etag":
            headers["If-None-Match"] = f'"{self.epoch}.{self.seq}"'
        elif self.kind == "date":
            if self.last_modified:
                headers["If-Modified-Since"] = self.last_modified
        else:
            query = self.next_query or f"etag={self.epoch}.{self.seq}&limit={LIMIT}"
            path = f"/feeds/{FEED}?{query}"
        return path, headers

    def poll(self) -> int:
        i, base = self.cluster.pick(self.rng)
        path, headers = self.request()
        conn = Conn(base)
        try:
            status, h, body = conn.request("GET", path, headers=headers)
        except ConnectionError:
            self.failovers += 1
            return 0
        finally:
            conn.close()
        self.polls += 1
        if self.last_process is not None and i != self.last_process:
            self.switches += 1
        self.last_process = i
        where = f"{self.kind} consumer, process {i}, GET {path} {headers}"
        assert status in (200, 304), f"{where}: {status} {body[:300]!r}"
        epoch, seq = assert_etag_header(h.get("etag"))
        assert epoch == self.epoch, f"{where}: epoch {epoch}, not {self.epoch}"
        if status == 304:
            self.not_modified += 1
            if self.kind != "date":
                assert seq == self.seq, f"{where}: 304 with ETag {seq}, position {self.seq}"
            return 304
        doc = parse_feed(body)
        assert doc.etag == f"{epoch}.{seq}", f"{where}: body etag {doc.etag}, header {seq}"
        assert seq >= self.seq, f"{where}: went back from {self.seq} to {seq}"
        self.pages.append(Page(self.seq, seq, [(e.id, e.action, e.tick, e.title) for e in doc.entries],
                               i, f"{base}{path}"))
        self.seq = seq
        self.last_modified = h.get("last-modified")
        assert self.last_modified, f"{where}: no Last-Modified"
        self.next_query = None
        if self.kind == "walker" and doc.next_href:
            nxt = urllib.parse.urlsplit(doc.next_href)
            assert nxt.path == f"/feeds/{FEED}", doc.next_href
            assert urllib.parse.parse_qs(nxt.query).get("etag") == [doc.etag], doc.next_href
            self.next_query = nxt.query
        return 200

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self.poll() != 200:
                    time.sleep(self.rng.uniform(0.005, 0.03))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))

    def catch_up(self, head: int) -> None:
        """Poll until at the head (a date consumer waits for the head's second to close)."""
        deadline = time.monotonic() + 30
        while self.seq < head:
            assert time.monotonic() < deadline, f"{self.kind} consumer stalled at {self.seq}, head {head}"
            if self.poll() != 200:
                time.sleep(0.05)
        assert self.seq == head, (self.kind, self.seq, head)
        assert self.poll() == 304, f"{self.kind} consumer at the head did not get a 304"
