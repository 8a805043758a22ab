#!/usr/bin/env python3
"""A feedgate consumer loop: poll a feed, process each page, keep the ETag in a state file.

    python3 examples/consumer.py http://127.0.0.1:8080/feeds/news --state news.etag
    python3 examples/consumer.py URL --state FILE --once       # until caught up, then exit 0

Standard library only. What it does (docs/consuming.md, docs/protocol.md §2-3):

- Polls with `If-None-Match: <the stored ETag>` (none at first: a catch-up from the start).
- `304 Not Modified`: nothing new; sleeps `--interval` seconds and polls again.
- `200`: processes every entry of the page (`process()`: here, one line per entry on stdout),
  then, and only then, stores the page's ETag (written to a temporary file, synced and renamed,
  so the state file always holds a whole ETag). A consumer killed while processing replays that
  page when it starts again: at least once, nothing skipped. Make `process()` idempotent
  (apply "latest state of item ID" rather than "append").
- A `next` link (`Link: <…>; rel="next"`): more is waiting; fetches it at once instead of sleeping.
- `sync:syncMode` = `catchUp` while holding a position: the feed's log was re-created (or the
  tombstones this position needed were compacted away); the page is the whole state, from the
  start: `reset()` drops what was derived from the feed before it is applied.
- Errors (connection refused, 5xx, 503 with `Retry-After`): logged on stderr, retried after a
  pause from the stored ETag. SIGTERM or Ctrl-C stops it between pages.

Both formats are understood (RSS 2.0 and Atom 1.0, e.g. `…/feeds/news.atom`).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "at": "http://purl.org/atompub/tombstones/1.0",
    "ibmwcm": "http://purl.org/net/ibmfeedsvc/wcm/1.0",
    "sync": "http://schemas.sage.com/sdata/sync/2008/1",
}
NEXT_RE = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')
TIMEOUT = 60  # seconds; above the server's long-poll cap, should you add `Prefer: wait=N`

stop = threading.Event()


# --------------------------------------------------------------------------- the application's part


def process(entry: dict) -> None:
    """Apply one entry. Here: print `ACTION ID TITLE`. Runs at least once per entry."""
    print(f"{entry['action']} {entry['id']} {entry.get('title') or ''}".rstrip(), flush=True)


def reset() -> None:
    """The feed starts over (a catch-up while holding a position): drop what came from it."""
    print("reset", flush=True)


# --------------------------------------------------------------------------- the loop


def read_state(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def write_state(path: str, etag: str) -> None:
    """Replace the state file with `etag`, atomically and durably."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".etag-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(etag + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def held_seq(etag: str | None) -> int:
    """The SEQ of an ETag `W/"EPOCH.SEQ"` (0 when there is none)."""
    m = re.search(r"\.(\d+)\"?$", etag or "")
    return int(m.group(1)) if m else 0


def parse(body: bytes) -> tuple[str | None, list[dict]]:
    """The page's sync mode and its entries, in order: {action, id, title}."""
    root = ET.fromstring(body)
    mode = root.findtext(".//sync:syncMode", namespaces=NS)
    entries = []
    if root.tag == "rss":
        for item in root.iterfind("channel/item"):
            entries.append({
                "action": item.findtext("ibmwcm:action", namespaces=NS),
                "id": item.findtext("guid"),
                "title": item.findtext("title"),
            })
    else:  # Atom: entries and tombstones, in feed order
        for el in root:
            if el.tag == f"{{{NS['atom']}}}entry":
                entries.append({
                    "action": el.findtext("ibmwcm:action", namespaces=NS),
                    "id": el.findtext("atom:id", namespaces=NS),
                    "title": el.findtext("atom:title", namespaces=NS),
                })
            elif el.tag == f"{{{NS['at']}}}deleted-entry":
                entries.append({"action": "delete", "id": el.get("ref"), "title": None})
    return mode, entries


def get(url: str, etag: str | None):
    """(status, headers, body) of one GET; never raises on an HTTP status."""
    headers = {"If-None-Match": etag} if etag else {}
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:  # urllib raises for 304 and every 4xx/5xx
        with e:
            return e.code, e.headers, e.read()


def run(feed: str, state: str, interval: float, once: bool) -> int:
    url = feed  # the feed, or the `next` link of the page just processed
    while not stop.is_set():
        etag = read_state(state)
        try:
            # A `next` link carries the position in its query: no header needed (and none a
            # cache would have to pass on).
            status, headers, body = get(url, etag if url == feed else None)
        except OSError as e:
            status, headers, body = None, {}, str(e).encode()
        if status == 200:
            mode, entries = parse(body)
            if mode == "catchUp" and held_seq(etag) > 0:
                reset()
            for entry in entries:
                process(entry)
            sys.stdout.flush()
            write_state(state, headers["ETag"])  # only now: the page is processed
            nexts = [m.group(1) for v in headers.get_all("Link") or [] for m in NEXT_RE.finditer(v)]
            if nexts:
                url = nexts[0]
                continue
            url = feed
            if once:
                return 0
        elif status == 304:
            url = feed
            if once:
                return 0
        else:
            print(f"poll of {url} failed: {status or ''} {body[:300].decode('utf-8', 'replace')}",
                  file=sys.stderr, flush=True)
            if once:
                return 1
            url = feed  # start again from the stored ETag
            retry = headers.get("Retry-After") if headers else None
            if retry and retry.isdigit():
                stop.wait(int(retry))
                continue
        stop.wait(interval)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("feed", help="the feed URL, e.g. http://127.0.0.1:8080/feeds/news")
    p.add_argument("--state", default="feed.etag", help="file that keeps the ETag (default: feed.etag)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between polls at the head (default 5)")
    p.add_argument("--once", action="store_true", help="exit once caught up (a 304, or a page without next)")
    args = p.parse_args()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return run(args.feed, args.state, args.interval, args.once)


if __name__ == "__main__":
    sys.exit(main())
