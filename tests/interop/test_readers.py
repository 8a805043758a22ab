"""Feed readers nobody here wrote, from Debian's packages, against the demo gateway.

- **rss2email** (`r2e`, built on feedparser, which sends `A-IM: feed`; it accepts only HTTP 200,
  302, 304 and 307) mails each new item exactly once and nothing on an idle run. It runs with a
  temporary config and data file and delivers to a local maildir (`email-protocol = maildir`,
  rss2email ≥ 3.12), so no mail server is needed; the mails are read back with Python's
  `mailbox`.
- **newsboat** (`newsboat -x reload`, non-interactive, with a temporary urls file, cache and
  HOME) shows each new item once across writes: its sqlite cache holds one row per item, the new
  ones unread, and an idle reload changes nothing.

Both follow the `news` feed of the demo gateway (seeded from `fixtures/demo-items.json`) in RSS
and in Atom, through adds, updates, deletes and identical writes. The tools are installed by
`.ci/run`; without them the module is skipped, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import configparser
import email.header
import json
import mailbox
import os
import pathlib
import shutil
import sqlite3
import subprocess

import pytest

from fgclient import payload_for, request, wait_next_second

REPO = pathlib.Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DEMO_ITEMS = json.loads((REPO / "fixtures" / "demo-items.json").read_text())
DEMO_TITLES = {item["title"] for item in DEMO_ITEMS if not item.get("deleted")}
PATHS = {"rss": "/feeds/news", "atom": "/feeds/news.atom"}


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if IN_CI:
            pytest.fail(f"{tool} is not installed: .ci/run installs it for the interop suite")
        pytest.skip(f"{tool} is not installed")
    return path


@pytest.fixture
def demo(feedgate_factory):
    """The demo gateway's `news` feed (seeded from the demo items), once its second has passed
    (a catch-up never reaches into the current second)."""
    server = feedgate_factory({"news": {
        "title": "News", "link": "https://example.org/news",
        "description": "Company news, as a transaction feed",
        "seed": str(REPO / "fixtures" / "demo-items.json"),
    }})
    wait_next_second()
    return server


def changes(producer, round_: int) -> set[str]:
    """A round of writes: two adds, an update, a delete, an identical write. Returns the titles
    of the new items."""
    new = {f"r{round_}-a": f"Round {round_}: first", f"r{round_}-b": f"Round {round_}: second"}
    for item_id, title in new.items():
        producer.add(item_id, payload_for(item_id, title))
    producer.update("release-0.1", payload_for("release-0.1", f"Release 0.1, revised {round_}"))
    if round_ == 1:
        producer.remove("podcast-1")
    producer.unchanged(f"r{round_}-a", payload_for(f"r{round_}-a", new[f"r{round_}-a"]))
    return set(new.values())


# --------------------------------------------------------------------------- rss2email


class Rss2Email:
    def __init__(self, workdir: pathlib.Path, url: str):
        self.r2e = need("r2e")
        self.dir = workdir
        workdir.mkdir()
        (workdir / "mail").mkdir()
        self.cfg, self.data = workdir / "rss2email.cfg", workdir / "rss2email.json"
        self.cli("new", "reader@example.org")
        config = configparser.ConfigParser(interpolation=None)
        config.read(self.cfg)
        config["DEFAULT"].update({
            "email-protocol": "maildir",
            "maildir-path": str(workdir / "mail"),
            "maildir-mailbox": "inbox",
            "from": "feedgate-test@example.org",
        })
        with open(self.cfg, "w") as f:
            config.write(f)
        self.cli("add", "news", url)

    def cli(self, *args: str) -> str:
        r = subprocess.run([self.r2e, "-c", str(self.cfg), "-d", str(self.data), *args],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=str(self.dir)))
        out = r.stdout + r.stderr
        # rss2email logs an HTTP error (`HTTP status 226 fetching feed …`) and exits 0.
        assert r.returncode == 0 and "[ERROR]" not in out and "Traceback" not in out, out
        return out

    def run(self) -> list[str]:
        """One `r2e run`; returns the subjects of the mails it delivered."""
        before = set(self.maildir().keys())
        self.cli("run")
        box = self.maildir()
        return [subject(box[key]) for key in box.keys() if key not in before]

    def maildir(self) -> mailbox.Maildir:
        return mailbox.Maildir(self.dir / "mail" / "inbox", create=True)

    def stored_etag(self) -> str | None:
        return json.loads(self.data.read_text())["feeds"][0]["etag"]


def subject(message) -> str:
    return str(email.header.make_header(email.header.decode_header(message["Subject"])))


@pytest.mark.parametrize("fmt", PATHS)
def test_rss2email_mails_each_new_item_exactly_once(demo, tmp_path, fmt):
    r2e = Rss2Email(tmp_path / "r2e", demo.url(PATHS[fmt]))
    producer = demo.producer()

    first = r2e.run()
    assert sorted(first) == sorted(DEMO_TITLES), first
    mailed = list(first)
    for round_ in (1, 2):
        assert r2e.run() == [], "an idle run mails nothing"
        new = changes(producer, round_)
        got = r2e.run()
        assert sorted(got) == sorted(new), f"round {round_}: {got}"
        mailed += got
    # A burst in one second, then idle again.
    burst = {f"burst-{n}": f"Burst {n}" for n in range(5)}
    producer.batch([dict(payload_for(k, v), id=k) for k, v in burst.items()])
    got = r2e.run()
    assert sorted(got) == sorted(burst.values()), got
    mailed += got
    assert r2e.run() == []
    assert len(mailed) == len(set(mailed)) == len(DEMO_TITLES) + 4 + 5, mailed
    # rss2email keeps the feed's ETag (the position) between runs: weak, since it takes
    # pages in gzip.
    feeds = request("GET", demo.url("/feeds")).json()["feeds"]
    assert r2e.stored_etag() == f'W/"{feeds[0]["etag"]}"'


# --------------------------------------------------------------------------- newsboat


class Newsboat:
    def __init__(self, workdir: pathlib.Path, url: str):
        self.bin = need("newsboat")
        self.dir = workdir
        workdir.mkdir()
        (workdir / "urls").write_text(url + "\n")
        (workdir / "config").write_text("reload-threads 1\n")
        self.cache = workdir / "cache.db"

    def reload(self) -> None:
        self.reloads = getattr(self, "reloads", 0) + 1
        self.log = self.dir / f"reload-{self.reloads}.log"
        r = subprocess.run(
            [self.bin, "-u", str(self.dir / "urls"), "-c", str(self.cache),
             "-C", str(self.dir / "config"), "-l", "6", "-d", str(self.log), "-x", "reload"],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
            env=dict(os.environ, HOME=str(self.dir), TERM="dumb"))
        assert r.returncode == 0, r.stdout + r.stderr

    def items(self) -> list[tuple[str, str, int]]:
        """(guid, title, unread) of every item in the cache."""
        with sqlite3.connect(self.cache) as db:
            return db.execute("SELECT guid, title, unread FROM rss_item ORDER BY id").fetchall()

    def mark_all_read(self) -> None:
        with sqlite3.connect(self.cache) as db:
            db.execute("UPDATE rss_item SET unread = 0")

    def feed_etag(self) -> str:
        with sqlite3.connect(self.cache) as db:
            return db.execute("SELECT etag FROM rss_feed").fetchone()[0]


def http_log(path: pathlib.Path) -> str:
    """The lines of a newsboat debug log about validators and statuses."""
    keys = ("etag", "modified", "HTTP", "status", "304")
    return "\n".join(line[:300] for line in path.read_text(errors="replace").splitlines()
                     if any(k in line for k in keys))


@pytest.mark.parametrize("fmt", PATHS)
def test_newsboat_shows_each_new_item_once(demo, tmp_path, fmt):
    nb = Newsboat(tmp_path / "newsboat", demo.url(PATHS[fmt]))
    producer = demo.producer()
    nb.reload()
    items = nb.items()
    assert {title for _, title, _ in items} == DEMO_TITLES
    assert all(unread for _, _, unread in items)
    known = {guid for guid, _, _ in items}
    for round_ in (1, 2):
        nb.mark_all_read()
        nb.reload()
        assert [u for _, _, u in nb.items()] == [0] * len(known), "an idle reload shows nothing new"
        assert nb.feed_etag(), "newsboat keeps the ETag for conditional GET"
        new = changes(producer, round_)
        nb.reload()
        items = nb.items()
        guids = [guid for guid, _, _ in items]
        assert len(guids) == len(set(guids)), f"an item shown twice: {items}"
        unread = {title for _, title, u in items if u}
        assert unread == new, f"round {round_}: {items}\n{http_log(nb.log)}"
        known |= {guid for guid, _, u in items if u}
        assert set(guids) == known
    nb.reload()
    assert len(nb.items()) == len(known)
