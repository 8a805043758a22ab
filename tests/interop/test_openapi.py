"""The OpenAPI description, `docs/openapi.json`, against the release binary.

- openapi-spec-validator: the file is a valid OpenAPI 3.1 document, and `GET /openapi.json`
  serves exactly its bytes (the binary includes the file when it is built).
- schemathesis (its CLI, run as a subprocess: offline, one process per run) fuzzes every
  operation of the document against a gateway with two push feeds (one with `im_feed`) and an
  upstream feed, without and with credentials: the examples, coverage (boundary and invalid
  values, unexpected methods), fuzzing and stateful phases (the document's `links`: PUT an
  item, then GET and DELETE it), with every built-in check but `positive_data_acceptance` (see
  `CHECKS`), and `problem_details` below: every 4xx/5xx is `application/problem+json` with a
  `code`. This file is also the run's hooks module, which registers that check. A run is about
  2,800 requests in 40 s on the 2-core CI machine.
- Answers that generation rarely reaches (an event stream, a 226, a long-poll, 413, …) are
  asked for one by one and validated with schemathesis's checks too.

Nothing can make a run hang: the gateway runs with `max_wait = 1s` (a long-poll, whatever
`wait` it asks for, waits at most that) and `sse_lifetime = 1s` (an event stream ends then),
and every request has a timeout. `FEEDGATE_FUZZ_EXAMPLES` (default 100 per operation and phase)
and `FEEDGATE_FUZZ_SEED` tune a run; the seed of each run is printed, to replay a failure.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import pathlib
import secrets
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
import schemathesis

REPO = pathlib.Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "openapi.json"
HERE = pathlib.Path(__file__).resolve()

EXAMPLES = int(os.environ.get("FEEDGATE_FUZZ_EXAMPLES", "100"))
# The bound of one run, far above what it takes (see above).
RUN_TIMEOUT = 600
# Any answer slower than this is a failure (a long-poll waits at most `max_wait`, 1 s here).
MAX_RESPONSE_TIME = 5

# Every built-in check but `positive_data_acceptance`: the document cannot say everything a
# valid request needs, so a schema-valid request may rightly be refused: ids and the hub's
# secret are limited in bytes (JSON Schema's maxLength counts characters), a PUT body's `id`
# must equal the path's, a batch may delete only items that exist, a topic must name a feed.
CHECKS = ["all"]
EXCLUDED_CHECKS = ["positive_data_acceptance"]

PUSH_FEEDS = {
    "news": {"title": "News", "link": "https://example.org/news", "description": "Company news"},
    # A-IM: feed gets 226 IM Used here.
    "other": {"title": "Other", "link": "https://example.org/other", "description": "Another feed",
              "im_feed": True},
}
NAMES = [*PUSH_FEEDS, "mirror"]  # `mirror`: an upstream feed (read-only), from `origin`


def feeds(origin_port: int) -> dict:
    mirror = {"title": "Mirror", "upstream": {
        "url": f"http://127.0.0.1:{origin_port}/items.json", "format": "json", "refresh": "1s"}}
    return {**PUSH_FEEDS, "mirror": mirror}


# Callbacks may only be at a loopback port nothing listens on: a subscription the fuzzer gets
# accepted fails its verification at once, and nothing leaves the machine.
SETTINGS = {
    "max_wait": "1s",
    "sse_lifetime": "1s",
    "sse_heartbeat": "1s",
    "max_body_bytes": 65536,
    "websub": {"allow": ["http://127.0.0.1:9"]},
}
ADMIN_TOKEN = secrets.token_urlsafe(18)
READER_TOKEN = secrets.token_urlsafe(18)
CREDENTIALS = {
    "credentials": {
        "ops": {
            "token_sha256": hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest(),
            "roles": {name: "admin" for name in NAMES},
        },
        "reader": {
            "token_sha256": hashlib.sha256(READER_TOKEN.encode()).hexdigest(),
            "roles": {"news": "read"},
        },
    },
}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def origin():
    """The upstream feed's JSON origin, on loopback: two items."""
    body = json.dumps([{"id": "u-1", "title": "From upstream"}, {"id": "u-2", "title": "And more"}]).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


# --------------------------------------------------------------------------- the custom check


@schemathesis.check
def problem_details(ctx, response, case):
    """Every 4xx/5xx answer is `application/problem+json` (RFC 9457) with a `code` (PROTOCOL §7)."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type") or [""]
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type != "application/problem+json":
        raise AssertionError(
            f"a {response.status_code} answer is {content_type!r}, not application/problem+json")
    if case.method.upper() == "HEAD":
        return None  # no body
    try:
        problem = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"a {response.status_code} problem document is not JSON: {e}") from None
    for member, kind in (("type", str), ("title", str), ("status", int), ("detail", str), ("code", str)):
        if not isinstance(problem.get(member), kind):
            raise AssertionError(f"a problem document without a {kind.__name__} {member!r}: {problem!r}")
    if problem["status"] != response.status_code:
        raise AssertionError(f"a {response.status_code} answer says status {problem['status']}")
    return None


# --------------------------------------------------------------------------- the document


def test_the_document_is_valid_openapi_3_1():
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    doc, _ = read_from_filename(str(DOC))
    validate(doc)
    assert doc["openapi"].startswith("3.1.")
    # Kept formatted: 2-space indented JSON with a final newline.
    text = DOC.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def test_the_served_document_is_the_file(feedgate_factory, origin):
    from openapi_spec_validator import validate

    for extra in (SETTINGS, {**SETTINGS, **CREDENTIALS}):
        server = feedgate_factory(feeds=feeds(origin), extra=extra)
        # Open to everyone, with credentials configured too.
        with urllib.request.urlopen(server.url("/openapi.json"), timeout=10) as resp:
            body = resp.read()
            assert resp.status == 200
            assert header(resp, "content-type") == "application/json"
            assert header(resp, "cache-control") == "public, max-age=60"
        assert body == DOC.read_bytes()
        validate(json.loads(body))


# --------------------------------------------------------------------------- the fuzzer


def schemathesis_config(path: pathlib.Path) -> pathlib.Path:
    """The run's configuration: this file as hooks module, and the feeds that exist as the values
    of most `feed` parameters (the rest are generated, and get their 404s)."""
    path.write_text(
        f"hooks = {json.dumps(str(HERE))}\n"
        "max-stream-events = 3\n"
        "\n"
        "[dictionaries.feeds]\n"
        f"values = {json.dumps(NAMES)}\n"
        "[dictionaries.documents]\n"
        f"values = {json.dumps([n + s for n in NAMES for s in ('', '.atom', '.rss')])}\n"
        "[dictionaries.items]\n"
        'values = ["seeded-1", "seeded-2"]\n'
        "\n"
        "[parameters]\n"
        '"path.feed" = { dictionary = "feeds", probability = 0.8 }\n'
        '"path.id" = { dictionary = "items", probability = 0.3 }\n'
        "\n"
        "[[operations]]\n"
        'include-path = "/feeds/{feed}"\n'
        'parameters = { "path.feed" = { dictionary = "documents", probability = 0.8 } }\n'
    )
    return path


def seed(server, headers: dict) -> None:
    """Items in the push feeds, a second ago: catch-ups then have pages (not 304s to wait on)."""
    for feed in PUSH_FEEDS:
        body = json.dumps([{"id": f"seeded-{i}", "title": f"Seeded {i}"} for i in (1, 2)]).encode()
        req = urllib.request.Request(
            server.url(f"/feeds/{feed}/items"), data=body, method="POST",
            headers={"Content-Type": "application/json", **headers})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
    time.sleep(1.1)


def run_schemathesis(server, tmp_path: pathlib.Path, headers: dict) -> dict:
    """Run schemathesis against `server`; the figures of its JSON report, and its output."""
    # The CLI of the interpreter running the tests, where requirements.txt installed it.
    command = [sys.executable, "-m", "schemathesis.cli"]
    report = tmp_path / "schemathesis.json"
    args = [
        "--config-file", str(schemathesis_config(tmp_path / "schemathesis.toml")),
        "run", str(DOC),
        "--url", server.base,
        "--checks", ",".join(CHECKS),
        "--exclude-checks", ",".join(EXCLUDED_CHECKS),
        "--max-examples", str(EXAMPLES),
        "--request-timeout", "10",
        "--max-response-time", str(MAX_RESPONSE_TIME),
        "--workers", "1",
        "--report", "json",
        "--report-json-path", str(report),
        "--output-truncate", "false",
        "--no-color",
    ]
    if os.environ.get("FEEDGATE_FUZZ_SEED"):
        args += ["--seed", os.environ["FEEDGATE_FUZZ_SEED"]]
    for name, value in headers.items():
        args += ["--header", f"{name}: {value}"]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("SCHEMATHESIS_HOOKS", None)  # the configuration names this file
    started = time.monotonic()
    proc = subprocess.run(
        command + args, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=RUN_TIMEOUT)
    elapsed = time.monotonic() - started
    output = proc.stdout + proc.stderr
    print(output)
    assert proc.returncode == 0, f"schemathesis found failures (exit {proc.returncode}):\n{output[-20000:]}"
    figures = json.loads(report.read_text())
    cases = figures["test_cases"]["generated"]
    print(f"schemathesis: {cases} test cases, {figures['operations']['tested']} operations, "
          f"{elapsed:.1f} s (seed {figures['seed']})")
    return figures


@pytest.mark.parametrize("credentials", [False, True], ids=["open", "credentials"])
def test_schemathesis_finds_nothing(feedgate_factory, origin, tmp_path, credentials):
    extra = {**SETTINGS, **(CREDENTIALS if credentials else {})}
    server = feedgate_factory(feeds=feeds(origin), extra=extra)
    headers = ADMIN if credentials else {}
    seed(server, headers)
    figures = run_schemathesis(server, tmp_path, headers)
    assert figures["complete"] and not figures["failures"] and not figures["errors"], figures
    assert figures["operations"]["tested"] == figures["operations"]["total"], figures["operations"]
    assert all(p["status"] == "success" for p in figures["phases"].values()), figures["phases"]
    # The gateway stayed up, and counted what it answered.
    req = urllib.request.Request(server.url("/metrics"), headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        metrics = resp.read().decode()
    answered = sum(int(float(line.rsplit(" ", 1)[1])) for line in metrics.splitlines()
                   if line.startswith("feedgate_http_requests_total{"))
    print(f"feedgate answered {answered} requests")
    assert answered > figures["test_cases"]["generated"] / 2


# --------------------------------------------------------------------------- what fuzzing rarely reaches


def header(resp, name: str) -> str | None:
    """The first value of a response header (schemathesis keeps lists)."""
    value = resp.headers.get(name.lower())
    return value[0] if isinstance(value, list) else value


def conforms(schema, base: str, path: str, method: str, expected: int, **case) -> object:
    """Send the request `case` describes to the operation `method path`, check that the answer
    is `expected` and conforms to the document (status, media type, headers, body schema) and
    to `problem_details`; the response."""
    op = schema[path][method]
    request_headers = case.pop("request_headers", None)
    c = op.Case(**case)
    resp = c.call(base_url=base, headers=request_headers, timeout=10)
    assert resp.status_code == expected, f"{method} {path} {case}: {resp.status_code} {resp.text[:500]}"
    c.validate_response(resp, additional_checks=[problem_details], headers=request_headers)
    return resp


def test_answers_fuzzing_rarely_reaches_conform(feedgate_factory, origin):
    """Answers that need a particular request (an event stream, a 226, a long-poll, a 413, a
    write to an upstream feed, a gzip page, 401 and 403) conform to the document too."""
    schema = schemathesis.openapi.from_path(str(DOC))
    server = feedgate_factory(feeds=feeds(origin), extra={**SETTINGS, **CREDENTIALS})
    base = server.base
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    item = {"feed": "news", "id": "full"}
    full = {"title": "T", "link": "https://example.org/a", "summary": "<p>s</p>", "content": "c",
            "content_type": "text/markdown; charset=utf-8", "author": "Ann", "categories": ["x"],
            "enclosures": [{"url": "https://example.org/a.mp3", "type": "audio/mpeg", "length": 12.0}],
            "published": "2024-05-01T12:00:00+02:00"}
    put = conforms(schema, base, "/feeds/{feed}/items/{id}", "PUT", 201, path_parameters=item,
                   headers=auth, body=full, media_type="application/json")
    tag = header(put, "etag")
    got = conforms(schema, base, "/feeds/{feed}/items/{id}", "GET", 200, path_parameters=item, headers=auth)
    assert got.json()["enclosures"] == [{"url": "https://example.org/a.mp3", "type": "audio/mpeg", "length": 12}]
    conforms(schema, base, "/feeds/{feed}/items/{id}", "GET", 304, path_parameters=item,
             headers={**auth, "If-None-Match": tag})
    conforms(schema, base, "/feeds/{feed}/items/{id}", "PUT", 200, path_parameters=item,
             headers=auth, body=full, media_type="application/json")  # unchanged
    conforms(schema, base, "/feeds/{feed}/items", "POST", 200, path_parameters={"feed": "other"},
             headers=auth, body=[{"id": "b", "title": "B"}, {"id": "c"}], media_type="application/json")
    time.sleep(1.1)  # the writes' second has ended: catch-ups show them
    feed = "/feeds/{feed}"
    # A gzip page selected by an ETag that has more after it (a next link), then the long-poll
    # at the head.
    listed = conforms(schema, base, "/feeds", "GET", 200, headers=auth)
    epoch = {f["name"]: f["epoch"] for f in listed.json()["feeds"]}["other"]
    page = conforms(schema, base, feed, "GET", 200, path_parameters={"feed": "other"},
                    query={"limit": 1, "etag": f"{epoch}.0"}, headers={**auth, "Accept-Encoding": "gzip"})
    assert header(page, "content-encoding") == "gzip" and header(page, "etag").startswith("W/")
    assert 'rel="next"' in ", ".join(page.headers["link"])
    head = conforms(schema, base, feed, "GET", 200, path_parameters={"feed": "news.atom"}, headers=auth)
    waited = conforms(schema, base, feed, "GET", 304, path_parameters={"feed": "news.atom"},
                      headers={**auth, "If-None-Match": header(head, "etag"), "Prefer": "wait=5"})
    assert header(waited, "preference-applied") == "wait=1"  # max_wait
    # The 304 at the head of the query form, turned into an empty 200 for a cache.
    at_head = header(head, "etag").strip('"')
    empty = conforms(schema, base, feed, "GET", 200, path_parameters={"feed": "news"},
                     headers={**auth, "Prefer": "return=representation"}, query={"etag": at_head})
    assert header(empty, "preference-applied") == "return=representation"
    conforms(schema, base, feed, "GET", 226, path_parameters={"feed": "other"}, headers={**auth, "A-IM": "feed"})
    conforms(schema, base, feed, "HEAD", 226, path_parameters={"feed": "other"}, headers={**auth, "A-IM": "feed"})
    stream = conforms(schema, base, feed, "GET", 200, path_parameters={"feed": "news"},
                      request_headers={"Accept": "text/event-stream"}, headers=auth)
    assert header(stream, "content-type") == "text/event-stream" and "event: add" in stream.text
    # The upstream feed: read, listed with its sync state, and read-only.
    conforms(schema, base, feed, "GET", 200, path_parameters={"feed": "mirror"}, headers=auth)
    listed = conforms(schema, base, "/feeds", "GET", 200, headers=auth)
    assert [f["kind"] for f in listed.json()["feeds"]] == ["upstream", "push", "push"]  # mirror, news, other
    ready = conforms(schema, base, "/readyz", "GET", 200, headers=auth)
    assert "mirror" in ready.json()["upstreams"]
    conforms(schema, base, "/feeds/{feed}/items/{id}", "PUT", 409, path_parameters={"feed": "mirror", "id": "x"},
             headers=auth, body={}, media_type="application/json")
    # Bodies refused: too large, not JSON.
    conforms(schema, base, "/feeds/{feed}/items", "POST", 413, path_parameters={"feed": "news"}, headers=auth,
             body=[{"id": f"i{i}", "title": "x" * 1000} for i in range(70)], media_type="application/json")
    conforms(schema, base, "/feeds/{feed}/items/{id}", "PUT", 415, path_parameters=item, headers=auth,
             body="title", media_type="text/plain")
    # The hub accepts a subscription to be verified (it fails: nothing listens there).
    conforms(schema, base, "/websub", "POST", 202, headers=auth, media_type="application/x-www-form-urlencoded",
             body={"hub.mode": "subscribe", "hub.topic": f"{base}/feeds/news", "hub.callback": "http://127.0.0.1:9/cb"})
    conforms(schema, base, "/feeds/{feed}/consumers", "GET", 200, path_parameters={"feed": "news"}, headers=auth)
    # Without credentials, and with a credential without the role.
    conforms(schema, base, feed, "GET", 401, path_parameters={"feed": "news"})
    conforms(schema, base, feed, "HEAD", 401, path_parameters={"feed": "news"})
    conforms(schema, base, "/metrics", "GET", 403, headers={"Authorization": f"Bearer {READER_TOKEN}"})
    conforms(schema, base, "/", "GET", 403, query={"access_token": READER_TOKEN})
    conforms(schema, base, "/feeds/{feed}/items", "POST", 403, path_parameters={"feed": "news"},
             headers={"Authorization": f"Bearer {READER_TOKEN}"}, body=[], media_type="application/json")
    conforms(schema, base, "/", "GET", 200, headers=auth)
    conforms(schema, base, "/openapi.json", "GET", 200)
