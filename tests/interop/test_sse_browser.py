"""A real browser's EventSource on feedgate's server-sent events, across a dropped connection.

Debian's chromium, driven by playwright-core (`browser/sse.mjs`, talked to over JSON lines),
reads `GET /feeds/news?access_token=…` with its own `EventSource`, through a `CutProxy`
(cutproxy.py) between it and feedgate. The test cuts the stream's connection and holds the
browser's reconnect while the producer writes more; once released, the browser must resume by
itself with `Last-Event-ID`, and the page must have seen every transaction exactly once, in seq
order, each with its id (`EPOCH.SEQ`), type (the action) and data (the item's JSON as
`GET /feeds/news/items/{id}` showed it right after the write). Credentials are configured, so
the stream is authorised by `access_token` alone, as a browser's EventSource can send no header.

Without node, `browser/node_modules` (`npm ci --prefix tests/interop/browser`) or
/usr/bin/chromium the tests are skipped, except in CI (CI=true), where they fail: `.ci/run`
installs all three.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import urllib.parse

import pytest

from browserdriver import BrowserDriver, require_browser
from cutproxy import CutProxy
from fgclient import Producer, check_write_ack, payload_for, request, split_etag

WAIT_TIMEOUT = 15.0  # the page receiving what the test expects

READER_TOKEN = secrets.token_urlsafe(18)
WRITER_TOKEN = secrets.token_urlsafe(18)


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


SSE_CONFIG = {
    "sse_retry": "500ms",
    "sse_heartbeat": "1s",  # comment lines between events all along
    "sse_lifetime": "5m",  # longer than a test: every reconnect seen is one the test caused
    "credentials": {
        "reader": {"token_sha256": sha256_hex(READER_TOKEN), "roles": {"news": "read"}},
        "writer": {"token_sha256": sha256_hex(WRITER_TOKEN), "roles": {"news": "write"}},
    },
}


# --------------------------------------------------------------------------- the browser


class SseDriver(BrowserDriver):
    """`node browser/sse.mjs`: one chromium with one page that reads a stream."""

    def __init__(self):
        super().__init__("sse.mjs")

    def open(self, origin: str, stream: str) -> None:
        self.call("open", origin=origin, stream=stream)

    def state(self) -> dict:
        return self.call("state")

    def wait(self, what: str, done, timeout: float = WAIT_TIMEOUT) -> dict:
        """The page's state once `done(state)` holds; AssertionError with the state if not in
        time, or at once if the EventSource is closed for good without `done` holding."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if done(state):
                return state
            if state["readyState"] == 2:  # CLOSED: this EventSource will not connect again
                raise AssertionError(f"{what}: the EventSource gave up; the page has {describe(state)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout}s; the page has {describe(state)}")
            time.sleep(0.1)


def describe(state: dict) -> str:
    events = "\n  ".join(f"{e['type']} id={e['lastEventId']!r} data={e['data']}" for e in state["events"])
    console = "\n  ".join(state["console"])
    return (f"readyState {state['readyState']}, {len(state['opens'])} open(s), errors {state['errors']}, "
            f"{len(state['events'])} event(s):\n  {events}\nconsole:\n  {console}")


@pytest.fixture
def browser():
    require_browser()
    driver = SseDriver()
    yield driver
    driver.quit()


@pytest.fixture
def proxied(feedgate_factory):
    """feedgate with credentials and the SSE settings above, and a CutProxy in front of it."""
    server = feedgate_factory(extra=SSE_CONFIG)
    proxy = CutProxy(server.base)
    yield server, proxy
    proxy.close()


# --------------------------------------------------------------------------- the producer


class WriterProducer(Producer):
    """The push API authorised by the writer's `access_token`, and the transactions it made:
    `expected` holds, per transaction, the event the stream must carry for it."""

    def __init__(self, base: str, feed: str):
        super().__init__(base, feed)
        self.expected: list[dict] = []

    def item_url(self, item_id: str) -> str:
        return super().item_url(item_id) + "?access_token=" + urllib.parse.quote(WRITER_TOKEN)

    def write(self, item_id: str, title: str) -> None:
        """PUT the item; an add or update is a transaction, whose data is the item's JSON now."""
        resp = self.put(item_id, payload_for(item_id, title))
        assert resp.status in (200, 201), resp
        ack = check_write_ack(resp, "add" if resp.status == 201 else "update")
        item = self.get(item_id)
        assert item.status == 200, item
        self._expect(ack, item_id, item.json())

    def erase(self, item_id: str) -> None:
        self._expect(self.remove(item_id), item_id, None)

    def _expect(self, ack: dict, item_id: str, data: dict | None) -> None:
        epoch, seq = split_etag(ack["etag"])
        self.expected.append({"id": f"{epoch}.{seq}", "seq": seq, "type": ack["action"], "item": item_id,
                              "data": data})

    @property
    def expected_ids(self) -> list[str]:
        return [e["id"] for e in self.expected]


def received_all(producer: WriterProducer):
    """A predicate on the page's state: it has at least as many events as there are transactions
    so far, or already holds the last one."""
    def done(state: dict) -> bool:
        ids = [e["lastEventId"] for e in state["events"]]
        return len(ids) >= len(producer.expected) or producer.expected_ids[-1] in ids
    return done


def check_events(state: dict, producer: WriterProducer) -> None:
    """Every transaction exactly once, in order, with its id, type and data; nothing else."""
    got = [e["lastEventId"] for e in state["events"]]
    want = producer.expected_ids
    assert got == want, (f"event ids differ from the transactions' positions\n  got:  {got}\n  want: {want}\n"
                         f"the page has {describe(state)}")
    seqs = [e["seq"] for e in producer.expected]
    assert seqs == list(range(1, len(seqs) + 1)), f"the producer's acks are not seqs 1..n: {seqs}"
    for event, exp in zip(state["events"], producer.expected):
        assert event["type"] == exp["type"], (event, exp)
        data = json.loads(event["data"])
        if exp["data"] is None:  # a delete: no current JSON to compare with, but it names the item
            assert isinstance(data, dict) and data.get("id") == exp["item"], (event, exp)
        else:
            assert data == exp["data"], (event, exp)


# --------------------------------------------------------------------------- tests


def test_eventsource_resumes_after_the_connection_is_cut(browser, proxied):
    server, proxy = proxied
    producer = WriterProducer(server.base, "news")
    stream = "/feeds/news?access_token=" + urllib.parse.quote(READER_TOKEN)

    # A backlog before the browser connects: no cursor, so the stream starts with the whole log.
    producer.write("a1", "First")
    producer.write("a2", "Zürich — 東京 \u2028 «quoted» \"and\" <b>escaped</b>")
    producer.write("a3", "Third")
    producer.write("a1", "First, revised")
    producer.unchanged("a2", producer.model["a2"])  # no transaction, so no event
    producer.erase("a3")

    browser.open(proxy.base, stream)
    state = browser.wait("the backlog", received_all(producer))
    check_events(state, producer)
    assert state["readyState"] == 1, describe(state)  # OPEN

    # Live events on the same connection.
    producer.write("b1", "Live one")
    producer.write("b2", "Live two")
    producer.write("b1", "Live one, revised")
    state = browser.wait("the live events", received_all(producer))
    check_events(state, producer)
    [first] = proxy.wait_for_requests(1, 0)
    assert first.target == stream and first.header("last-event-id") is None, first
    last_seen = state["events"][-1]["lastEventId"]

    # The stream's connection ends; the browser's reconnect is held while the producer writes.
    proxy.hold()
    assert proxy.cut() >= 2, "the stream's connection was not open at the proxy"
    second = proxy.wait_for_requests(2, WAIT_TIMEOUT)[1]
    assert second.held, second
    assert second.method == "GET" and second.target == stream, second
    assert second.header("last-event-id") == last_seen, second
    assert "text/event-stream" in (second.header("accept") or ""), second
    producer.write("c1", "Written while away")
    producer.write("c2", "Also written while away")
    producer.erase("a1")
    producer.write("a2", "Second, revised while away")
    proxy.release()
    state = browser.wait("the events written while the browser was away", received_all(producer))
    check_events(state, producer)
    assert state["readyState"] == 1, describe(state)
    assert len(state["opens"]) == 2 and len(state["errors"]) == 1, describe(state)
    assert state["errors"][0]["readyState"] == 0, describe(state)  # CONNECTING: it retried

    # Live again, on the resumed connection.
    producer.write("d1", "Live after the reconnect")
    producer.erase("b2")
    producer.write("d1", "Live after the reconnect, revised")
    state = browser.wait("the live events after the reconnect", received_all(producer))
    check_events(state, producer)

    requests = proxy.wait_for_requests(2, 0)
    assert len(requests) == 2, f"the browser reconnected more than once: {requests}"
    # The feed holds nothing after the last event: a 304 at that position.
    head = request("GET", server.url("/feeds/news?access_token=" + urllib.parse.quote(READER_TOKEN)),
                   headers={"If-None-Match": f'"{producer.expected_ids[-1]}"'})
    assert head.status == 304, head
    assert split_etag(head.header("ETag")) == split_etag(producer.expected_ids[-1]), head
    print(f"{browser.version}: {len(state['events'])} events, ids {producer.expected_ids[0]}"
          f"..{producer.expected_ids[-1]}, reconnected with Last-Event-ID {last_seen}")


def test_eventsource_with_a_wrong_access_token_fails_without_retrying(browser, proxied):
    server, proxy = proxied
    producer = WriterProducer(server.base, "news")
    producer.write("a1", "First")
    wrong = "/feeds/news?access_token=" + urllib.parse.quote(secrets.token_urlsafe(18))
    answer = request("GET", server.url(wrong), headers={"Accept": "text/event-stream"})
    assert answer.status == 401, answer

    browser.open(proxy.base, wrong)
    state = browser.wait("the EventSource to fail", lambda s: s["readyState"] == 2)  # CLOSED
    assert state["events"] == [] and state["opens"] == [] and len(state["errors"]) == 1, describe(state)
    requests = proxy.wait_for_requests(1, 0)
    assert len(requests) == 1 and requests[0].target == wrong, requests
