"""Several feedgate processes on one PostgreSQL (PROTOCOL §10), with real processes and clients.

Three `feedgate serve` processes share one database (`store = "postgres://…"`, the same feeds).
Two producers write to all of them at random (single PUTs and batch POSTs, every transaction with
a unique title); three consumers switch process at random between polls: an ETag consumer
(`If-None-Match`), a date consumer (`If-Modified-Since` from `Last-Modified`) and a next-link
walker (query form `?etag=…&limit=…`, following `next` links, rewritten to whichever process it
asks next); the clients are in scaleout.py. Mid-run processes are SIGKILLed and restarted on the
same database; whoever was talking to one moves to another.

At the end the whole log is read one transaction per page and checked:
- seqs run 1…head without a gap; every acknowledged write is there at the seqs its ack gave
  (a batch contiguous), with its items and titles; a write cut off by a kill is all there or
  not at all; nothing else is there;
- every page every consumer received is exactly the one-entry-per-item collapse of the log
  range it covers (nothing skipped, nothing invented), the ranges chain from 0 to the head, and
  each consumer's items equal the log's final state;
- the same query-form page (`?etag=E.n&limit=k`, RSS and Atom) has the same bytes and the same
  `ETag`, `Last-Modified` and `Cache-Control` on every process when it is a full backlog page
  (the cacheable kind), the same `ETag`, `Cache-Control` and entries when it reaches the head.

`FEEDGATE_SCALE_KILLS` sets the number of kills (default 2); `FEEDGATE_SCALE_SEED` the seed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import threading
import time

from fgclient import assert_etag_header, parse_feed, split_etag, wait_next_second
from scaleout import FEED, LIMIT, Cluster, Consumer, Producer, Write
from test_crash import Conn

KILLS = int(os.environ.get("FEEDGATE_SCALE_KILLS", "2"))
SEED = int(os.environ.get("FEEDGATE_SCALE_SEED", str(random.randrange(1 << 30))))
PROCESSES = 3
PRODUCERS = 2
IMMUTABLE = "public, max-age=31536000, immutable"


# --------------------------------------------------------------------------- checks


@dataclasses.dataclass(frozen=True)
class Txn:
    id: str
    title: str


def read_log(base: str, epoch: str, head: int) -> dict[int, Txn]:
    """Every transaction, one ETag-selected page each."""
    log: dict[int, Txn] = {}
    conn = Conn(base)
    try:
        for seq in range(1, head + 1):
            status, _, body = conn.request("GET", f"/feeds/{FEED}?etag={epoch}.{seq - 1}&limit=1")
            assert status == 200, (seq, status, body[:300])
            doc = parse_feed(body)
            assert [e.tick for e in doc.entries] == [seq], (seq, doc.entries)
            log[seq] = Txn(doc.entries[0].id, doc.entries[0].title)
    finally:
        conn.close()
    return log


def collapse(log: dict[int, Txn], held: int, new: int) -> list[tuple[str, str, int, str]]:
    """PROTOCOL §3: one entry per item, its last state in (held, new], ordered by seq; `add`
    when the position `held` did not hold the item (there are no deletes here)."""
    existed = {log[s].id for s in range(1, held + 1)}
    last: dict[str, int] = {}
    for s in range(held + 1, new + 1):
        last[log[s].id] = s
    return [(item, "update" if item in existed else "add", s, log[s].title)
            for item, s in sorted(last.items(), key=lambda kv: kv[1])]


def check_writes(log: dict[int, Txn], writes: list[Write]) -> tuple[int, int]:
    """Acknowledged writes are in the log where their acks say; unknown ones all or nothing;
    nothing else is. Returns (acknowledged transactions, unknown writes that made it)."""
    by_title = {t.title: s for s, t in log.items()}
    assert len(by_title) == len(log), "a title appears twice in the log"
    accounted: set[int] = set()
    acked = landed = 0
    for w in writes:
        if w.ack is not None:
            acks = w.ack["items"] if w.kind == "batch" else [w.ack]
            assert len(acks) == len(w.ops), w
            seqs = [a["seq"] for a in acks]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"batch not contiguous: {w}"
            for (item, title), seq in zip(w.ops, seqs):
                assert log.get(seq) == Txn(item, title), (
                    f"acked {item} {title} at {seq}, log has {log.get(seq)}")
                accounted.add(seq)
            acked += len(seqs)
        else:
            seqs = [by_title.get(title) for _, title in w.ops]
            if seqs[0] is None:
                assert seqs == [None] * len(seqs), f"part of an unknown write landed: {w} {seqs}"
                continue
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"unknown write split: {w} {seqs}"
            for (item, title), seq in zip(w.ops, seqs):
                assert log[seq] == Txn(item, title), (w, seq, log[seq])
                accounted.add(seq)
            landed += 1
    assert accounted == set(log), f"transactions nobody wrote: {sorted(set(log) - accounted)[:10]}"
    return acked, landed


def check_consumer(c: Consumer, log: dict[int, Txn], head: int) -> None:
    held = 0
    for p in c.pages:
        assert p.held == held, (c.kind, p)
        assert p.entries == collapse(log, p.held, p.new), (
            f"{c.kind} consumer: page ({p.held}, {p.new}] from {p.url} is not the log's range:\n"
            f"  got      {p.entries}\n  expected {collapse(log, p.held, p.new)}")
        held = p.new
    assert held == head, (c.kind, held, head)


def probe_head(base: str) -> tuple[str, int]:
    conn = Conn(base)
    try:
        status, h, _ = conn.request("GET", f"/feeds/{FEED}", headers={"If-None-Match": "*"})
    finally:
        conn.close()
    assert status == 304, status
    return assert_etag_header(h["etag"])


def compare_pages(bases: list[str], epoch: str, head: int, rng: random.Random) -> tuple[int, int]:
    """The same query-form page from every process, asked with the same `Host` as through a
    load balancer: same bytes and validators. Returns the number of pages compared and of those
    compared byte for byte."""
    starts = sorted({0, head - LIMIT, head - 1, *rng.sample(range(head), min(12, head))})
    compared = identical = 0
    for n in starts:
        for fmt in ("rss", "atom"):
            path = f"/feeds/{FEED}?etag={epoch}.{n}&limit={LIMIT}&format={fmt}"
            answers = []
            for base in bases:
                conn = Conn(base)
                try:
                    # As through a load balancer: the same Host (links are built from it).
                    status, h, body = conn.request("GET", path, headers={"Host": "feeds.example"})
                finally:
                    conn.close()
                assert status == 200, (base, path, status)
                answers.append((body, h.get("etag"), h.get("last-modified"), h.get("cache-control")))
            differ = f"{path} differs between processes:\n" + "\n".join(
                f"  {b}: {a[1:]} {len(a[0])} bytes" for b, a in zip(bases, answers))
            full = n + LIMIT < head
            assert (answers[0][3] == IMMUTABLE) == full, (path, answers[0][3])
            if full:
                assert all(a == answers[0] for a in answers), differ
            else:
                # A page that reaches the head (no-store) may name an earlier second in
                # Last-Modified on a process that has not yet seen the head's second closed
                # (PROTOCOL §2); its position and entries are the same everywhere.
                assert all(a[1] == answers[0][1] and a[3] == answers[0][3] for a in answers), differ
                assert all(parse_feed(a[0]).entries == parse_feed(answers[0][0]).entries
                           for a in answers), differ
            compared += 1
            identical += full
    return compared, identical


# --------------------------------------------------------------------------- the test


def test_processes_on_one_database_lose_nothing_across_switches_and_kills(postgres, tmp_path, capsys):
    rng = random.Random(SEED)
    started = time.monotonic()
    cluster = Cluster(tmp_path, postgres.database(), PROCESSES)
    stop = threading.Event()
    producers: list[Producer] = []
    consumers: list[Consumer] = []
    try:
        # A first write names the epoch, the same on every process.
        conn = Conn(cluster.servers[0].base)
        try:
            status, _, data = conn.request("PUT", f"/feeds/{FEED}/items/seed",
                                           json.dumps({"title": "seed"}).encode())
        finally:
            conn.close()
        assert status == 201, data
        epoch, _ = split_etag(json.loads(data)["etag"])
        seed_write = Write("put", [("seed", "seed")], 0, json.loads(data))
        producers = [Producer(n, cluster, random.Random(rng.random()), stop) for n in range(PRODUCERS)]
        consumers = [Consumer(kind, cluster, random.Random(rng.random()), epoch)
                     for kind in ("etag", "date", "walker")]
        for t in (*producers, *consumers):
            t.start()
        victims = []
        for k in range(KILLS):
            time.sleep(rng.uniform(1.5, 2.5))
            victim = rng.randrange(PROCESSES)
            victims.append(victim)
            cluster.kill_and_restart(victim, pause=rng.uniform(0.1, 0.6))
        time.sleep(rng.uniform(1.0, 2.0))
        stop.set()
        for p in producers:
            p.join(timeout=30)
        for c in consumers:
            c.stop.set()
            c.join(timeout=30)
        for t in (*producers, *consumers):
            assert not t.is_alive(), f"{t} did not stop"
            assert not t.errors, t.errors

        # Each process learns the others' writes by notification, a moment after their commit.
        deadline = time.monotonic() + 10
        while len(heads := {probe_head(base) for base in cluster.bases()}) > 1:
            assert time.monotonic() < deadline, f"processes disagree on the head: {heads}"
            time.sleep(0.05)
        (_, head), = heads
        wait_next_second()
        for c in consumers:
            c.catch_up(head)
        log = read_log(cluster.bases()[rng.randrange(PROCESSES)], epoch, head)
        writes = [seed_write] + [w for p in producers for w in p.writes]
        acked, landed = check_writes(log, writes)
        for c in consumers:
            check_consumer(c, log, head)
        wait_next_second()
        compared, identical = compare_pages(cluster.bases(), epoch, head, rng)
    finally:
        stop.set()
        for c in consumers:
            c.stop.set()
        cluster.shutdown()
    unknown = sum(1 for w in writes if w.ack is None)
    with capsys.disabled():
        print(f"\nscale-out: seed {SEED}, {PROCESSES} processes on PostgreSQL, {len(victims)} SIGKILLs "
              f"(processes {victims}) and restarts; {len(writes)} writes "
              f"({sum(w.kind == 'batch' for w in writes)} batches, "
              f"{sum(p.failovers for p in producers)} to a dead process), {acked} acknowledged "
              f"transactions, {unknown} writes without an answer (refused by a dead process or "
              f"cut off by a kill; {landed} of them landed); head {head}; {compared} pages "
              f"compared across processes ({identical} full ones byte for byte); "
              f"{time.monotonic() - started:.1f}s")
        for c in consumers:
            print(f"  {c.kind} consumer: {c.polls} polls ({len(c.pages)} pages, {c.not_modified} 304s), "
                  f"{c.switches} process switches, {c.failovers} failovers from a dead process")
