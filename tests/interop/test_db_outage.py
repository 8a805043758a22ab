"""Two feedgate processes on one PostgreSQL while the database goes away and comes back (what
docs/deploying.md says happens):

- while it is down, writes answer 503 problem+json `store_unavailable` and leave no trace;
  a page read answers the same 503; a poll at the head each process knows is still a 304
  (answered from memory); `/readyz` says 503 and `/healthz` 200;
- once it is back, both processes write again without being restarted, a write on one reaches
  a consumer polling the other (notifications resumed, or the heads re-read), and consumers end
  with every acknowledged transaction and nothing else.
"""

from __future__ import annotations

import time

from conftest import FEEDS, FeedgateServer
from fgclient import assert_problem, payload_for, request
from pollers import Poller


def head(server: FeedgateServer) -> str:
    r = request("GET", server.url("/feeds/news"), {"If-None-Match": "*"})
    assert r.status == 304, r
    return r.header("ETag").strip('"')


def test_writes_fail_cleanly_while_the_database_is_down_and_resume_after(postgres, tmp_path, capsys):
    started = time.monotonic()
    store = postgres.database()
    servers = [FeedgateServer(tmp_path / f"p{i}", FEEDS, {"store": store}).start() for i in range(2)]
    try:
        a, b = servers
        producer = a.producer()
        for i in range(5):
            producer.base = servers[i % 2].base
            producer.add(f"a{i}", payload_for(f"a{i}", f"A{i}"))
        position = head(a)
        epoch = position.rsplit(".", 1)[0]
        # b learns of a's last write by notification, a moment later (PROTOCOL §10).
        caught_up = time.monotonic() + 5
        while head(b) != position and time.monotonic() < caught_up:
            time.sleep(0.02)
        assert head(b) == position
        pollers = [Poller(s.base, "news", "header", limit=3, start=f"{epoch}.0") for s in servers]
        for p in pollers:
            p.poll_to_head()

        postgres.halt()
        down_since = time.monotonic()
        try:
            refused = 0
            for s in servers:
                for attempt in range(3):
                    r = request("PUT", s.url(f"/feeds/news/items/down{attempt}"),
                                body=payload_for("down", "never written"))
                    assert_problem(r, 503, "store_unavailable")
                    refused += 1
                r = request("POST", s.url("/feeds/news/items"), body=[{"id": "down-batch", "title": "never"}])
                assert_problem(r, 503, "store_unavailable")
                refused += 1
                # At the head: the 304 needs no query.
                r = request("GET", s.url("/feeds/news"), {"If-None-Match": f'"{position}"'})
                assert r.status == 304 and r.header("ETag") == f'"{position}"', r
                assert_problem(request("GET", s.url(f"/feeds/news?etag={epoch}.0")), 503, "store_unavailable")
                assert request("GET", s.url("/readyz")).status == 503
                assert request("GET", s.url("/healthz")).status == 200
        finally:
            postgres.start()
        down_for = time.monotonic() - down_since

        # Back: both processes write again, without a restart.
        recovered = time.monotonic()
        deadline = recovered + 20
        for i, s in enumerate(servers):
            while True:
                producer.base = s.base
                r = producer.put(f"b{i}", payload_for(f"b{i}", f"B{i}"))
                if r.status == 201:
                    break
                assert_problem(r, 503, "store_unavailable")
                assert time.monotonic() < deadline, "writes still fail 20 s after the database is back"
                time.sleep(0.2)
        recovered = time.monotonic() - recovered
        for s in servers:
            assert request("GET", s.url("/readyz")).status == 200
        # A write on b reaches a consumer polling a.
        producer.base = b.base
        producer.add("c", payload_for("c", "C"))
        deadline = time.monotonic() + 5
        while "c" not in pollers[0].items:
            assert time.monotonic() < deadline, "a write on one process never reached the other"
            if pollers[0].poll().status == 304:
                time.sleep(0.05)
        final = head(b)
        assert head(a) == final
        for p in pollers:
            p.poll_to_head()
            assert p.position == final
            assert p.ticks == list(range(1, int(final.rsplit(".", 1)[1]) + 1)), p.ticks
            assert p.items == {i: m["title"] for i, m in producer.model.items()}, (
                "refused writes left a trace")
    finally:
        for s in servers:
            s.shutdown()
    with capsys.disabled():
        print(f"\ndatabase outage: 2 processes, {refused} writes refused with 503 while it was down "
              f"({down_for:.1f}s), writing again {recovered:.2f}s after it was back, head "
              f"{final.rsplit('.', 1)[1]}; {time.monotonic() - started:.1f}s")
