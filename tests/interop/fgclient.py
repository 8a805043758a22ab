"""Client-side helpers for the interop suite, written only against PROTOCOL.md.

- `request()`: one raw HTTP exchange over urllib (stdlib) that never raises on 4xx/5xx/304.
- `Producer`: the push API (`PUT`/`DELETE`/`POST`/`GET` on `/feeds/{feed}/items…`) with a model
  of what the producer believes the feed holds.
- `parse_feed()`: a strict (expat) parse of an RSS 2.0 or Atom 1.0 document into plain data,
  independent of feedparser, so every body is checked by two parsers.
- `BodyCapture`: a urllib handler that lets a test see the raw bytes feedparser received.
- `wait_next_second()`: date cursors and catch-ups only see transactions stamped before the
  current second began (PROTOCOL §3), so tests that use them wait for the next second first.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import gzip
import xml.etree.ElementTree as ET
from typing import Any

NS = {
    "ibmfs": "http://purl.org/net/ibmfeedsvc/feedsvc/1.0",
    "ibmwcm": "http://purl.org/net/ibmfeedsvc/wcm/1.0",
    "sync": "http://schemas.sage.com/sdata/sync/2008/1",
    "at": "http://purl.org/atompub/tombstones/1.0",
    "atom": "http://www.w3.org/2005/Atom",
}
TIMEOUT = 10
ETAG_HEADER_RE = re.compile(r'^"([^"\s]+)\.(\d+)"$')


# --------------------------------------------------------------------------- HTTP


@dataclasses.dataclass
class Response:
    status: int
    headers: Any  # http.client.HTTPMessage: case-insensitive .get()
    body: bytes
    method: str = "GET"
    url: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self) -> str:  # shown by pytest when an assertion on a response fails
        head = "".join(f"\n    {k}: {v}" for k, v in self.headers.items())
        body = self.body[:2000].decode("utf-8", "replace")
        return f"<{self.method} {self.url} -> {self.status}{head}\n  body: {body}>"


def request(method: str, url: str, headers: dict | None = None, body: Any = None) -> Response:
    headers = dict(headers or {})
    data = None
    if body is not None:
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        else:
            data = json.dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return Response(r.status, r.headers, r.read(), method, url)
    except urllib.error.HTTPError as e:
        try:
            payload = e.read()
        finally:
            e.close()
        return Response(e.code, e.headers, payload, method, url)


def assert_problem(resp: Response, status: int, code: str | None = None) -> dict:
    """A 4xx/5xx must be RFC 9457 problem+json with a stable `code` (PROTOCOL §7)."""
    assert resp.status == status, resp
    ctype = (resp.header("Content-Type") or "").split(";")[0].strip()
    assert ctype == "application/problem+json", resp
    problem = resp.json()
    for key in ("type", "title", "status", "detail", "code"):
        assert key in problem, (key, problem)
    assert problem["status"] == status, problem
    if code is not None:
        assert problem["code"] == code, problem
    return problem


# --------------------------------------------------------------------------- validators


def split_etag(tag: str) -> tuple[str, int]:
    """`"EPOCH.SEQ"`, `W/"EPOCH.SEQ"` or bare `EPOCH.SEQ` -> (epoch, seq)."""
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    tag = tag.strip('"')
    epoch, _, seq = tag.rpartition(".")
    assert epoch and seq.isdigit(), f"not an EPOCH.SEQ token: {tag!r}"
    return epoch, int(seq)


def assert_etag_header(value: str | None, gzip: bool = False) -> tuple[str, int]:
    """The position of an ETag header: `"EPOCH.SEQ"`, weak (`W/"EPOCH.SEQ"`) exactly when the
    response is gzip-coded (two codings of one position are different bytes)."""
    assert value, "response carries no ETag"
    if gzip:
        assert value.startswith("W/"), f"a gzip response's ETag is weak: {value!r}"
        value = value[2:]
    m = ETAG_HEADER_RE.match(value)
    assert m, f'ETag header is not "EPOCH.SEQ": {value!r}'
    return m.group(1), int(m.group(2))


def http_date(value: str | None) -> float:
    """Parse an HTTP date (IMF-fixdate expected) to a POSIX timestamp."""
    assert value, "missing date"
    dt = email.utils.parsedate_to_datetime(value)
    assert dt.tzinfo is not None, value
    return dt.timestamp()


def wait_next_second(margin: float = 0.05) -> None:
    now = time.time()
    time.sleep(math.floor(now) + 1 + margin - now)


# --------------------------------------------------------------------------- producer


class Producer:
    """The push API of one feed, plus the producer's own model of the feed's items."""

    def __init__(self, base: str, feed: str):
        self.base = base
        self.feed = feed
        self.model: dict[str, dict] = {}  # id -> payload the producer last wrote

    def item_url(self, item_id: str) -> str:
        return f"{self.base}/feeds/{self.feed}/items/{urllib.parse.quote(item_id, safe='')}"

    def put(self, item_id: str, payload: dict) -> Response:
        resp = request("PUT", self.item_url(item_id), body=payload)
        if resp.status in (200, 201):
            self.model[item_id] = dict(payload)
        return resp

    def delete(self, item_id: str) -> Response:
        resp = request("DELETE", self.item_url(item_id))
        if resp.status == 200:
            self.model.pop(item_id, None)
        return resp

    def batch(self, ops: list[dict]) -> Response:
        resp = request("POST", f"{self.base}/feeds/{self.feed}/items", body=ops)
        if 200 <= resp.status < 300:
            for op in ops:
                if op.get("deleted"):
                    self.model.pop(op["id"], None)
                else:
                    self.model[op["id"]] = {k: v for k, v in op.items() if k != "id"}
        return resp

    def get(self, item_id: str) -> Response:
        return request("GET", self.item_url(item_id))

    # Expecting helpers: assert the status and action PROTOCOL §5 prescribes.
    def add(self, item_id: str, payload: dict) -> dict:
        resp = self.put(item_id, payload)
        assert resp.status == 201, resp
        return check_write_ack(resp, "add")

    def update(self, item_id: str, payload: dict) -> dict:
        resp = self.put(item_id, payload)
        assert resp.status == 200, resp
        return check_write_ack(resp, "update")

    def unchanged(self, item_id: str, payload: dict) -> dict:
        resp = self.put(item_id, payload)
        assert resp.status == 200, resp
        return check_write_ack(resp, "unchanged")

    def remove(self, item_id: str) -> dict:
        resp = self.delete(item_id)
        assert resp.status == 200, resp
        return check_write_ack(resp, "delete")


def check_write_ack(resp: Response, action: str) -> dict:
    ack = resp.json()
    assert ack.get("action") == action, resp
    assert isinstance(ack.get("seq"), int), resp
    _, seq = split_etag(ack["etag"])
    # The header carries the feed's new head: this write's transaction (single writer here).
    _, head_seq = assert_etag_header(resp.header("ETag"))
    if action == "unchanged":
        assert head_seq >= ack["seq"], resp
    else:
        assert head_seq == seq == ack["seq"], resp
    return ack


def payload_for(item_id: str, title: str) -> dict:
    return {
        "title": title,
        "summary": f"Summary of {title}",
        "link": "https://example.org/items/" + urllib.parse.quote(item_id, safe=""),
    }


# --------------------------------------------------------------------------- strict XML


@dataclasses.dataclass
class FeedEntry:
    id: str  # RSS guid, Atom id, or at:deleted-entry/@ref
    action: str | None
    tick: int | None
    title: str | None
    tombstone: bool = False  # an Atom at:deleted-entry
    stamp: str | None = None  # sync:syncState/sync:stamp (RFC 3339, ms)


@dataclasses.dataclass
class FeedDoc:
    format: str  # "rss" | "atom"
    etag: str | None  # <ibmfs:etag>, bare
    updated: str | None  # RSS lastBuildDate / Atom updated
    sync_mode: str | None
    self_href: str | None
    next_href: str | None
    digest_tick: int | None
    entries: list[FeedEntry]

    def by_id(self) -> dict[str, FeedEntry]:
        out = {}
        for e in self.entries:
            assert e.id not in out, f"item {e.id!r} appears twice in one page"
            out[e.id] = e
        return out

    @property
    def ticks(self) -> list[int]:
        return [e.tick for e in self.entries]


def _q(prefix: str, local: str) -> str:
    return f"{{{NS[prefix]}}}{local}"


def _text(el: ET.Element | None) -> str | None:
    return None if el is None else (el.text or "")


def _int(el: ET.Element | None) -> int | None:
    return None if el is None or el.text is None else int(el.text.strip())


def parse_feed(body: bytes) -> FeedDoc:
    """Parse with expat (strict: any well-formedness error raises) and extract feedgate fields."""
    root = ET.fromstring(body)
    if root.tag == "rss":
        assert root.get("version") == "2.0", root.attrib
        ch = root.find("channel")
        assert ch is not None, "RSS without <channel>"
        return _doc("rss", ch, ch.findall("item"), [], link_tag=_q("atom", "link"))
    if root.tag == _q("atom", "feed"):
        return _doc(
            "atom",
            root,
            root.findall(_q("atom", "entry")),
            root.findall(_q("at", "deleted-entry")),
            link_tag=_q("atom", "link"),
        )
    raise AssertionError(f"unexpected root element {root.tag}")


def _doc(fmt, container, items, tombstones, link_tag) -> FeedDoc:
    links = {l.get("rel", "alternate"): l.get("href") for l in container.findall(link_tag)}
    digest_tick = None
    de = container.find(f"{_q('sync', 'digest')}/{_q('sync', 'digestEntry')}")
    if de is not None:
        digest_tick = _int(de.find(_q("sync", "tick")))
    entries = []
    # Keep document order across entries and tombstones (Atom) so tick order can be checked.
    wanted = set(map(id, items)) | set(map(id, tombstones))
    for el in container:
        if id(el) not in wanted:
            continue
        state = el.find(_q("sync", "syncState"))
        tick = _int(state.find(_q("sync", "tick"))) if state is not None else None
        stamp = _text(state.find(_q("sync", "stamp"))) if state is not None else None
        action = _text(el.find(_q("ibmwcm", "action")))
        if fmt == "rss":
            eid = _text(el.find("guid"))
            title = _text(el.find("title"))
            entries.append(FeedEntry(eid, action, tick, title, stamp=stamp))
        elif el.tag == _q("at", "deleted-entry"):
            entries.append(FeedEntry(el.get("ref"), action or "delete", tick, None, tombstone=True, stamp=stamp))
        else:
            entries.append(FeedEntry(_text(el.find(_q("atom", "id"))), action, tick,
                                     _text(el.find(_q("atom", "title"))), stamp=stamp))
    if fmt == "rss":
        updated = _text(container.find("lastBuildDate"))
    else:
        updated = _text(container.find(_q("atom", "updated")))
    return FeedDoc(
        format=fmt,
        etag=_text(container.find(_q("ibmfs", "etag"))),
        updated=updated,
        sync_mode=_text(container.find(_q("sync", "syncMode"))),
        self_href=links.get("self"),
        next_href=links.get("next"),
        digest_tick=digest_tick,
        entries=entries,
    )


def rfc3339_seconds(value: str) -> int:
    """Whole POSIX seconds of an RFC 3339 timestamp such as `2025-11-25T12:00:00.123Z`."""
    return int(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def check_page_size(doc: "FeedDoc", limit: int, etag_selected: bool) -> None:
    """`limit` bounds a page. An ETag-selected page obeys it strictly. A date-selected page
    (date cursor or catch-up) must end on a second boundary so that a consumer keeping only
    Last-Modified loses nothing (PROTOCOL §3, whole seconds); when one second holds more than
    `limit` transactions the page may exceed `limit`, but then it holds that one second only."""
    n = len(doc.entries)
    if n <= limit:
        return
    assert not etag_selected, f"ETag-selected page holds {n} entries, limit {limit}"
    seconds = {rfc3339_seconds(e.stamp) for e in doc.entries}
    assert len(seconds) == 1, f"page of {n} > limit {limit} entries spans seconds {sorted(seconds)}"


def link_header_next(value: str | None) -> str | None:
    """The target of `rel="next"` in a Link header, if any."""
    if not value:
        return None
    for part in re.finditer(r"<([^>]*)>\s*((?:;\s*[^,;]+)*)", value):
        params = part.group(2)
        if re.search(r';\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?', params):
            return part.group(1)
    return None


# --------------------------------------------------------------------------- feedparser glue


class BodyCapture(urllib.request.BaseHandler):
    """A urllib handler passed to feedparser (`handlers=[…]`) that records each exchange:
    the request headers feedparser sent and the response body it received (`body`: decoded
    when feedgate sent it in gzip, which feedparser asks for; `wire`: the bytes as sent). It
    runs before urllib's error processor, so 304s are seen too; the body is handed on unchanged."""

    handler_order = 400

    def __init__(self):
        self.exchanges: list[dict] = []

    def http_request(self, req):
        self.exchanges.append({"url": req.full_url, "request_headers": dict(req.header_items())})
        return req

    def http_response(self, req, resp):
        data = resp.read()
        resp.read = lambda *args, **kwargs: data  # feedparser calls f.read() once
        body = data
        if data and (resp.headers.get("Content-Encoding") or "").lower() == "gzip":
            body = gzip.decompress(data)
        self.exchanges[-1].update(status=resp.status, headers=resp.headers, body=body, wire=data)
        return resp

    @property
    def last(self) -> dict:
        return self.exchanges[-1]
