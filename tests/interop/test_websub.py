"""feedgate's WebSub hub (W3C Recommendation) driven by an independently written subscriber.

The subscriber is Flask-WebSub 0.4.1 (PyPI `Flask-WebSub`, ISC licence, by Marten de Vries,
github.com/marten-de-vries/Flask-WebSub; last release July 2025). It was picked over the other
WebSub/PubSubHubbub clients on PyPI (`websub` 0.1.3 of 2019, `websubsub` (Django) 0.9.3 of
2020, `django-push` 1.1 of 2018, `asgi-websub` 0.0.1) because it is the only one still
released, runs on Python 3.11 with current Flask, and does the subscriber's whole part of the
Recommendation itself:
  - discovery (§4): `discover(url)` reads `Link: rel="hub"` / `rel="self"` headers, then
    `<link>` / `<atom:link>` elements of the body;
  - the subscription request (§5.1): form-encoded `hub.callback`, `hub.mode`, `hub.topic`,
    `hub.lease_seconds`, `hub.secret`, and it insists on `202 Accepted`;
  - verification of intent (§5.3): its callback answers the hub's GET only when `hub.mode`
    and `hub.topic` match the pending request and, for `subscribe`, `hub.lease_seconds` is a
    positive integer, echoing `hub.challenge` with a 200;
  - authenticated content distribution (§7, §8): it checks `X-Hub-Signature: ALGO=HEX`
    (HMAC of the body with the subscription's secret) and hands only valid deliveries to
    its listeners; a POST to a callback it does not (or no longer) hold answers 404.

What the test does NOT take from the library as is: Flask-WebSub refuses to send `hub.secret`
to a hub URL that is not `https://` (the Recommendation's "SHOULD only be specified when the
request was made over HTTPS"). feedgate here is plain HTTP on loopback, so the signed test
widens the library's own `is_secure()` to `http://127.0.0.1:` URLs (monkeypatched, nothing
else of the library changes; that also skips its https-first probe of the hub URL). The
unsigned Atom test runs the library unmodified, https probe of the hub included.

The library's subscriber runs as a Flask app under werkzeug's threaded server on a loopback
port chosen before feedgate starts, so `[websub] allow` names exactly that origin. A WSGI
recorder in front of the app keeps every request the hub made (method, path, query, headers,
body) and what the library answered, for the assertions and for the failure messages.

One flow, run for an RSS topic with a secret and for an Atom topic without one:
  1. items written before the subscription (they must not be delivered: new subscribers get
     the transactions written after verification);
  2. discovery from the feed URL (headers, and the body's links too);
  3. a second library subscriber whose origin is NOT allowed: the hub refuses it with 403
     problem+json `callback_not_allowed` (the library raises) and never contacts it;
  4. the library subscribes two callbacks (the one under test and a witness) and waits for
     the hub's verification; the consumers report lists both;
  5. items written one by one and in a batch; every delivery the library accepted is parsed
     with feedparser (and expat): every written item arrives, in seq order, none lost
     (re-deliveries allowed: at-least-once); Content-Type, Link (hub, self) and the signature
     are checked independently too; the consumers report's lag drops to 0;
  6. (signed) replays of a real delivery through the library: tampered body, a signature made
     with the wrong secret and no signature are all dropped by the library; the untouched one
     is accepted;
  7. the library renews the witness (verified again, listed once, position kept), then
     unsubscribes the callback under test and waits for the hub's verification;
     items written after that reach the witness but never the unsubscribed callback, and the
     consumers report no longer lists it.
Every wait is a bounded poll.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import os
import re
import threading
import time
import urllib.parse

import feedparser
import pytest

if os.environ.get("CI"):
    # CI installs tests/interop/requirements.txt: a missing library is a failure there.
    import flask
    import flask_websub.subscriber as flask_websub_subscriber
else:
    flask = pytest.importorskip("flask")
    flask_websub_subscriber = pytest.importorskip("flask_websub.subscriber")
from flask_websub.errors import SubscriberError  # noqa: E402
from flask_websub.subscriber import (  # noqa: E402
    SQLite3SubscriberStorage,
    SQLite3TempSubscriberStorage,
    Subscriber,
    discover,
)
from flask_websub.subscriber.discovery import Finished, LinkParser  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402
from werkzeug.wsgi import get_input_stream  # noqa: E402

from fgclient import assert_problem, parse_feed, payload_for, request  # noqa: E402

WAIT = 10.0  # every bounded wait
SECRET = "feedgate-interop-secret-7f3a"
WITNESS_SECRET = "witness-secret-b21c"
WEBSUB = {"retry_min": "100ms", "retry_max": "2s", "lease": "10d"}
PENDING = {"pending", "verifying", "unverified", "requested"}  # names a report might give unverified ones
SHOWN_HEADERS = {"Content-Type", "Content-Length", "Transfer-Encoding", "Link", "X-Hub-Signature"}
MEDIA = {"rss": "application/rss+xml", "atom": "application/atom+xml"}


# --------------------------------------------------------------------------- the library's side


class Recorder:
    """WSGI middleware: keeps each request the hub made and the library's answer."""

    def __init__(self, app):
        self.app = app
        self.exchanges: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        # Content-Length or chunked (werkzeug marks a dechunked input terminated); never read to EOF.
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        for k in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(k):
                headers[k.replace("_", "-").title()] = environ[k]
        ex = {
            "t": time.monotonic(),
            "method": environ["REQUEST_METHOD"],
            "path": environ.get("PATH_INFO", ""),
            "query": dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)),
            "headers": headers,
            "body": body,
            "status": None,
            "response": b"",
        }

        def recording_start_response(status, response_headers, exc_info=None):
            ex["status"] = int(status.split()[0])
            return start_response(status, response_headers, exc_info)

        chunks = []
        try:
            for chunk in self.app(environ, recording_start_response):
                chunks.append(chunk)
        finally:
            ex["response"] = b"".join(chunks)
            ex["done"] = time.monotonic()
            with self.lock:
                self.exchanges.append(ex)
        return chunks

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.exchanges)

    def summary(self, last: int = 30) -> str:
        lines = []
        for ex in self.snapshot()[-last:]:
            q = "&".join(f"{k}={v}" for k, v in ex["query"].items())
            shown = {k: v for k, v in ex["headers"].items() if k in SHOWN_HEADERS}
            lines.append(
                f"  {ex['method']} {ex['path']}{'?' + q if q else ''} -> {ex['status']} "
                f"{shown} body[:200]={ex['body'][:200]!r} answer[:200]={ex['response'][:200]!r}"
            )
        return "\n".join(lines) or "  (no request reached the subscriber)"


class LibrarySubscriber:
    """Flask-WebSub's Subscriber in a Flask app served by werkzeug on a loopback port."""

    def __init__(self, tmp_path, name: str):
        self.app = flask.Flask(f"websub-interop-{name}")
        self.recorder = Recorder(self.app)
        self.server = make_server("127.0.0.1", 0, self.recorder, threaded=True)
        self.port = self.server.server_port
        self.origin = f"http://127.0.0.1:{self.port}"
        self.app.config.update(SERVER_NAME=f"127.0.0.1:{self.port}", PREFERRED_URL_SCHEME="http",
                               AUTO_SET_SECRET=False)
        self.subscriber = Subscriber(
            SQLite3SubscriberStorage(str(tmp_path / f"{name}-subscriptions.sqlite")),
            SQLite3TempSubscriberStorage(str(tmp_path / f"{name}-requests.sqlite")),
            REQUEST_TIMEOUT=5,
        )
        self.app.register_blueprint(self.subscriber.build_blueprint(url_prefix="/callbacks"))
        self.cond = threading.Condition()
        self.notifications: list[dict] = []  # deliveries the library accepted (signature checked)
        self.successes: list[tuple[str, str, str]] = []  # (topic, callback_id, mode)
        self.errors: list[tuple[str, str, str]] = []  # (topic, callback_id, reason)
        self.subscriber.add_listener(self._on_notification)
        self.subscriber.add_success_handler(self._on_success)
        self.subscriber.add_error_handler(self._on_error)
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"websub-{name}", daemon=True)

    # Handlers run inside the library's request handling (Flask request context).
    def _on_notification(self, topic_url, callback_id, body):
        hdrs = flask.request.headers
        with self.cond:
            self.notifications.append({
                "t": time.monotonic(),
                "topic": topic_url,
                "callback_id": callback_id,
                "body": body,
                "content_type": hdrs.get("Content-Type"),
                "link": ", ".join(hdrs.getlist("Link")),
                "signature": hdrs.get("X-Hub-Signature"),
                "replay": hdrs.get("X-Interop-Replay"),
            })
            self.cond.notify_all()

    def _on_success(self, topic_url, callback_id, mode):
        with self.cond:
            self.successes.append((topic_url, callback_id, mode))
            self.cond.notify_all()

    def _on_error(self, topic_url, callback_id, reason):
        with self.cond:
            self.errors.append((topic_url, callback_id, reason))
            self.cond.notify_all()

    def start(self) -> "LibrarySubscriber":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)

    def subscribe(self, **request_args) -> str:
        with self.app.app_context():
            return self.subscriber.subscribe(**request_args)

    def renew(self, callback_id: str) -> None:
        with self.app.app_context():
            self.subscriber.renew(callback_id)

    def unsubscribe(self, callback_id: str) -> None:
        with self.app.app_context():
            self.subscriber.unsubscribe(callback_id)

    def callback_url(self, callback_id: str) -> str:
        return f"{self.origin}/callbacks/{callback_id}"

    def wait_for(self, predicate, what: str, fg=None, timeout: float = WAIT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                result = predicate()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.1))
        raise AssertionError(
            f"within {timeout}s: {what}\nrequests that reached the subscriber:\n{self.recorder.summary()}"
            f"\nlibrary successes={self.successes} errors={self.errors}"
            + (f"\n--- feedgate log ---\n{fg.log_text()}" if fg is not None else "")
        )

    def verified(self, callback_id: str, mode: str, fg=None):
        self.wait_for(lambda: any(c == callback_id and m == mode for _, c, m in self.successes),
                      f"the hub's {mode} verification of {self.callback_url(callback_id)} accepted by the library",
                      fg)
        # The library's callback answered the verification GET with the challenge. The
        # recorder logs an exchange once its answer is written, which can come after the
        # library's success callback: wait for it too.
        gets = lambda: [ex for ex in self.recorder.snapshot() if ex["method"] == "GET"
                        and ex["path"] == f"/callbacks/{callback_id}"
                        and ex["query"].get("hub.mode") == mode]
        return self.wait_for(gets, f"the recorder's log of that verification", fg)[-1]

    def accepted(self, callback_id: str, replay: bool = False) -> list[dict]:
        with self.cond:
            return [n for n in self.notifications if n["callback_id"] == callback_id and bool(n["replay"]) == replay]

    def posts(self, callback_id: str) -> list[dict]:
        return [ex for ex in self.recorder.snapshot()
                if ex["method"] == "POST" and ex["path"] == f"/callbacks/{callback_id}"]


@pytest.fixture
def library_subscribers(tmp_path):
    """Start Flask-WebSub subscribers; requested before feedgate_factory, so they outlive it."""
    started: list[LibrarySubscriber] = []

    def start(name: str) -> LibrarySubscriber:
        sub = LibrarySubscriber(tmp_path, name).start()
        started.append(sub)
        return sub

    yield start
    for sub in started:
        sub.stop()


def secure_loopback(monkeypatch) -> None:
    """Let Flask-WebSub send `hub.secret` to the loopback hub (see the module docstring)."""
    original = flask_websub_subscriber.is_secure
    monkeypatch.setattr(flask_websub_subscriber, "is_secure",
                        lambda url: original(url) or url.startswith("http://127.0.0.1:"))


# --------------------------------------------------------------------------- hub-side helpers


def link_targets(value: str | None) -> dict[str, str]:
    """rel -> target of a Link header value (each rel token of a link)."""
    out = {}
    for m in re.finditer(r"<([^>]*)>((?:\s*;\s*[^,;]+)*)", value or ""):
        rel = re.search(r';\s*rel\s*=\s*"?([^";]*)"?', m.group(2))
        if rel:
            for token in rel.group(1).split():
                out.setdefault(token.lower(), m.group(1))
    return out


def body_links(body: bytes) -> dict:
    """The library's own body scanner (what discover() reads after the headers)."""
    parser = LinkParser()
    parser.hub_url = parser.topic_url = None
    with contextlib.suppress(Finished):
        parser.feed(body.decode("utf-8"))
        parser.close()
    return {"hub_url": parser.hub_url, "topic_url": parser.topic_url}


def pending(subscriber: dict) -> bool:
    state = subscriber.get("state")
    return isinstance(state, str) and state.lower() in PENDING


def subscribers_of(fg, feed: str) -> list[dict]:
    resp = request("GET", fg.url(f"/feeds/{feed}/consumers"))
    assert resp.status == 200, resp
    report = resp.json()
    assert "subscribers" in report, f"consumers report without 'subscribers': {report}"
    return report["subscribers"]


def wait_report(fg, feed: str, predicate, what: str, timeout: float = WAIT) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        subs = subscribers_of(fg, feed)
        if predicate(subs):
            return subs
        if time.monotonic() > deadline:
            raise AssertionError(f"within {timeout}s: {what}; subscribers: {json.dumps(subs, indent=1)}")
        time.sleep(0.1)


def delivered_entries(sub: LibrarySubscriber, callback_id: str, fmt: str, topic: str, hub: str,
                      secret: str | None) -> list[tuple[int, str, str]]:
    """(seq, id, action) of every entry of every delivery the library accepted, in arrival
    order, each delivery checked with feedparser and expat and against its headers."""
    out = []
    for n in sub.accepted(callback_id):
        body = n["body"]
        ctype = (n["content_type"] or "").split(";")[0].strip().lower()
        assert ctype == MEDIA[fmt], (n["content_type"], body[:300])
        links = link_targets(n["link"])
        assert links.get("hub") == hub and links.get("self") == topic, n["link"]
        if secret is not None:
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            assert n["signature"] == expected, (n["signature"], expected)
        d = feedparser.parse(body)
        assert not d.bozo, f"feedparser flagged a delivery: {d.get('bozo_exception')!r}\n{body[:500]!r}"
        assert d.version == {"rss": "rss20", "atom": "atom10"}[fmt], d.version
        doc = parse_feed(body)  # strict
        assert doc.format == fmt
        assert doc.entries, f"a delivery without entries: {body[:500]!r}"
        assert [e.id for e in doc.entries] == [e.id for e in d.entries], "feedparser and expat disagree"
        for fe, e in zip(d.entries, doc.entries):
            assert int(fe["sync_tick"]) == e.tick
            assert fe["ibmwcm_action"] == e.action
            out.append((e.tick, e.id, e.action))
    return out


def delivery_diagnosis(sub: LibrarySubscriber, callback_id: str, secret: str | None) -> str:
    """Why deliveries the hub made did not reach the library's listener."""
    posts, taken = sub.posts(callback_id), len(sub.accepted(callback_id))
    out = [f"the hub POSTed {len(posts)} deliveries to this callback, the library accepted {taken}; "
           f"its answers: {sorted({p['status'] for p in posts})}"]
    chunked = [p for p in posts if "Content-Length" not in p["headers"]]
    if chunked:
        out.append(f"{len(chunked)} came without Content-Length (Transfer-Encoding: "
                   f"{chunked[0]['headers'].get('Transfer-Encoding')}): Flask-WebSub compares "
                   "request.content_length with MAX_BODY_SIZE and fails (500) when there is none")
    if secret is not None:
        good = sum(p["headers"].get("X-Hub-Signature") ==
                   "sha256=" + hmac.new(secret.encode(), p["body"], hashlib.sha256).hexdigest() for p in posts)
        out.append(f"{good} of them carry X-Hub-Signature = sha256=HMAC-SHA256(secret, body); the library "
                   "answers 200 to, and drops, a delivery whose signature does not match")
    return "\n".join(out)


def first_occurrences(entries: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    seen, out = set(), []
    for entry in entries:
        if entry[0] not in seen:
            seen.add(entry[0])
            out.append(entry)
    return out


def entry_id(fmt: str, item_id: str) -> str:
    return item_id if fmt == "rss" else "urn:feedgate:" + urllib.parse.quote(item_id, safe="")


# --------------------------------------------------------------------------- the test


@pytest.mark.parametrize("fmt,signed", [("rss", True), ("atom", False)], ids=["rss-signed", "atom-unsigned"])
def test_flask_websub_subscriber(library_subscribers, feedgate_factory, monkeypatch, fmt, signed):
    if signed:
        secure_loopback(monkeypatch)
    sub = library_subscribers("sub")
    outsider = library_subscribers("outsider")  # its origin is not on the allow list
    fg = feedgate_factory(extra={"websub": {"allow": [sub.origin], **WEBSUB}})
    producer = fg.producer("news")
    hub = fg.url("/websub")
    topic = fg.url("/feeds/news" if fmt == "rss" else "/feeds/news.atom")
    secret = SECRET if signed else None
    witness_secret = WITNESS_SECRET if signed else None

    # 1. Written before anyone subscribes: never delivered to the new subscribers.
    for i in range(2):
        producer.add(f"{fmt}-before-{i}", payload_for(f"{fmt}-before-{i}", f"Before {i}"))

    # 2. Discovery by the library from the feed URL, and the body's links on their own.
    found = discover(topic, timeout=WAIT)
    assert found == {"hub_url": hub, "topic_url": topic}, found
    page = request_feed(topic)
    assert body_links(page.body) == {"hub_url": hub, "topic_url": topic}, page.body[:800]
    assert link_targets(", ".join(page.headers.get_all("Link") or [])).get("hub") == hub, page

    # 3. A callback outside `[websub] allow`: refused up front, never contacted.
    with pytest.raises(SubscriberError, match=r"Hub error - 403"):
        outsider.subscribe(**found, **({"secret": secret} if signed else {}))
    raw = request("POST", hub, headers={"Content-Type": "application/x-www-form-urlencoded"},
                  body=urllib.parse.urlencode({"hub.mode": "subscribe", "hub.topic": topic,
                                               "hub.callback": outsider.callback_url("raw")}).encode())
    assert_problem(raw, 403, "callback_not_allowed")

    # 4. The library subscribes the callback under test and a witness, lease asked for.
    cb = sub.subscribe(**found, lease_seconds=3600, **({"secret": secret} if signed else {}))
    witness = sub.subscribe(**found, **({"secret": witness_secret} if signed else {}))
    for callback_id in (cb, witness):
        get = sub.verified(callback_id, "subscribe", fg)
        assert get["status"] == 200 and get["response"] == get["query"]["hub.challenge"].encode(), get
        assert get["query"]["hub.topic"] == topic, get
        assert int(get["query"]["hub.lease_seconds"]) > 0, get
        if callback_id == cb:
            assert int(get["query"]["hub.lease_seconds"]) <= 3600, f"a longer lease than asked for: {get}"
        else:
            get_witness = get
    assert not sub.errors, sub.errors
    # The library's success handler runs before the hub has the verification's answer: writing
    # before the hub records the subscription as verified would race it, so wait for the report.
    subs = wait_report(fg, "news", lambda s: {sub.callback_url(cb), sub.callback_url(witness)}
                       <= {x.get("callback") for x in s if not pending(x)},
                       "both callbacks verified in the consumers report")
    for s in subs:
        for key in ("callback", "topic", "position", "lag_transactions", "state"):
            assert key in s, (key, s)
        if s["callback"] in (sub.callback_url(cb), sub.callback_url(witness)):
            assert s["topic"] == topic, s

    # 5. Items written one by one and in a batch reach the library, in order, none lost.
    written: list[tuple[int, str, str]] = []
    for i in range(5):
        ack = producer.add(f"{fmt}-item-{i}", payload_for(f"{fmt}-item-{i}", f"Item {i} & more"))
        written.append((ack["seq"], entry_id(fmt, f"{fmt}-item-{i}"), "add"))
    batch = [{"id": f"{fmt}-batch-{i}", **payload_for(f"{fmt}-batch-{i}", f"Batch {i}")} for i in range(4)]
    resp = producer.batch(batch)
    assert resp.status in (200, 201), resp
    acks = resp.json()["items"]  # PROTOCOL §5: per item, plus `etag` and `head`
    assert [a["id"] for a in acks] == [op["id"] for op in batch], resp
    for ack in acks:
        written.append((ack["seq"], entry_id(fmt, ack["id"]), "add"))
    for i in range(5, 8):
        ack = producer.add(f"{fmt}-item-{i}", payload_for(f"{fmt}-item-{i}", f"Item {i}"))
        written.append((ack["seq"], entry_id(fmt, f"{fmt}-item-{i}"), "add"))
    assert [w[0] for w in written] == sorted(w[0] for w in written), written
    want = {w[0] for w in written}

    before_ids = {entry_id(fmt, f"{fmt}-before-{i}") for i in range(2)}
    for callback_id, s in ((cb, secret), (witness, witness_secret)):
        def has_all():
            return want <= {e[0] for e in delivered_entries(sub, callback_id, fmt, topic, hub, s)}

        try:
            sub.wait_for(has_all, f"every written item delivered to {sub.callback_url(callback_id)}", fg)
        except AssertionError as e:
            raise AssertionError(f"{delivery_diagnosis(sub, callback_id, s)}\n{e}") from None
        got = delivered_entries(sub, callback_id, fmt, topic, hub, s)
        stale = {e[1] for e in got} & before_ids
        assert not stale, f"items written before the subscription were delivered: {stale}"
        assert first_occurrences(got) == written, f"delivered {got}\nwritten {written}"
        # Every POST the hub made was accepted by the library (signature verified when signed).
        posts = sub.posts(callback_id)
        assert all(p["status"] == 200 for p in posts), sub.recorder.summary()
        assert len(posts) == len(sub.accepted(callback_id)), (
            f"the library dropped {len(posts) - len(sub.accepted(callback_id))} of {len(posts)} deliveries "
            f"(bad or missing X-Hub-Signature?):\n{sub.recorder.summary()}")
    wait_report(fg, "news", lambda s: any(x["callback"] == sub.callback_url(cb) and x["lag_transactions"] == 0
                                          for x in s), "lag_transactions 0 once everything was delivered")

    # 6. The library itself rejects what the secret does not sign (replays of a real delivery).
    if signed:
        real = sub.accepted(cb)[0]
        client = sub.app.test_client()
        path = f"/callbacks/{cb}"
        base_headers = {"Content-Type": real["content_type"], "X-Interop-Replay": "1"}
        wrong = "sha256=" + hmac.new(b"not-the-secret", real["body"], hashlib.sha256).hexdigest()
        for body, signature, why in ((real["body"] + b" ", real["signature"], "tampered body"),
                                     (real["body"], wrong, "wrong secret"),
                                     (real["body"], None, "no signature")):
            headers = dict(base_headers, **({"X-Hub-Signature": signature} if signature else {}))
            answer = client.post(path, data=body, headers=headers)
            assert answer.status_code == 200, (why, answer.status_code)  # acknowledged, ignored (§8)
            assert not sub.accepted(cb, replay=True), f"the library accepted a delivery with {why}"
        answer = client.post(path, data=real["body"], headers=dict(base_headers, **{"X-Hub-Signature": real["signature"]}))
        assert answer.status_code == 200 and len(sub.accepted(cb, replay=True)) == 1, "a genuine replay was refused"

    # The library renews the witness (a second subscribe of the same callback): verified again,
    # still one subscription, and its position kept (checked by its deliveries below).
    verified_before = len(sub.successes)
    sub.renew(witness)
    sub.wait_for(lambda: len(sub.successes) > verified_before and sub.successes[-1][1:] == (witness, "subscribe"),
                 "the hub's verification of the witness's renewal accepted by the library", fg)
    renewal = sub.verified(witness, "subscribe")
    assert renewal["query"]["hub.challenge"] != get_witness["query"]["hub.challenge"], "a challenge used twice"
    wait_report(fg, "news", lambda s: [x["callback"] for x in s].count(sub.callback_url(witness)) == 1
                and all(not pending(x) for x in s), "the renewed witness listed once")

    # 7. Unsubscribe through the library: verified, then nothing more for that callback.
    sub.unsubscribe(cb)
    unsub_get = sub.verified(cb, "unsubscribe", fg)
    assert unsub_get["status"] == 200 and unsub_get["response"] == unsub_get["query"]["hub.challenge"].encode()
    assert unsub_get["query"]["hub.topic"] == topic, unsub_get
    cut = unsub_get["done"]
    wait_report(fg, "news", lambda s: sub.callback_url(cb) not in {x.get("callback") for x in s}
                and sub.callback_url(witness) in {x.get("callback") for x in s},
                "the unsubscribed callback gone from the consumers report, the witness still there")
    later = []
    for i in range(3):
        ack = producer.add(f"{fmt}-after-{i}", payload_for(f"{fmt}-after-{i}", f"After {i}"))
        later.append((ack["seq"], entry_id(fmt, f"{fmt}-after-{i}"), "add"))
    want_later = {w[0] for w in later}
    sub.wait_for(lambda: want_later <= {e[0] for e in delivered_entries(sub, witness, fmt, topic, hub, witness_secret)},
                 "the witness received the items written after the unsubscription", fg)
    assert first_occurrences(delivered_entries(sub, witness, fmt, topic, hub, witness_secret)) == written + later
    # The witness's deliveries are the barrier; the hub delivers to each subscription on its own,
    # so keep watching the old callback for a while (ten retry floors) after that.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        stray = [p for p in sub.posts(cb) if p["t"] > cut]
        assert not stray, f"the hub delivered to an unsubscribed callback:\n{sub.recorder.summary()}"
        time.sleep(0.05)

    # The outsider was never contacted, in all that time.
    assert not outsider.recorder.snapshot(), outsider.recorder.summary()



def request_feed(url: str):
    resp = request("GET", url)
    assert resp.status == 200, resp
    return resp
