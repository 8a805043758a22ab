"""feedgate behind real caching proxies: Varnish and nginx from Debian's packages,
each running exactly the configuration docs/deploying.md gives (deploy/varnish/feedgate.vcl,
deploy/nginx/feedgate.conf; see proxies.py).

- Through each, a header-mode poller (`If-None-Match`) and a query-mode poller (`?etag=`,
  following `next` links) walk a backlog in pages and follow rounds of writes (adds, updates,
  deletes, made directly to feedgate): no loss (every seq seen, once, in order), no stall (each
  reaches feedgate's head and gets its 304 there: through Varnish the VCL's `Prefer` keeps
  Varnish from refusing it), no stale item (each one's items equal the producer's).
- Four pollers in threads follow a writer that keeps writing: same, checked on the final state.
- Query-form consumers that start later walk the backlog from the cache (full pages are hits),
  also after the items those pages show were updated and deleted, and end up current.
- /healthz, /metrics, /feeds, an item GET, a 404 and a catch-up are never served from cache.
- docs/deploying.md shows the deployed files as they are.
- A naive cache (Varnish's built-in VCL, nginx's plain proxy_cache) strips `If-None-Match`: the
  header-mode consumer sees a `catchUp` answer to its delta request, the sign docs/deploying.md
  tells consumers to watch for.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from fgclient import parse_feed, payload_for, request, wait_next_second
from pollers import Poller
from conftest import REPO
from proxies import NGINX_CONF, STARTERS, VCL

LIMIT = 4
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
def figures(pytestconfig):
    """Figures measured along the way, printed once at the end of the module."""
    measured: dict[str, str] = {}
    yield measured
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    if capture and measured:
        with capture.global_and_fixture_disabled():
            print("\nproxy figures:\n  " + "\n  ".join(f"{k}: {v}" for k, v in measured.items()))


@pytest.fixture(params=sorted(STARTERS))
def gateway(request, feedgate, tmp_path):
    """(feedgate, proxy) with the deployed configuration of the proxy named by the param."""
    proxy = STARTERS[request.param](tmp_path / request.param, feedgate.base)
    try:
        yield feedgate, proxy
    finally:
        proxy.stop()


def test_the_document_shows_the_deployed_files():
    doc = (REPO / "docs" / "deploying.md").read_text()
    for lang, path in (("vcl", VCL), ("nginx", NGINX_CONF)):
        blocks = re.findall(rf"^```{lang}\n(.*?)^```$", doc, re.S | re.M)
        assert blocks == [path.read_text()], f"docs/deploying.md's {lang} block is not {path}"


def head_of(feedgate, feed: str = "news") -> str:
    """The feed's head position, asked of feedgate directly."""
    r = request("GET", feedgate.url(f"/feeds/{feed}"), {"If-None-Match": "*"})
    assert r.status == 304, r
    return r.header("ETag").strip('"')


def titles(producer) -> dict[str, str]:
    return {i: p["title"] for i, p in producer.model.items()}


def check_current(poller: Poller, feedgate, producer, what: str) -> None:
    head = head_of(feedgate)
    assert poller.position == head, f"{what}: stalled at {poller.position}, head {head}"
    assert poller.items == titles(producer), f"{what}: stale or lost items"
    seq = int(head.rsplit(".", 1)[1])
    assert poller.ticks == list(range(1, seq + 1)), f"{what}: ticks seen {poller.ticks}"


def test_header_and_query_pollers_lose_nothing_and_never_stall(gateway, figures):
    feedgate, proxy = gateway
    producer = feedgate.producer()
    for i in range(10):
        producer.add(f"a{i}", payload_for(f"a{i}", f"A{i}"))
    header = Poller(proxy.base, "news", "header", limit=LIMIT)
    query = Poller(proxy.base, "news", "query", limit=LIMIT)
    polls = {"header": 0, "query": 0}
    for rnd in range(5):
        for poller in (header, query):
            polls[poller.mode] += poller.poll_to_head()
            check_current(poller, feedgate, producer, f"{proxy.name} {poller.mode} round {rnd}")
        # A round of writes, each to another item: an update, an add, a delete.
        producer.update(f"a{rnd}", payload_for(f"a{rnd}", f"A{rnd} v2"))
        producer.add(f"b{rnd}", payload_for(f"b{rnd}", f"B{rnd}"))
        producer.remove(f"a{9 - rnd}")
    for poller in (header, query):
        polls[poller.mode] += poller.poll_to_head()
        check_current(poller, feedgate, producer, f"{proxy.name} {poller.mode} at the end")
        assert set(poller.statuses) == {200, 304}, poller.statuses
    # Header-mode polls go through: never a cache hit, never anything but no-store.
    assert "hit" not in header.cache, header.cache
    assert set(header.cache_control) == {"no-store"}, header.cache_control
    # The query form at the head: the 304 of the protocol, through either proxy.
    assert query.statuses[304] == 6, query.statuses
    figures[f"{proxy.name}: header-mode"] = (
        f"{polls['header']} polls, {len(header.ticks)} seqs seen, {dict(header.statuses)}")
    figures[f"{proxy.name}: query-mode"] = (
        f"{polls['query']} polls, {len(query.ticks)} seqs seen, {dict(query.statuses)}, "
        f"cache {dict(query.cache)}")


def test_concurrent_pollers_follow_a_busy_writer(gateway, figures):
    """Two header-mode and two query-mode pollers, each in its own thread, poll through the
    proxy while a writer adds, updates and deletes; once it stops, each reaches the head with
    the producer's items. Entries may merge within a page here (an item written twice between
    two polls), so the check is the position chain (pollers.py) and the final state."""
    feedgate, proxy = gateway
    producer = feedgate.producer()
    for i in range(8):
        producer.add(f"a{i}", payload_for(f"a{i}", f"A{i}"))
    pollers = [Poller(proxy.base, "news", mode, limit=LIMIT)
               for mode in ("header", "query", "header", "query")]
    done = threading.Event()
    errors: list[BaseException] = []

    def poll(poller: Poller) -> None:
        try:
            while not done.is_set():
                if poller.poll().status == 304:
                    time.sleep(0.01)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=poll, args=(p,)) for p in pollers]
    for t in threads:
        t.start()
    try:
        for n in range(60):
            producer.add(f"n{n}", payload_for(f"n{n}", f"N{n}"))
            if n % 3 == 0:
                producer.update(f"n{n // 2}", payload_for(f"n{n // 2}", f"N{n // 2} v{n}"))
            if n % 4 == 0:
                producer.remove(f"n{n // 4}")
            time.sleep(0.01)
    finally:
        done.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors
    head = head_of(feedgate)
    for p in pollers:
        p.poll_to_head()
        assert p.position == head, (p.mode, p.position, head)
        assert p.items == titles(producer), f"{proxy.name} {p.mode}: stale or lost items"
    figures[f"{proxy.name}: concurrent"] = ", ".join(
        f"{p.mode} {sum(p.statuses.values())} polls {dict(p.statuses)}" for p in pollers
    ) + f"; head {head.rsplit('.', 1)[1]}"


def test_query_form_backlog_pages_come_from_the_cache_and_stay_correct(gateway, figures):
    feedgate, proxy = gateway
    producer = feedgate.producer()
    for i in range(13):
        producer.add(f"a{i}", payload_for(f"a{i}", f"A{i}"))
    epoch = head_of(feedgate).rsplit(".", 1)[0]
    first = Poller(proxy.base, "news", "query", limit=LIMIT, start=f"{epoch}.0")
    first.poll_to_head()
    check_current(first, feedgate, producer, f"{proxy.name} first walk")
    # 13 seqs in pages of 4: three full pages (cacheable), then one that reaches the head.
    assert first.cache_control[IMMUTABLE] == 3, first.cache_control
    second = Poller(proxy.base, "news", "query", limit=LIMIT, start=f"{epoch}.0")
    second.poll_to_head()
    check_current(second, feedgate, producer, f"{proxy.name} second walk")
    assert second.cache["hit"] == 3, second.cache
    # Update and delete items the cached pages show: a walk over the cached pages (older
    # history, still true) and what follows ends up current all the same.
    producer.update("a1", payload_for("a1", "A1 v2"))
    producer.remove("a2")
    producer.remove("a5")
    producer.add("a2", payload_for("a2", "A2 again"))
    third = Poller(proxy.base, "news", "query", limit=LIMIT, start=f"{epoch}.0")
    third.poll_to_head()
    assert third.position == head_of(feedgate)
    assert third.items == titles(producer), "stale items after a walk over cached pages"
    assert third.cache["hit"] >= 3, third.cache
    figures[f"{proxy.name}: later query consumers"] = (
        f"hits {second.cache['hit']}/{sum(second.cache.values())} answers on the second walk, "
        f"{third.cache['hit']}/{sum(third.cache.values())} after updates and deletes")


def test_other_resources_are_never_served_from_cache(gateway):
    """These resources say no-store themselves (PROTOCOL §3); the configurations do not store
    anything feedgate has not marked public either, so this holds whatever they say."""
    feedgate, proxy = gateway
    producer = feedgate.producer()
    producer.add("x", payload_for("x", "X1"))

    def via(path: str, headers: dict | None = None):
        r = request("GET", proxy.url(path), headers)
        assert (r.header("X-Cache") or "").lower() != "hit", r
        return r

    for path in ("/healthz", "/readyz"):
        assert via(path).status == 200 and via(path).status == 200
    metrics = [via("/metrics").body for _ in range(2)]
    assert metrics[0] != metrics[1], "the second /metrics must count the first"
    # An item's current state; a 404 that stops being one.
    assert via("/feeds/news/items/x").json()["title"] == "X1"
    producer.update("x", payload_for("x", "X2"))
    assert via("/feeds/news/items/x").json()["title"] == "X2"
    assert via("/feeds/news/items/y").status == 404
    producer.add("y", payload_for("y", "Y"))
    assert via("/feeds/news/items/y").status == 200
    producer.remove("x")
    assert via("/feeds/news/items/x").status == 404
    assert via("/feeds/nope").status == 404
    # The feed list and a catch-up follow the writes.
    feeds = {f["name"]: f["head"] for f in via("/feeds").json()["feeds"]}
    assert feeds["news"] == 4, feeds
    wait_next_second()
    catch_up = Poller(proxy.base, "news", "query")
    catch_up.poll()
    assert catch_up.items == {"y": "Y"}
    producer.add("z", payload_for("z", "Z"))
    wait_next_second()
    catch_up = Poller(proxy.base, "news", "query")
    catch_up.poll()
    assert catch_up.items == {"y": "Y", "z": "Z"}


NAIVE = {
    # Varnish's built-in VCL, nothing else.
    "varnish": 'vcl 4.1;\nbackend default {{ .host = "{host}"; .port = "{port}"; }}\n',
    # A plain proxy_cache.
    "nginx": """proxy_cache_path {cache} keys_zone=naive:1m;
server {{
    listen LISTEN;
    location / {{ proxy_pass http://{host}:{port}; proxy_cache naive; proxy_set_header Host $http_host; }}
}}
""",
}


@pytest.mark.parametrize("name", sorted(NAIVE))
def test_a_naive_cache_strips_validators_and_the_consumer_can_tell(name, feedgate, tmp_path):
    """What docs/deploying.md tells consumers to watch for: behind a cache that drops
    `If-None-Match` (Varnish's default configuration, a plain nginx proxy_cache), a delta
    request is answered with the whole feed, `syncMode` `catchUp`. (These configurations are
    what not to deploy; they show why the deployed ones are as they are.)"""
    producer = feedgate.producer()
    for i in range(6):
        producer.add(f"a{i}", payload_for(f"a{i}", f"A{i}"))
    host, port = feedgate.base.removeprefix("http://").rsplit(":", 1)
    config = NAIVE[name].format(host=host, port=port, cache=tmp_path / name / "cache")
    proxy = STARTERS[name](tmp_path / name, feedgate.base, config=config)
    try:
        wait_next_second()  # so that the catch-up holds all six
        held = head_of(feedgate).rsplit(".", 1)[0] + ".2"
        r = request("GET", proxy.url("/feeds/news"), {"If-None-Match": f'"{held}"'})
        assert r.status == 200, r
        doc = parse_feed(r.body)
        assert doc.sync_mode == "catchUp" and len(doc.entries) == 6, r
        # Directly, the same request is the delta it asked for.
        direct = parse_feed(request("GET", feedgate.url("/feeds/news"),
                                    {"If-None-Match": f'"{held}"'}).body)
        assert direct.sync_mode == "immediate" and len(direct.entries) == 4
        # And the query form's 304 at the head, which Varnish's own fetch refuses (the
        # deployed VCL asks feedgate for a page instead, see above).
        r = request("GET", proxy.url(f"/feeds/news?etag={head_of(feedgate)}"))
        assert r.status == (503 if name == "varnish" else 304), r
    finally:
        proxy.stop()
