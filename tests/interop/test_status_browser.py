"""The status page (`GET /`) in a real browser, as an operator sees it.

Debian's chromium, driven by playwright-core (`browser/status.mjs`), loads the page of a gateway
with credentials configured, logging in with HTTP Basic as the admin. The gateway has a push feed
with three consumers at different lags (each named by its credential) and an upstream feed whose
origin refuses connections. The test reads the DOM: the right figures in the right places, the
consumer furthest behind marked (and only it), the failing upstream with its error. With
JavaScript on, the page must follow a new write without a reload; at 320 px it must not scroll
sideways; with JavaScript off it shows the same figures. Screenshots at 1280 and 320 px (and
without JavaScript) are saved under `target/interop-artifacts/` for CI to keep.
"""

from __future__ import annotations

import hashlib
import secrets
import socket
import time

import pytest

from browserdriver import BrowserDriver, require_browser
from conftest import REPO
from fgclient import request, split_etag

ARTIFACTS = REPO / "target" / "interop-artifacts"
ADMIN_PASSWORD = secrets.token_urlsafe(12)
TOKENS = {name: secrets.token_urlsafe(18) for name in ("writer", "far", "near", "current")}


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def refused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config() -> tuple[dict, dict]:
    feeds = {
        "news": {"title": "News", "link": "https://example.org/news", "description": "Company news"},
        "broken": {"title": "Broken mirror", "link": "https://example.org/b", "description": "Fails",
                   "upstream": {"url": f"http://127.0.0.1:{refused_port()}/items.json", "format": "json",
                                "interval": "1s", "timeout": "2s"}},
    }
    credentials = {
        "admin": {"password_sha256": sha256_hex(ADMIN_PASSWORD), "roles": {"news": "admin", "broken": "admin"}},
        "writer": {"token_sha256": sha256_hex(TOKENS["writer"]), "roles": {"news": "write"}},
    }
    for name in ("far", "near", "current"):
        credentials[name] = {"token_sha256": sha256_hex(TOKENS[name]), "roles": {"news": "read"}}
    return feeds, {"credentials": credentials}


class StatusDriver(BrowserDriver):
    def __init__(self):
        super().__init__("status.mjs")

    def open(self, url: str, width: int, js: bool) -> int:
        return self.call("open", url=url, width=width, js=js, user="admin", password=ADMIN_PASSWORD)["status"]

    def dom(self) -> dict:
        return self.call("dom")


@pytest.fixture
def browser():
    require_browser()
    driver = StatusDriver()
    yield driver
    driver.quit()


def write(server, item_id: str) -> tuple[str, int]:
    url = server.url(f"/feeds/news/items/{item_id}?access_token={TOKENS['writer']}")
    resp = request("PUT", url, body={"title": f"Item {item_id}"})
    assert resp.status == 201, resp
    return split_etag(resp.json()["etag"])


def poll(server, consumer: str, epoch: str, seq: int) -> None:
    url = server.url(f"/feeds/news?access_token={TOKENS[consumer]}")
    resp = request("GET", url, headers={"If-None-Match": f'"{epoch}.{seq}"'})
    assert resp.status in (200, 304), resp


def wait_failing(server) -> None:
    """Until the background sync of `broken` has failed at least once."""
    import base64
    auth = "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        feeds = request("GET", server.url("/feeds"), headers={"Authorization": auth}).json()["feeds"]
        up = next(f for f in feeds if f["name"] == "broken")["upstream"]
        if up["state"] == "failing" and up["last_error"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"the upstream of `broken` did not fail: {up}")


def by_key(rows: list[dict]) -> dict:
    return {r["key"]: r for r in rows}


def test_the_status_page_shows_lag_and_failures_and_follows_writes(feedgate_factory, browser):
    feeds, extra = config()
    server = feedgate_factory(feeds=feeds, extra=extra)
    for i in range(10):
        epoch, head = write(server, f"item-{i}")
    assert head == 10
    poll(server, "far", epoch, 2)
    poll(server, "near", epoch, 9)
    poll(server, "current", epoch, 10)
    wait_failing(server)

    # Credentials are configured: the page needs admin.
    anon = request("GET", server.url("/"))
    challenges = anon.headers.get_all("WWW-Authenticate") or []
    assert anon.status == 401 and any(c.startswith("Basic ") for c in challenges), (anon, challenges)
    assert anon.headers["Content-Type"].startswith("application/problem+json")
    reader = request("GET", server.url(f"/?access_token={TOKENS['far']}"))
    assert reader.status == 403, reader

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.open(server.url("/"), 1280, js=True) == 200
    page = browser.dom()
    assert page["live"] == "on", page
    news = by_key(page["feeds"])["news"]
    assert news["head"] == f"{epoch}.10"
    assert news["items"] == "10" and news["per-minute"] == "10" and news["consumers"] == "3", news
    assert news["kind"] == "push" and by_key(page["feeds"])["broken"]["kind"] == "upstream"
    consumers = by_key(page["consumers"])
    assert [c["key"] for c in page["consumers"]] == ["far", "near", "current"], "furthest behind first"
    assert consumers["far"]["lag-transactions"] == "8" and consumers["far"]["meter"] == 8
    assert consumers["far"]["furthest"] and consumers["far"]["badge"] == "furthest behind"
    assert consumers["near"]["lag-transactions"] == "1" and not consumers["near"]["furthest"]
    assert consumers["current"]["lag-transactions"] == "0" and not consumers["current"]["furthest"]
    assert consumers["far"]["position"] == f"{epoch}.2"
    broken = by_key(page["upstreams"])["broken"]
    assert broken["dataState"] == "failing" and broken["state"].startswith("failing ("), broken
    assert broken["last-error"], broken
    browser.call("screenshot", path=str(ARTIFACTS / "status-1280.png"))

    # A write shows up without a reload.
    write(server, "item-10")
    browser.call("waitText", selector='tr[data-feed="news"] [data-field="head"]', text=f"{epoch}.11")
    browser.call("waitText", selector='tr[data-consumer="far"] [data-field="lag-transactions"]', text="9")
    errors = [line for line in browser.dom()["console"] if line.startswith(("error", "pageerror"))]
    assert not errors, errors  # a blocked inline script or style (CSP) would show here

    # A phone's width: readable without scrolling sideways.
    assert browser.open(server.url("/"), 320, js=True) == 200
    narrow = browser.dom()
    assert narrow["scrollWidth"] <= narrow["clientWidth"], narrow
    assert by_key(narrow["consumers"])["far"]["furthest"]
    browser.call("screenshot", path=str(ARTIFACTS / "status-320.png"))

    # Without JavaScript: the same figures, nothing live.
    assert browser.open(server.url("/"), 1280, js=False) == 200
    static = browser.dom()
    assert static["live"] is None, static
    assert by_key(static["feeds"])["news"]["head"] == f"{epoch}.11"
    assert by_key(static["consumers"])["far"]["lag-transactions"] == "9"
    assert by_key(static["consumers"])["far"]["furthest"]
    assert by_key(static["upstreams"])["broken"]["dataState"] == "failing"
    browser.call("screenshot", path=str(ARTIFACTS / "status-nojs.png"))
