"""Varnish in front of two feedgate processes on one PostgreSQL: the deployed VCL
(deploy/varnish/feedgate.vcl) with its single backend replaced by the round-robin director
docs/deploying.md gives (read from the document, only the addresses changed).

A consumer walks a long backlog in the query form (`?etag=…&limit=…`, following `next` links)
twice. The first walk fills the cache; the second is served by Varnish: feedgate's own request
counters (`feedgate_http_requests_total{route="feed"}` on each process) show how many of its
requests reached a process, and at least 90% of its backlog pages are cache hits. Nothing is
lost or stale: each walk ends with every transaction, in order, and the producer's items; the
last page, which reaches the head, is never served stale: after a new write the walker at the
head and a third walk from the start see it.

`FEEDGATE_CDN_BACKLOG` sets the backlog (default 3000 transactions).
"""

from __future__ import annotations

import os
import re
import time

import pytest

from conftest import FEEDS, REPO, FeedgateServer
from fgclient import payload_for, request
from pollers import Poller
from proxies import VCL, split_host_port, start_varnish, substitute

BACKLOG = int(os.environ.get("FEEDGATE_CDN_BACKLOG", "3000"))
PAGE = 50
BATCH = 100
FEED_REQUESTS = re.compile(r'^feedgate_http_requests_total\{route="feed",[^}]*\}\s+(\d+)', re.M)
SINGLE_BACKEND = 'backend feedgate {\n    .host = "127.0.0.1";\n    .port = "8080";\n}\n'


def director_vcl(bases: list[str]) -> str:
    """The deployed VCL with the director from docs/deploying.md in place of its backend."""
    doc = (REPO / "docs" / "deploying.md").read_text()
    blocks = re.findall(r"^```\n(import directors;\n.*?)^```$", doc, re.S | re.M)
    assert len(blocks) == 1, "docs/deploying.md shows no round-robin director for Varnish"
    director = blocks[0]
    replacements = {}
    for documented, base in zip(("10.0.0.11", "10.0.0.12"), bases):
        host, port = split_host_port(base)
        replacements[f'.host = "{documented}";\n    .port = "8080";'] = (
            f'.host = "{host}";\n    .port = "{port}";')

    return substitute(VCL.read_text(), {SINGLE_BACKEND: substitute(director, replacements)})


def feed_requests(server: FeedgateServer) -> int:
    r = request("GET", server.url("/metrics"))
    assert r.status == 200, r
    return sum(int(n) for n in FEED_REQUESTS.findall(r.body.decode()))


def head_seq(server: FeedgateServer) -> int:
    r = request("GET", server.url("/feeds/news"), {"If-None-Match": "*"})
    assert r.status == 304, r
    return int(r.header("ETag").strip('"').rsplit(".", 1)[1])


def walk(base: str, epoch: str, producer, head: int, what: str) -> Poller:
    poller = Poller(base, "news", "query", limit=PAGE, start=f"{epoch}.0")
    poller.poll_to_head(max_polls=head // PAGE + 5)
    # A 304 short of the head: a process that has not yet been notified of the last write.
    deadline = time.monotonic() + 10
    while poller.position != f"{epoch}.{head}" and time.monotonic() < deadline:
        time.sleep(0.02)
        poller.poll()
    assert poller.position == f"{epoch}.{head}", f"{what}: stalled at {poller.position}, head {head}"
    assert poller.ticks == list(range(1, head + 1)), f"{what}: lost or repeated transactions"
    assert poller.items == {i: p["title"] for i, p in producer.model.items()}, f"{what}: stale items"
    return poller


@pytest.fixture
def fleet(postgres, tmp_path):
    store = postgres.database()
    servers = [FeedgateServer(tmp_path / f"p{i}", FEEDS, {"store": store}).start() for i in range(2)]
    try:
        yield servers
    finally:
        for s in servers:
            s.shutdown()


def test_varnish_serves_a_second_backlog_walk_over_two_processes(fleet, tmp_path, capsys):
    started = time.monotonic()
    producer = fleet[0].producer()
    for n, first in enumerate(range(0, BACKLOG, BATCH)):
        producer.base = fleet[n % 2].base  # writes go to both processes
        ops = [{"id": f"a{i}", **payload_for(f"a{i}", f"A{i}")}
               for i in range(first, min(first + BATCH, BACKLOG))]
        r = producer.batch(ops)
        assert 200 <= r.status < 300, r
    epoch = r.json()["etag"].rsplit(".", 1)[0]
    # Each process learns the other's writes by notification, a moment after their commit.
    deadline = time.monotonic() + 10
    while [head_seq(s) for s in fleet] != [BACKLOG, BACKLOG]:
        assert time.monotonic() < deadline, [head_seq(s) for s in fleet]
        time.sleep(0.05)
    varnish = start_varnish(tmp_path / "varnish", fleet[0].base,
                            config=director_vcl([s.base for s in fleet]))
    try:
        first = walk(varnish.base, epoch, producer, BACKLOG, "first walk")
        full_pages = (BACKLOG - 1) // PAGE  # every page but the one that reaches the head
        assert first.cache_control["public, max-age=31536000, immutable"] == full_pages, first.cache_control

        before = [feed_requests(s) for s in fleet]
        second = walk(varnish.base, epoch, producer, BACKLOG, "second walk")
        after = [feed_requests(s) for s in fleet]
        reached = sum(after) - sum(before)
        polls = sum(second.statuses.values())
        pages = second.statuses[200]
        hits = second.cache["hit"]
        # Varnish's account and feedgate's agree: what was not a hit reached a process.
        assert reached == polls - hits, (reached, polls, second.cache)
        assert hits >= 0.9 * pages, f"only {hits} of {pages} backlog pages were cache hits"

        # The head is never cached: a new write reaches the walker at the head as soon as the
        # process Varnish asks has it (by notification, a moment after the commit on the other),
        # and a third walk from the start (whose former last page is now full and cacheable).
        producer.base = fleet[1].base
        producer.add("late", payload_for("late", "Late"))
        deadline = time.monotonic() + 10
        while (r := second.poll()).status == 304:
            assert (r.header("X-Cache") or "").lower() != "hit", r
            assert time.monotonic() < deadline, "the walker at the head never saw the new write"
            time.sleep(0.02)
        assert second.ticks[-1] == BACKLOG + 1 and second.items["late"] == "Late", r
        third = walk(varnish.base, epoch, producer, BACKLOG + 1, "third walk")
        assert third.cache["hit"] >= full_pages, third.cache
    finally:
        varnish.stop()
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\ncdn: Varnish (round-robin director) over 2 processes on PostgreSQL, backlog {BACKLOG} "
              f"transactions in pages of {PAGE}; second walk: {hits}/{pages} backlog pages cache "
              f"hits ({100 * hits / pages:.1f}%), {reached} of its {polls} requests reached feedgate "
              f"(per process {[a - b for a, b in zip(after, before)]}); third walk after a write: "
              f"{third.cache['hit']} hits of {sum(third.statuses.values())}; {elapsed:.1f}s")
