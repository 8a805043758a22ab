"""Feed consumers for the proxy tests, written only against PROTOCOL.md: a header-mode poller
(`If-None-Match` with the last ETag) and a query-mode poller (`?etag=` of the last position,
following `next` links), each keeping a model of the feed's items and every entry tick it saw.

Each checks every answer as it goes: 200 or 304 only (never a proxy's 503), ETag header and
body agree, a 304 names the position held, a 200 moves it forward and its entries lie between
the old position and the new one in ascending ticks, a `next` link points back at the proxy, and a delta request is never answered with a catch-up (`syncMode`
`catchUp` after a position beyond 0: the sign of a validator stripped on the way).
"""

from __future__ import annotations

import collections
import urllib.parse

from fgclient import Response, parse_feed, request, split_etag


class Poller:
    def __init__(self, base: str, feed: str, mode: str, limit: int | None = None,
                 start: str | None = None):
        assert mode in ("header", "query"), mode
        self.base, self.feed, self.mode, self.limit = base, feed, mode, limit
        self.position = start  # bare EPOCH.SEQ once known
        self.next_url: str | None = None
        self.items: dict[str, str | None] = {}  # id -> title
        self.ticks: list[int] = []
        self.statuses: collections.Counter[int] = collections.Counter()
        self.cache: collections.Counter[str] = collections.Counter()  # X-Cache per answer
        self.cache_control: collections.Counter[str] = collections.Counter()

    @property
    def seq(self) -> int:
        return split_etag(self.position)[1] if self.position else 0

    def url(self) -> str:
        if self.mode == "query" and self.next_url:
            return self.next_url
        query = {}
        if self.mode == "query" and self.position:
            query["etag"] = self.position
        if self.limit:
            query["limit"] = str(self.limit)
        qs = urllib.parse.urlencode(query)
        return f"{self.base}/feeds/{self.feed}" + (f"?{qs}" if qs else "")

    def poll(self) -> Response:
        headers = {}
        if self.mode == "header" and self.position:
            headers["If-None-Match"] = f'"{self.position}"'
        r = request("GET", self.url(), headers)
        self.next_url = None
        self.statuses[r.status] += 1
        self.cache[(r.header("X-Cache") or "-").lower()] += 1
        self.cache_control[r.header("Cache-Control") or "-"] += 1
        assert r.status in (200, 304), r
        # Weak where the page went out in gzip (a cache may gunzip it for this client).
        tag = (r.header("ETag") or "").removeprefix("W/").strip('"')
        if r.status == 304:
            assert self.position and tag == self.position, (self.position, r)
            return r
        doc = parse_feed(r.body)
        assert doc.etag == tag, r
        held = self.seq
        new = split_etag(doc.etag)[1]
        if held > 0:
            assert doc.sync_mode == "immediate", f"catchUp answer to a delta request: {r}"
            assert new > held, f"a 200 that does not move the position: {r}"
        if doc.sync_mode == "catchUp":
            self.items = {}  # a catch-up is the whole state
            held = 0
        for e in doc.entries:
            # Entries follow the position held, in order, up to the new one.
            assert e.tick is not None and held < e.tick <= new, (held, new, e, r)
            assert not self.ticks or e.tick > self.ticks[-1], (e, r)
            self.ticks.append(e.tick)
            if e.action == "delete":
                self.items.pop(e.id, None)
            else:
                self.items[e.id] = e.title
        self.position = doc.etag
        if doc.next_href:
            assert doc.next_href.startswith(self.base + "/"), (doc.next_href, self.base)
            self.next_url = doc.next_href
        return r

    def poll_to_head(self, max_polls: int = 100) -> int:
        """Poll until a 304; the number of requests it took. More than `max_polls` is a stall."""
        for n in range(1, max_polls + 1):
            if self.poll().status == 304:
                return n
        raise AssertionError(f"{self.mode} poller stalled at {self.position} after {max_polls} polls")
