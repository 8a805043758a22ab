"""Crash safety (PROTOCOL §1: "an acknowledged transaction is never lost, a rejected one leaves
no trace"): the release binary is SIGKILLed at random moments while concurrent producers write
single PUTs, DELETEs and batches and a consumer polls, then restarted on the same data dir.

After every restart the harness reads the whole new part of the log exactly (ETag-selected pages
of one transaction each) and checks:
- every acknowledged transaction is there with the seq, id, action and payload its ack reported;
- seqs run 1, 2, 3… without a gap, and the head covers every acknowledged seq and every ETag
  handed out before the crash;
- the feed's epoch never changes;
- ETags issued before a crash still resume: a consumer holding one gets exactly the transactions
  after it (each page equals the one-entry-per-item collapse of the log range it covers), and
  ends at the head with a 304;
- a batch that was in flight when the process died is all there (contiguous, in order) or not
  there at all; an unacknowledged single write is either absent or exactly what was sent;
- each item's state (`GET …/items/{id}`) is the log's last word on it.
Every transaction carries a unique title, so the writes can be told apart in the log.

`FEEDGATE_CRASH_CYCLES` sets the number of kills (default 24); `FEEDGATE_CRASH_SEED` the seed.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import random
import threading
import time
import urllib.parse

from conftest import FEEDS, FeedgateServer
from fgclient import assert_etag_header, parse_feed

CYCLES = int(os.environ.get("FEEDGATE_CRASH_CYCLES", "24"))
SEED = int(os.environ.get("FEEDGATE_CRASH_SEED", str(random.randrange(1 << 30))))
PRODUCERS = 4
IDS_PER_PRODUCER = 6
FEED = "news"


# --------------------------------------------------------------------------- records


@dataclasses.dataclass(frozen=True)
class Txn:
    id: str
    action: str  # add | update | delete
    title: str | None  # None for a delete


@dataclasses.dataclass
class Write:
    """One request a producer sent: `ops` are (id, title or None for a delete)."""

    kind: str  # put | delete | batch
    ops: list[tuple[str, str | None]]
    ack: dict | None = None  # the 2xx JSON body, None when the outcome is unknown


class Conn:
    """A keep-alive HTTP/1.1 connection that reports a dead server as ConnectionError."""

    def __init__(self, base: str):
        u = urllib.parse.urlsplit(base)
        self.c = http.client.HTTPConnection(u.hostname, u.port, timeout=15)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        h = dict(headers or {})
        if body is not None:
            h["Content-Type"] = "application/json"
        try:
            self.c.request(method, path, body=body, headers=h)
            r = self.c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        except (OSError, http.client.HTTPException) as e:
            self.c.close()
            raise ConnectionError(str(e)) from e

    def close(self) -> None:
        self.c.close()


def item_path(item_id: str) -> str:
    return f"/feeds/{FEED}/items/{urllib.parse.quote(item_id, safe='')}"


# --------------------------------------------------------------------------- load


class Producer(threading.Thread):
    """Writes its own items until the server dies; records every request and its outcome."""

    def __init__(self, base: str, n: int, cycle: int, live: set[str], rng: random.Random):
        super().__init__(daemon=True)
        self.base, self.n, self.cycle, self.rng = base, n, cycle, rng
        self.live = set(live)  # this producer's items that exist now
        self.ids = [f"p{n}-{k}" for k in range(IDS_PER_PRODUCER)]
        self.writes: list[Write] = []
        self.errors: list[str] = []
        self.count = 0

    def title(self) -> str:
        self.count += 1
        return f"c{self.cycle}-p{self.n}-w{self.count}"

    def next_write(self) -> Write:
        roll = self.rng.random()
        if roll < 0.15 and self.live:
            return Write("delete", [(self.rng.choice(sorted(self.live)), None)])
        if roll < 0.45:
            # A batch: first and last ops are puts (so its titles locate it), deletes between.
            ops = [(self.rng.choice(self.ids), self.title())]
            live = set(self.live) | {ops[0][0]}
            for _ in range(self.rng.randint(0, 4)):
                if self.rng.random() < 0.3 and len(live) > 1:
                    victim = self.rng.choice(sorted(live - {ops[0][0]}))
                    ops.append((victim, None))
                    live.discard(victim)
                else:
                    item = self.rng.choice(self.ids)
                    ops.append((item, self.title()))
                    live.add(item)
            ops.append((self.rng.choice(self.ids), self.title()))
            return Write("batch", ops)
        return Write("put", [(self.rng.choice(self.ids), self.title())])

    def run(self) -> None:
        conn = Conn(self.base)
        try:
            while True:
                w = self.next_write()
                self.writes.append(w)
                if w.kind == "put":
                    (item, title), = w.ops
                    body = json.dumps({"title": title}).encode()
                    status, _, data = conn.request("PUT", item_path(item), body)
                elif w.kind == "delete":
                    status, _, data = conn.request("DELETE", item_path(w.ops[0][0]))
                else:
                    ops = [{"id": i, "deleted": True} if t is None else {"id": i, "title": t}
                           for i, t in w.ops]
                    status, _, data = conn.request("POST", f"/feeds/{FEED}/items", json.dumps(ops).encode())
                if status not in (200, 201):
                    self.errors.append(f"{w}: {status} {data[:300]!r}")
                    return
                w.ack = json.loads(data)
                for item, title in w.ops:
                    (self.live.add if title is not None else self.live.discard)(item)
        except ConnectionError:
            pass  # the server died: this write's outcome is unknown
        except Exception as e:  # noqa: BLE001 - reported by the test, not lost in a thread
            self.errors.append(repr(e))
        finally:
            conn.close()


class Poller(threading.Thread):
    """A consumer polling with If-None-Match; records the positions it was handed."""

    def __init__(self, base: str, etag: str):
        super().__init__(daemon=True)
        self.base, self.etag = base, etag
        self.seen: list[int] = []
        self.errors: list[str] = []

    def run(self) -> None:
        conn = Conn(self.base)
        try:
            while True:
                status, h, body = conn.request("GET", f"/feeds/{FEED}?limit=20",
                                               headers={"If-None-Match": self.etag})
                if status not in (200, 304):
                    self.errors.append(f"poll: {status} {body[:300]!r}")
                    return
                self.etag = h["etag"]
                self.seen.append(assert_etag_header(self.etag)[1])
                time.sleep(0.005)
        except ConnectionError:
            pass
        except Exception as e:  # noqa: BLE001
            self.errors.append(repr(e))
        finally:
            conn.close()


# --------------------------------------------------------------------------- checks


def collapse(txns: list[tuple[int, Txn]]) -> list[tuple[str, str, int, str | None]]:
    """PROTOCOL §3: one entry per item (its last state in the range), ordered by seq."""
    first: dict[str, Txn] = {}
    last: dict[str, tuple[int, Txn]] = {}
    for seq, t in txns:
        first.setdefault(t.id, t)
        last[t.id] = (seq, t)
    out = []
    for item, (seq, t) in sorted(last.items(), key=lambda kv: kv[1][0]):
        held = first[item].action != "add"
        if t.action == "delete":
            if held:
                out.append((item, "delete", seq, None))
        else:
            out.append((item, "update" if held else "add", seq, t.title))
    return out


class Checker:
    """The log as read back from the server, and the checks against what producers saw."""

    def __init__(self):
        self.epoch: str | None = None
        self.log: dict[int, Txn] = {}
        self.by_title: dict[str, int] = {}
        self.acked_txns = 0
        self.resumes = 0
        self.in_flight = {"batch present": 0, "batch absent": 0, "single present": 0, "single absent": 0}

    @property
    def head(self) -> int:
        return len(self.log)

    def read_new(self, conn: Conn) -> int:
        """Walk from our head to the server's with one-transaction pages; return the server head."""
        status, _, body = conn.request("GET", "/feeds")
        assert status == 200
        feed = next(f for f in json.loads(body)["feeds"] if f["name"] == FEED)
        if self.epoch is None:
            self.epoch = feed["epoch"]
        assert feed["epoch"] == self.epoch, f"epoch changed: {self.epoch} -> {feed['epoch']}"
        server_head = feed["head"]
        assert server_head >= self.head, f"the log shrank from {self.head} to {server_head}"
        while self.head < server_head:
            status, h, body = conn.request("GET", f"/feeds/{FEED}?limit=1&etag={self.epoch}.{self.head}")
            assert status == 200, (status, body[:300])
            doc = parse_feed(body)
            assert len(doc.entries) == 1, doc
            e = doc.entries[0]
            seq = self.head + 1
            assert e.tick == seq, f"gap: after {self.head} came tick {e.tick}"
            assert assert_etag_header(h["etag"]) == (self.epoch, seq)
            t = Txn(e.id, e.action, None if e.action == "delete" else e.title)
            self.log[seq] = t
            if t.title is not None:
                assert t.title not in self.by_title, f"title {t.title} written twice"
                self.by_title[t.title] = seq
        return server_head

    def expect(self, seq: int, item: str, title: str | None, action: str | None = None) -> None:
        t = self.log.get(seq)
        assert t is not None, f"seq {seq} ({item}, {title}) is missing; head {self.head}"
        assert (t.id, t.title) == (item, title), f"seq {seq}: {t} != ({item}, {title})"
        assert t.action in (("delete",) if title is None else ("add", "update")), (seq, t)
        if action is not None:
            assert t.action == action, f"seq {seq}: acked as {action}, log says {t.action}"

    def check_writes(self, writes: list[Write]) -> None:
        for w in writes:
            if w.ack is not None:
                acks = w.ack["items"] if w.kind == "batch" else [w.ack]
                assert len(acks) == len(w.ops), w
                assert w.ack["etag"].rsplit(".", 1)[0] == self.epoch, w.ack
                seqs = [a["seq"] for a in acks]
                assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"batch not contiguous: {w}"
                for (item, title), a in zip(w.ops, acks):
                    assert a.get("id", item) == item, (w, a)
                    self.expect(a["seq"], item, title, a["action"])
                    self.acked_txns += 1
            else:
                self.check_in_flight(w)

    def check_in_flight(self, w: Write) -> None:
        """A write whose outcome is unknown: all of it or nothing."""
        titles = [t for _, t in w.ops if t is not None]
        if w.kind == "delete":
            return  # a delete carries no mark; its presence is covered by the gap-free walk
        start = self.by_title.get(titles[0])
        kind = "batch" if w.kind == "batch" else "single"
        if start is None:
            present = [t for t in titles if t in self.by_title]
            assert not present, f"partly visible in-flight {w.kind}: {present} of {w.ops}"
            self.in_flight[f"{kind} absent"] += 1
            return
        for i, (item, title) in enumerate(w.ops):
            self.expect(start + i, item, title)
        self.in_flight[f"{kind} present"] += 1

    def check_resume(self, conn: Conn, seq: int, rng: random.Random) -> None:
        """A consumer holding position `seq` gets exactly the transactions after it."""
        assert seq <= self.head, f"ETag {seq} handed out before the crash is beyond head {self.head}"
        # Small pages, but at most ~100 of them per walk.
        pos, limit = seq, max(rng.choice([1, 3, 17, 100]), -(-(self.head - seq) // 100))
        while True:
            status, h, body = conn.request("GET", f"/feeds/{FEED}?limit={limit}",
                                           headers={"If-None-Match": f'"{self.epoch}.{pos}"'})
            epoch, last = assert_etag_header(h["etag"])
            assert epoch == self.epoch
            if status == 304:
                assert (pos, last) == (self.head, self.head), f"304 at {last}, position {pos}, head {self.head}"
                break
            assert status == 200, (status, body[:300])
            assert pos < last <= min(pos + limit, self.head), (pos, last, limit)
            got = [(e.id, e.action, e.tick, e.title) for e in parse_feed(body).entries]
            want = collapse([(s, self.log[s]) for s in range(pos + 1, last + 1)])
            assert got == want, f"page ({pos}, {last}]: {got} != {want}"
            pos = last
        self.resumes += 1

    def check_items(self, conn: Conn) -> dict[str, str]:
        """Every producer item's state is the log's last word on it; return the live items."""
        state: dict[str, str | None] = {}
        for t in self.log.values():
            state[t.id] = t.title
        for n in range(PRODUCERS):
            for k in range(IDS_PER_PRODUCER):
                item = f"p{n}-{k}"
                status, _, body = conn.request("GET", item_path(item))
                if state.get(item) is None:
                    assert status == 404, (item, status, body)
                else:
                    assert status == 200, (item, status, body)
                    assert json.loads(body) == {"id": item, "title": state[item]}
        return {i: t for i, t in state.items() if t is not None}


# --------------------------------------------------------------------------- the test


def restart(workdir) -> FeedgateServer:
    return FeedgateServer(workdir, FEEDS).start()  # same workdir: same config and data dir


def kill(server: FeedgateServer) -> None:
    server.proc.kill()  # SIGKILL: no drain, no flush
    server.proc.wait(timeout=10)
    server._join_pumps()


def test_sigkill_loses_no_acknowledged_write(tmp_path, capsys):
    rng = random.Random(SEED)
    workdir = tmp_path / "crash"
    check = Checker()
    handed_out: list[int] = []  # positions (seqs) of ETags issued before some crash
    writes: list[Write] = []
    started = time.monotonic()
    acked_writes = 0
    server = restart(workdir)
    try:
        for cycle in range(CYCLES + 1):
            conn = Conn(server.base)
            check.read_new(conn)
            check.check_writes(writes)
            for seq in handed_out:
                assert seq <= check.head, f"ETag {seq} from before a crash, head now {check.head}"
            for seq in {0, check.head, *rng.sample(handed_out, min(2, len(handed_out)))}:
                check.check_resume(conn, seq, rng)
            live = check.check_items(conn)
            conn.close()
            if cycle == CYCLES:
                break

            producers = [
                Producer(server.base, n, cycle, {i for i in live if i.startswith(f"p{n}-")},
                         random.Random(rng.random()))
                for n in range(PRODUCERS)
            ]
            poller = Poller(server.base, f'"{check.epoch}.{check.head}"')
            for t in (*producers, poller):
                t.start()
            # Mostly mid-load; now and then right after start-up.
            time.sleep(0.0 if rng.random() < 0.1 else rng.uniform(0.05, 0.8))
            kill(server)
            for t in (*producers, poller):
                t.join(timeout=20)
                assert not t.is_alive(), "a client thread hung after the kill"
                assert not t.errors, t.errors
            writes = [w for p in producers for w in p.writes]
            acked_writes += sum(w.ack is not None for w in writes)
            handed_out += poller.seen[-3:]
            handed_out += [int(w.ack["etag"].rsplit(".", 1)[1]) for w in writes[-5:] if w.ack]
            server = restart(workdir)

        # Everything read since the first start is still there, unchanged.
        full = Checker()
        conn = Conn(server.base)
        full.read_new(conn)
        conn.close()
        assert full.epoch == check.epoch
        assert full.log == check.log
    finally:
        if server.proc.poll() is None:
            server.shutdown()

    with capsys.disabled():
        print(
            f"\ncrash harness (seed {SEED}): {CYCLES} SIGKILLs, {acked_writes} acknowledged writes, "
            f"{check.acked_txns} acknowledged transactions checked, log of {check.head} transactions "
            f"read back twice, {check.resumes} ETag resumes, in-flight writes {check.in_flight}, "
            f"{time.monotonic() - started:.1f} s"
        )
    assert check.acked_txns > CYCLES, "the producers hardly wrote anything"
