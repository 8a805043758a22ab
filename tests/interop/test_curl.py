"""curl as a consumer: ETag files (`--etag-save` / `--etag-compare`), `-z` / `--time-cond`
with a Last-Modified date, and query-string polling with the position read out of the body
(`<ibmfs:etag>` and `<lastBuildDate>` / `<updated>`). Every body is parsed strictly with
xml.etree (expat)."""

from __future__ import annotations

import datetime
import email.parser
import pathlib
import subprocess
import urllib.parse

import pytest

from fgclient import assert_etag_header, http_date, parse_feed, payload_for, wait_next_second

ITEMS = {"a-1": "Alpha & Omega", "b-2": "Beta <b>", "c 3": "Gamma ✓"}


def curl(cwd: pathlib.Path, *args: str) -> str:
    """Run curl (silent, errors shown, no URL globbing); return its stdout (the -w output)."""
    cmd = ["curl", "-sS", "-g", "--max-time", "10", *args]
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"{cmd} exited {r.returncode}: {r.stderr}"
    return r.stdout


def headers_of(path: pathlib.Path):
    """The last response's headers from a `curl -D FILE` dump."""
    blocks = [b for b in path.read_text(encoding="latin-1").replace("\r\n", "\n").split("\n\n") if b.strip()]
    status_line, _, rest = blocks[-1].partition("\n")
    return int(status_line.split()[1]), email.parser.Parser().parsestr(rest, headersonly=True)


def body_of(path: pathlib.Path):
    return parse_feed(path.read_bytes())


def no_body(path: pathlib.Path) -> bool:
    return not path.exists() or path.stat().st_size == 0


def seed(producer):
    for item_id, title in ITEMS.items():
        producer.add(item_id, payload_for(item_id, title))


def test_curl_etag_save_and_compare(feedgate, tmp_path):
    producer = feedgate.producer()
    seed(producer)
    wait_next_second()  # a catch-up only holds transactions of past seconds
    url = feedgate.url("/feeds/news")

    assert curl(tmp_path, "-o", "body", "--etag-save", "etag.txt", "-w", "%{http_code}", url) == "200"
    doc = body_of(tmp_path / "body")
    assert doc.format == "rss", "RSS 2.0 is the default format"
    assert [(e.id, e.action) for e in doc.entries] == [(i, "add") for i in ITEMS]
    assert [e.title for e in doc.entries] == list(ITEMS.values())
    epoch, seq = assert_etag_header((tmp_path / "etag.txt").read_text().strip())
    assert doc.etag == f"{epoch}.{seq}" and seq == 3

    code = curl(tmp_path, "-o", "body2", "-w", "%{http_code}", "--etag-compare", "etag.txt", url)
    assert code == "304"
    assert no_body(tmp_path / "body2")

    producer.add("d-4", payload_for("d-4", "Delta"))
    code = curl(tmp_path, "-o", "body3", "-w", "%{http_code}", "--etag-compare", "etag.txt", url)
    assert code == "200"
    doc3 = body_of(tmp_path / "body3")
    assert [(e.id, e.action, e.title) for e in doc3.entries] == [("d-4", "add", "Delta")]
    assert doc3.sync_mode == "immediate"
    assert doc3.etag == f"{epoch}.4"

    # curl's polling idiom: compare and save through one file. After catching up, 304s keep
    # the file valid (a 304 carries the ETag of the position the request held).
    flags = ["--etag-compare", "etag.txt", "--etag-save", "etag.txt", "-w", "%{http_code}"]
    assert curl(tmp_path, "-o", "body4", *flags, url) == "200"
    assert (tmp_path / "etag.txt").read_text().strip() == f'"{epoch}.4"'
    for n in (5, 6):
        assert curl(tmp_path, "-o", f"body{n}", *flags, url) == "304"
        assert (tmp_path / "etag.txt").read_text().strip() == f'"{epoch}.4"'


def test_curl_time_cond(feedgate, tmp_path):
    producer = feedgate.producer()
    seed(producer)
    wait_next_second()
    url = feedgate.url("/feeds/news")

    assert curl(tmp_path, "-D", "h1", "-o", "b1", "-w", "%{http_code}", url) == "200"
    _, h1 = headers_of(tmp_path / "h1")
    lm = h1["Last-Modified"]
    assert lm and lm.endswith(" GMT"), lm
    assert len(body_of(tmp_path / "b1").entries) == 3

    assert curl(tmp_path, "-o", "b2", "-w", "%{http_code}", "--time-cond", lm, url) == "304"
    assert no_body(tmp_path / "b2")

    producer.update("a-1", payload_for("a-1", "Alpha v2"))
    producer.add("d-4", payload_for("d-4", "Delta"))
    wait_next_second()  # a date cursor sees whole seconds that are over
    assert curl(tmp_path, "-D", "h3", "-o", "b3", "-w", "%{http_code}", "-z", lm, url) == "200"
    doc3 = body_of(tmp_path / "b3")
    assert [(e.id, e.action, e.title) for e in doc3.entries] == [("a-1", "update", "Alpha v2"), ("d-4", "add", "Delta")]
    _, h3 = headers_of(tmp_path / "h3")
    assert http_date(h3["Last-Modified"]) > http_date(lm)
    assert doc3.etag == h3["ETag"].strip('"')

    assert curl(tmp_path, "-o", "b4", "-w", "%{http_code}", "-z", h3["Last-Modified"], url) == "304"


@pytest.mark.parametrize("path", ["/feeds/news", "/feeds/news.atom"])
def test_query_string_polling(feedgate, tmp_path, path):
    producer = feedgate.producer()
    seed(producer)
    wait_next_second()
    url = feedgate.url(path)

    assert curl(tmp_path, "-o", "b1", "-w", "%{http_code}", url) == "200"
    doc1 = body_of(tmp_path / "b1")
    assert doc1.format == ("atom" if path.endswith(".atom") else "rss")
    assert doc1.etag and doc1.updated, "the body must carry the position"

    def poll(name, **params):
        code = curl(tmp_path, "-D", f"{name}.h", "-o", name, "-w", "%{http_code}",
                    url + "?" + urllib.parse.urlencode(params))
        return code, (body_of(tmp_path / name) if code == "200" else None)

    code, _ = poll("b2", etag=doc1.etag, lastMod=doc1.updated)
    assert code == "304"
    assert no_body(tmp_path / "b2")

    producer.update("c 3", payload_for("c 3", "Gamma v2"))
    producer.add("e-5", payload_for("e-5", "Epsilon"))
    producer.remove("a-1")
    expected = [("update", "Gamma v2"), ("add", "Epsilon"), ("delete", None)]

    code, doc3 = poll("b3", etag=doc1.etag, lastMod=doc1.updated)
    assert code == "200"
    assert [(e.action, e.title) for e in doc3.entries] == expected
    assert doc3.sync_mode == "immediate"
    _, h3 = headers_of(tmp_path / "b3.h")
    assert h3["ETag"] == f'"{doc3.etag}"'

    code, _ = poll("b4", etag=doc3.etag, lastMod=doc3.updated)
    assert code == "304"
    # `lastMod` is ignored when `etag` is present.
    code, doc5 = poll("b5", etag=doc1.etag, lastMod=doc3.updated)
    assert code == "200" and [(e.action, e.title) for e in doc5.entries] == expected

    # `lastMod` alone is a date cursor, as the body's date or as RFC 3339.
    wait_next_second()
    stamp = http_date(doc1.updated) if doc1.format == "rss" else _rfc3339(doc1.updated)
    rfc3339 = datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    imf = email_date(stamp)
    for n, value in enumerate([doc1.updated, rfc3339, imf]):
        code, doc = poll(f"d{n}", lastMod=value)
        assert code == "200", value
        assert [(e.action, e.title) for e in doc.entries] == expected, value
    # doc3 ended in a second that was still open when it was served, so its date names the
    # second before: a date poll with it may repeat those changes (never lose them), and the
    # repeat's own date then holds everything.
    code, doc9 = poll("d9", lastMod=doc3.updated)
    if code == "200":
        assert [(e.action, e.title) for e in doc9.entries] == expected
        code, _ = poll("d10", lastMod=doc9.updated)
    assert code == "304"


def test_curl_head(feedgate, tmp_path):
    producer = feedgate.producer()
    seed(producer)
    wait_next_second()
    url = feedgate.url("/feeds/news")
    # With -I, curl writes the response head to the -o file.
    assert curl(tmp_path, "-I", "-o", "h1", "-w", "%{http_code}", url) == "200"
    _, h1 = headers_of(tmp_path / "h1")
    assert_etag_header(h1["ETag"])
    assert h1["Content-Type"].startswith("application/rss+xml"), h1["Content-Type"]
    code = curl(tmp_path, "-I", "-o", "h2", "-w", "%{http_code}", "-H", f"If-None-Match: {h1['ETag']}", url)
    assert code == "304"
    _, h2 = headers_of(tmp_path / "h2")
    assert h2["ETag"] == h1["ETag"]


def _rfc3339(value: str) -> float:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def email_date(ts: float) -> str:
    import email.utils

    return email.utils.formatdate(ts, usegmt=True)
