"""Python feedparser as a real, independently written feed consumer of feedgate.

How feedparser 6 exposes feedgate's elements (checked against hand-written documents and the
server): it keys foreign elements by the document's prefix plus the local name, lower-cased,
and flattens nesting, so
  - `<ibmwcm:action>` of an item/entry      -> `entry["ibmwcm_action"]`
  - `<sync:syncState><sync:tick>`            -> `entry["sync_tick"]` (a string)
  - `<ibmfs:etag>` / `<sync:syncMode>`       -> `d.feed["ibmfs_etag"]` / `d.feed["sync_syncmode"]`
  - `<atom:link rel="next">`                 -> `d.feed.links` entry with `rel == "next"`
  - RSS `<guid>`                             -> `entry.id`
It sends `A-IM: feed` on every request: feedgate answers a plain 200 (reported as `d.status`),
and 226 IM Used only on a feed configured with `im_feed = true` (both are tested here);
`If-None-Match` from `etag=` and `If-Modified-Since` from `modified=`; `d.etag` / `d.modified`
are the response's `ETag` / `Last-Modified` headers, and a 304 gives `d.status == 304` with
no entries. It does NOT turn Atom `<at:deleted-entry>` (RFC 6721) into entries: their children
leak into `d.feed`. So Atom tombstones are read with expat here, and the lossy consumer
reads RSS, where a delete is an ordinary `<item>`.

Every body feedparser receives is also parsed strictly with xml.etree (expat) through the
`BodyCapture` handler, and both parsers must agree.
"""

from __future__ import annotations

import os
import random
import urllib.parse

import feedparser
import pytest

from fgclient import (
    BodyCapture,
    assert_etag_header,
    check_page_size,
    http_date,
    link_header_next,
    parse_feed,
    payload_for,
    split_etag,
    wait_next_second,
)

ITEMS = {
    "a-1": "Alpha & Omega",
    "b-2": 'Beta <b>not markup</b> "quoted"',
    "c 3": "Gamma — ünïcødé ✓",
}
FORMATS = {"rss": ("/feeds/news.rss", "rss20"), "atom": ("/feeds/news.atom", "atom10")}


class Consumer:
    """feedparser doing the HTTP, with the raw exchange captured and cross-checked."""

    def __init__(self, im_feed=False):
        self.capture = BodyCapture()
        # The status a page gets: 226 only from a feed with `im_feed = true`.
        self.page_status = 226 if im_feed else 200

    def fetch(self, url, etag=None, modified=None):
        d = feedparser.parse(url, etag=etag, modified=modified, handlers=[self.capture])
        ex = self.capture.last
        assert "status" in ex, f"no response for {url}: {d.get('bozo_exception')!r}"
        assert d.status == ex["status"]
        sent = {k.lower(): v for k, v in ex["request_headers"].items()}
        assert sent.get("a-im") == "feed"
        if etag:
            assert sent.get("if-none-match") == etag
        if d.status == 304:
            assert ex["body"] == b"", "a 304 carries no body"
            assert not d.entries
            return d, None
        assert d.status == self.page_status, (d.status, ex["body"][:500])
        assert not d.bozo, f"feedparser flagged the document: {d.get('bozo_exception')!r}"
        doc = parse_feed(ex["body"])  # strict expat parse of the same bytes
        check_document(d, doc, ex)
        return d, doc


def check_document(d, doc, ex):
    """What every 200/226 page must satisfy, and feedparser/expat agreement."""
    headers = ex["headers"]
    gzipped = (headers.get("Content-Encoding") or "").lower() == "gzip"
    epoch, seq = assert_etag_header(headers.get("ETag"), gzip=gzipped)
    assert gzipped, "feedparser asks for gzip, and a page goes out in it"
    assert d.etag == headers.get("ETag")
    assert doc.etag == f"{epoch}.{seq}", "body <ibmfs:etag> must equal the ETag header, unquoted"
    assert d.feed.get("ibmfs_etag") == doc.etag
    # feedparser always sends A-IM: feed; only a feed with im_feed = true announces the
    # manipulation (226, IM: feed, Cache-Control: no-store, im). Others answer a plain 200.
    cache_control = {t.strip().lower() for t in headers.get("Cache-Control", "").split(",")}
    if d.status == 226:
        assert headers.get("IM", "").strip().lower() == "feed"
        assert {"no-store", "im"} <= cache_control, headers.get("Cache-Control")
    else:
        assert d.status == 200 and "IM" not in headers, (d.status, dict(headers))
        assert "im" not in cache_control, headers.get("Cache-Control")
    if seq > 0:
        assert doc.updated, "body must carry lastBuildDate/updated"
        body_date = http_date(doc.updated) if doc.format == "rss" else _rfc3339(doc.updated)
        if "Last-Modified" not in headers:
            # A page not newer than the If-Modified-Since feedparser sent carries no date
            # (docs/decisions.md 47: libcurl readers would drop it); feedparser keeps none.
            sent = {k.lower(): v for k, v in ex["request_headers"].items()}
            assert "if-modified-since" in sent, dict(headers)
            assert int(body_date) <= int(http_date(sent["if-modified-since"]))
            assert d.get("modified") is None
        else:
            assert d.modified == headers.get("Last-Modified")
            lm = http_date(headers.get("Last-Modified"))
            assert int(body_date) == int(lm), (doc.updated, headers.get("Last-Modified"))
    assert doc.sync_mode in ("catchUp", "immediate")
    assert d.feed.get("sync_syncmode") == doc.sync_mode
    assert doc.self_href, "atom:link rel=self is missing"
    assert doc.digest_tick is not None and doc.digest_tick >= seq + 1, "sync:digestEntry tick is head seq + 1"
    # Entries: oldest first, each item once, none beyond the page's position.
    ticks = doc.ticks
    assert all(t is not None for t in ticks), "every entry needs sync:syncState/sync:tick"
    assert ticks == sorted(ticks) and len(set(ticks)) == len(ticks), (
        f"entries (Atom: entries and at:deleted-entry together) must be in seq order, got ticks {ticks}")
    assert all(t <= seq for t in ticks), (ticks, seq)
    doc.by_id()
    # Paging links: header and body agree.
    header_next = link_header_next(headers.get("Link"))
    if doc.next_href is None:
        assert header_next is None, headers.get("Link")
    else:
        assert header_next is not None, "body has rel=next but no Link header"
        assert urllib.parse.urljoin(ex["url"], header_next) == urllib.parse.urljoin(ex["url"], doc.next_href)
        assert _qs(doc.next_href).get("etag") == [doc.etag], "next link must carry ?etag= of this page"
    fp_next = [urllib.parse.urljoin(ex["url"], l["href"]) for l in d.feed.get("links", []) if l.get("rel") == "next"]
    assert fp_next == ([urllib.parse.urljoin(ex["url"], doc.next_href)] if doc.next_href else []), fp_next
    # feedparser sees the same entries as expat (Atom tombstones excepted, see module doc).
    live = [e for e in doc.entries if not e.tombstone]
    assert [(e.id, e.get("ibmwcm_action"), int(e.get("sync_tick", -1))) for e in d.entries] == [
        (e.id, e.action, e.tick) for e in live
    ]
    for fe, xe in zip(d.entries, live):
        if xe.action != "delete":
            assert fe.get("title") == xe.title


def _rfc3339(value: str) -> float:
    import datetime

    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _qs(url: str) -> dict:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)


def follow(url: str, href: str, limit: int) -> str:
    """Resolve a next link, keeping the page size on later requests."""
    url = urllib.parse.urljoin(url, href)
    if "limit" not in _qs(url):
        url += ("&" if "?" in url else "?") + f"limit={limit}"
    return url


def seed(producer, items=ITEMS):
    for item_id, title in items.items():
        producer.add(item_id, payload_for(item_id, title))


def by_title(d):
    return {e.title: e for e in d.entries}


# --------------------------------------------------------------------------- (1) first fetch


@pytest.mark.parametrize("fmt", FORMATS)
def test_first_fetch_gets_every_item(feedgate, fmt):
    path, version = FORMATS[fmt]
    seed(feedgate.producer())
    wait_next_second()  # a catch-up only shows transactions of past seconds
    d, doc = Consumer().fetch(feedgate.url(path))

    assert d.version == version
    assert d.feed.title == "News"
    assert doc.sync_mode == "catchUp"
    epoch, seq = split_etag(d.etag)
    assert seq == len(ITEMS)
    assert doc.digest_tick == len(ITEMS) + 1
    assert [e.get("ibmwcm_action") for e in d.entries] == ["add"] * len(ITEMS)
    assert [int(e.sync_tick) for e in d.entries] == [1, 2, 3]
    assert [e.title for e in d.entries] == list(ITEMS.values())
    if fmt == "rss":
        assert [e.id for e in d.entries] == list(ITEMS)
    else:
        # Atom ids are IRIs: a non-IRI item id maps to a stable urn: form.
        for e in d.entries:
            assert urllib.parse.urlsplit(e.id).scheme, e.id
        again, _ = Consumer().fetch(feedgate.url(path))
        assert [e.id for e in again.entries] == [e.id for e in d.entries], "Atom ids must be stable"


# --------------------------------------------------------------------------- (2) 304


@pytest.mark.parametrize("fmt", FORMATS)
def test_unchanged_feed_answers_304(feedgate, fmt):
    path, _ = FORMATS[fmt]
    producer = feedgate.producer()
    seed(producer)
    wait_next_second()
    consumer = Consumer()
    d1, _ = consumer.fetch(feedgate.url(path))
    assert len(d1.entries) == len(ITEMS)

    d2, _ = consumer.fetch(feedgate.url(path), etag=d1.etag, modified=d1.get("modified"))
    assert d2.status == 304
    assert d2.entries == []
    # A 304 carries the position the request already held (never a later one) and the
    # same caching headers as a 200.
    assert d2.etag == d1.etag
    assert d2.modified == d1.modified
    for header in ("cache-control", "vary", "date", "etag", "last-modified"):
        assert header in d2.headers, (header, d2.headers)

    # An identical PUT appends nothing, so an idle producer keeps consumers at 304.
    item_id = next(iter(ITEMS))
    producer.unchanged(item_id, payload_for(item_id, ITEMS[item_id]))
    d3, _ = consumer.fetch(feedgate.url(path), etag=d1.etag, modified=d1.get("modified"))
    assert d3.status == 304
    assert d3.etag == d1.etag


# --------------------------------------------------------------------------- (3) delta


@pytest.mark.parametrize("fmt", FORMATS)
def test_delta_holds_exactly_the_changes(feedgate, fmt):
    path, version = FORMATS[fmt]
    producer = feedgate.producer()
    seed(producer)
    wait_next_second()
    consumer = Consumer()
    d1, doc1 = consumer.fetch(feedgate.url(path))
    first_ids = {e.title: e.id for e in d1.entries}

    producer.update("a-1", payload_for("a-1", "Alpha, revised"))  # seq 4
    producer.remove("b-2")  # seq 5
    producer.add("d-4", payload_for("d-4", "Delta <new>"))  # seq 6

    d2, doc2 = consumer.fetch(feedgate.url(path), etag=d1.etag, modified=d1.get("modified"))
    assert d2.status == 200  # feedparser sent A-IM: feed; the default answer is a plain 200
    assert d2.version == version
    assert doc2.sync_mode == "immediate"
    epoch1, _ = split_etag(d1.etag)
    epoch2, seq2 = split_etag(d2.etag)
    assert (epoch2, seq2) == (epoch1, 6)
    assert doc2.digest_tick == 7
    assert len(doc2.entries) == 3, doc2.entries
    assert [e.tick for e in doc2.entries] == [4, 5, 6]
    if fmt == "rss":
        got = [(e.id, e.get("ibmwcm_action"), e.get("title")) for e in d2.entries]
        assert got == [
            ("a-1", "update", "Alpha, revised"),
            ("b-2", "delete", None),
            ("d-4", "add", "Delta <new>"),
        ]
    else:
        got = [(e.get("ibmwcm_action"), e.title) for e in d2.entries]
        assert got == [("update", "Alpha, revised"), ("add", "Delta <new>")]
        assert d2.entries[0].id == first_ids["Alpha & Omega"], "an update keeps the entry's Atom id"
        tomb = doc2.entries[1]
        assert tomb.tombstone and tomb.action == "delete"
        assert tomb.id == first_ids[ITEMS["b-2"]], "at:deleted-entry ref must be the item's Atom id"

    d3, _ = consumer.fetch(feedgate.url(path), etag=d2.etag, modified=d2.get("modified") or d1.get("modified"))
    assert d3.status == 304 and d3.etag == d2.etag


@pytest.mark.parametrize("fmt", FORMATS)
def test_im_feed_answers_226_to_feedparser(feedgate_factory, fmt):
    """A feed configured with `im_feed = true` announces its deltas: feedparser gets 226."""
    path, version = FORMATS[fmt]
    server = feedgate_factory({"news": {"title": "News", "im_feed": True}})
    producer = server.producer()
    seed(producer)
    wait_next_second()
    consumer = Consumer(im_feed=True)
    d1, _ = consumer.fetch(server.url(path))
    assert (d1.status, d1.version, len(d1.entries)) == (226, version, len(ITEMS))
    producer.add("d-4", payload_for("d-4", "Delta <new>"))
    d2, doc2 = consumer.fetch(server.url(path), etag=d1.etag, modified=d1.get("modified"))
    assert d2.status == 226 and [e.title for e in d2.entries] == ["Delta <new>"]
    assert doc2.sync_mode == "immediate"
    d3, _ = consumer.fetch(server.url(path), etag=d2.etag, modified=d2.get("modified") or d1.get("modified"))
    assert d3.status == 304 and d3.etag == d2.etag
    assert consumer.capture.last["headers"].get("Cache-Control") == "no-store, im"


# --------------------------------------------------------------------------- paging


def walk(consumer, url, etag=None, modified=None, limit=3):
    """Fetch `url`, then follow next links, storing each page's validators after it."""
    pages = []
    while url and len(pages) < 20:
        d, doc = consumer.fetch(url, etag=etag, modified=modified)
        assert d.status == consumer.page_status
        check_page_size(doc, limit, etag_selected=etag is not None)
        pages.append((d, doc))
        etag, modified = d.etag, d.get("modified")
        url = doc.next_href and follow(url, doc.next_href, limit)
    return pages


def test_paging_walks_the_backlog_with_next_links(feedgate):
    producer = feedgate.producer()
    producer.add("p-0", payload_for("p-0", "Paged item 0"))
    wait_next_second()
    consumer = Consumer()
    url = feedgate.url("/feeds/news.rss?limit=3")
    [(d0, doc0)] = walk(consumer, url)
    assert [e.id for e in d0.entries] == ["p-0"] and doc0.sync_mode == "catchUp"

    items = {f"p-{n}": f"Paged item {n}" for n in range(1, 8)}
    seed(producer, items)
    pages = walk(consumer, url, d0.etag, d0.modified)
    assert [len(d.entries) for d, _ in pages] == [3, 3, 1]
    assert [doc.sync_mode for _, doc in pages] == ["immediate"] * 3
    assert [e.id for d, _ in pages for e in d.entries] == list(items)
    assert [split_etag(d.etag)[1] for d, _ in pages] == [4, 7, 8]

    # A consumer that crashed before storing page 2's ETag resumes from page 1's: replayed, not skipped.
    d1, doc1 = pages[0]
    replay, _ = consumer.fetch(follow(url, doc1.next_href, 3), etag=d1.etag)
    assert [(e.id, e.sync_tick) for e in replay.entries] == [(e.id, e.sync_tick) for e in pages[1][0].entries]

    # A catch-up walk with the same limit (date-selected pages, whole seconds) sees every item once.
    wait_next_second()
    fresh = walk(Consumer(), url)
    assert fresh[0][1].sync_mode == "catchUp"
    assert [e.id for d, _ in fresh for e in d.entries] == ["p-0", *items]


# --------------------------------------------------------------------------- (4) lossy consumer


class LossyConsumer:
    """Drops every third response; otherwise applies entries and stores the validators."""

    def __init__(self, base_url: str, limit: int):
        self.base_url = base_url
        self.limit = limit
        self.fp = Consumer()
        self.items: dict[str, str] = {}
        self.etag = None
        self.modified = None
        self.held = 0  # seq of the stored position
        self.processed: set[tuple[str, int]] = set()
        self.responses = 0
        self.dropped = 0
        self.pages = 0

    def poll(self, lossy: bool = True) -> int:
        """One poll: the feed URL, then `next` links while responses are processed.
        Returns the status of the last response."""
        url = self.base_url
        for _ in range(200):
            etag_selected = self.etag is not None  # feedparser sends it as If-None-Match
            d, doc = self.fp.fetch(url, etag=self.etag, modified=self.modified)
            if doc is not None:
                check_page_size(doc, self.limit, etag_selected)
            self.responses += 1
            if doc is not None:
                assert d.version == "rss20", f"{url} answered {d.version}, not the RSS it was asked for"
                for e in doc.entries:
                    assert (e.id, e.tick) not in self.processed, (
                        f"({e.id!r}, tick {e.tick}) came again after a response holding it was processed"
                    )
            if lossy and self.responses % 3 == 0:
                self.dropped += 1
                return d.status  # lost: not processed, validators not stored
            if d.status == 304:
                if self.etag is not None:
                    assert d.etag == self.etag, "a 304 must carry the position the request held"
                return 304
            self.apply(d, doc)
            if not doc.next_href:
                return d.status
            url = follow(url, doc.next_href, self.limit)
        raise AssertionError("next links never ended")

    def apply(self, d, doc):
        epoch, seq = split_etag(d.etag)
        assert seq >= self.held, "the position never moves backwards"
        for e in d.entries:
            item_id, action, tick = e.id, e.get("ibmwcm_action"), int(e.sync_tick)
            assert self.held < tick <= seq, (item_id, tick, self.held, seq)
            if action == "add":
                assert item_id not in self.items, f"add for {item_id!r}, which the consumer already holds"
                self.items[item_id] = e.title
            elif action == "update":
                assert item_id in self.items, f"update for {item_id!r}, which the consumer never got"
                self.items[item_id] = e.title
            elif action == "delete":
                assert item_id in self.items, f"delete for {item_id!r}, which the consumer never got"
                del self.items[item_id]
            else:
                raise AssertionError(f"bad ibmwcm:action {action!r}")
            self.processed.add((item_id, tick))
        self.etag, self.modified, self.held = d.etag, d.get("modified"), seq
        self.pages += 1


def random_change(rng: random.Random, producer, counter: list[int]) -> None:
    model = producer.model

    def new_id():
        counter[0] += 1
        return rng.choice(["item-{}", "it {}", "ü-{}"]).format(counter[0])

    def title():
        counter[0] += 1
        return f"T{counter[0]} {rng.choice(['plain', 'a & b', '<x>', 'é ✓'])}"

    roll = rng.random()
    if not model or roll < 0.35:
        item_id = new_id()
        producer.add(item_id, payload_for(item_id, title()))
    elif roll < 0.62:
        item_id = rng.choice(sorted(model))
        producer.update(item_id, payload_for(item_id, title()))
    elif roll < 0.80:
        producer.remove(rng.choice(sorted(model)))
    elif roll < 0.95:
        ops, used = [], set()
        for _ in range(rng.randint(2, 4)):
            kind = rng.choice(["add", "update", "delete"]) if model.keys() - used else "add"
            if kind == "add":
                item_id = new_id()
                ops.append({"id": item_id, **payload_for(item_id, title())})
            else:
                item_id = rng.choice(sorted(model.keys() - used))
                ops.append({"id": item_id, "deleted": True} if kind == "delete"
                           else {"id": item_id, **payload_for(item_id, title())})
            used.add(item_id)
        resp = producer.batch(ops)
        assert 200 <= resp.status < 300, resp
    else:
        item_id = rng.choice(sorted(model))
        producer.unchanged(item_id, model[item_id])


LOSSY_SEEDS = [int(s) for s in os.environ.get("FEEDGATE_LOSSY_SEEDS", "1,2").split(",")]


@pytest.mark.parametrize("seed_value", LOSSY_SEEDS)
def test_lossy_consumer_converges(feedgate, seed_value):
    rng = random.Random(seed_value)
    producer = feedgate.producer()
    limit = 3
    consumer = LossyConsumer(feedgate.url(f"/feeds/news.rss?limit={limit}"), limit)
    counter = [0]
    for _ in range(60):
        random_change(rng, producer, counter)
        if rng.random() < 0.45:
            consumer.poll(lossy=True)
    assert consumer.dropped > 0

    # Final catch-up, nothing lost any more: poll until the feed says 304.
    for _ in range(100):
        if consumer.poll(lossy=False) == 304:
            break
    else:
        raise AssertionError("catch-up never reached 304")

    expected = {item_id: payload["title"] for item_id, payload in producer.model.items()}
    assert consumer.items == expected
    # And the producer's model is what the server holds.
    for item_id, payload in producer.model.items():
        resp = producer.get(item_id)
        assert resp.status == 200, resp
        assert resp.json().get("title") == payload["title"], resp

    for item_id in {item_id for item_id, _ in consumer.processed} - producer.model.keys():
        assert producer.get(item_id).status == 404, item_id

    # A brand-new consumer without losses converges to the same set.
    fresh = LossyConsumer(feedgate.url(f"/feeds/news.rss?limit={limit}"), limit)
    wait_next_second()
    for _ in range(100):
        if fresh.poll(lossy=False) == 304:
            break
    assert fresh.items == expected
    assert fresh.held == consumer.held
