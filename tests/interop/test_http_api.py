"""Plain-HTTP checks (urllib) of what the feedparser and curl tests rely on: the producer API,
format negotiation, validator parsing, problem+json errors and well-formed XML."""

from __future__ import annotations

import email.utils
import urllib.parse

import pytest

from fgclient import (
    Producer,
    assert_etag_header,
    assert_problem,
    parse_feed,
    payload_for,
    request,
    split_etag,
    wait_next_second,
)


def test_producer_statuses_and_item_json(feedgate):
    p = feedgate.producer()
    ack1 = p.add("x-1", payload_for("x-1", "One"))
    assert ack1["seq"] == 1
    ack2 = p.update("x-1", payload_for("x-1", "One, again"))
    assert ack2["seq"] == 2
    assert split_etag(ack1["etag"])[0] == split_etag(ack2["etag"])[0], "one epoch per log"
    p.unchanged("x-1", payload_for("x-1", "One, again"))
    resp = p.get("x-1")
    assert resp.status == 200, resp
    assert resp.json()["title"] == "One, again"
    p.remove("x-1")
    assert_problem(p.get("x-1"), 404, "item_not_found")
    assert_problem(p.delete("x-1"), 404, "item_not_found")
    assert_problem(request("GET", feedgate.url("/feeds/nope")), 404, "feed_not_found")
    assert_problem(Producer(feedgate.base, "nope").put("a", {"title": "t"}), 404, "feed_not_found")


def test_item_ids_are_percent_decoded(feedgate):
    p = feedgate.producer()
    odd = ["a b", "ü/ñ?x=1&y#frag", "100%", "tag:example.org,2025:item-9", "+plus+"]
    for n, item_id in enumerate(odd, 1):
        ack = p.add(item_id, payload_for(item_id, f"Odd {n}"))
        assert ack["seq"] == n
        resp = p.get(item_id)
        assert resp.status == 200 and resp.json()["title"] == f"Odd {n}", resp
    wait_next_second()
    rss = parse_feed(request("GET", feedgate.url("/feeds/news.rss")).body)
    assert [e.id for e in rss.entries] == odd
    atom = parse_feed(request("GET", feedgate.url("/feeds/news.atom")).body)
    atom_ids = [e.id for e in atom.entries]
    assert atom_ids[3] == "tag:example.org,2025:item-9", "an id that is an IRI is kept as the Atom id"
    assert len(set(atom_ids)) == len(odd), atom_ids
    for atom_id in atom_ids:
        assert urllib.parse.urlsplit(atom_id).scheme, atom_id


def test_batch_is_atomic(feedgate):
    p = feedgate.producer()
    p.add("keep", payload_for("keep", "Keep"))
    head = '"%s"' % p.add("drop", payload_for("drop", "Drop"))["etag"]

    resp = request("POST", feedgate.url("/feeds/news/items"), body=[
        {"id": "new-1", "title": "New 1"},
        {"id": "keep", "title": "Keep v2"},
        {"id": "", "title": "an empty id is invalid"},
    ])
    assert 400 <= resp.status < 500, resp
    assert_problem(resp, resp.status)
    assert p.get("new-1").status == 404, "a rejected batch leaves no trace"
    assert p.get("keep").json()["title"] == "Keep"
    r = request("GET", feedgate.url("/feeds/news"), headers={"If-None-Match": head})
    assert r.status == 304, r

    resp = p.batch([
        {"id": "new-1", "title": "New 1"},
        {"id": "keep", "title": "Keep v2"},
        {"id": "drop", "deleted": True},
    ])
    assert 200 <= resp.status < 300, resp
    _, seq = assert_etag_header(resp.header("ETag"))
    assert seq == 5
    r = request("GET", feedgate.url("/feeds/news.rss"), headers={"If-None-Match": head})
    assert r.status == 200, r
    doc = parse_feed(r.body)
    assert [(e.id, e.action, e.tick) for e in doc.entries] == [
        ("new-1", "add", 3), ("keep", "update", 4), ("drop", "delete", 5)]


def test_format_negotiation(feedgate):
    feedgate.producer().add("a", payload_for("a", "A"))
    wait_next_second()

    def fmt(path, accept=None):
        r = request("GET", feedgate.url(path), headers={"Accept": accept} if accept else {})
        assert r.status == 200, r
        ctype = r.header("Content-Type").split(";")[0].strip()
        doc = parse_feed(r.body)
        assert ctype == {"rss": "application/rss+xml", "atom": "application/atom+xml"}[doc.format], ctype
        return doc.format

    assert fmt("/feeds/news") == "rss"
    assert fmt("/feeds/news", "*/*") == "rss"
    assert fmt("/feeds/news.atom") == "atom"
    assert fmt("/feeds/news?format=atom") == "atom"
    assert fmt("/feeds/news", "application/atom+xml") == "atom"
    assert fmt("/feeds/news.rss", "application/atom+xml") == "rss"
    assert fmt("/feeds/news?format=rss", "application/atom+xml") == "rss"


def test_validator_forms(feedgate):
    p = feedgate.producer()
    p.add("a", payload_for("a", "A"))
    p.add("b", payload_for("b", "B"))
    wait_next_second()
    url = feedgate.url("/feeds/news.rss")
    first = request("GET", url)
    epoch, seq = assert_etag_header(first.header("ETag"))
    assert seq == 2

    def get(**headers):
        return request("GET", url, headers=headers)

    for tag in (f'"{epoch}.2"', f'W/"{epoch}.2"', f"{epoch}.2", f'"{epoch}.1", "{epoch}.2"', f'"other.9", "{epoch}.2"', "*"):
        r = get(**{"If-None-Match": tag})
        assert r.status == 304, (tag, r)
        if tag != "*":
            assert r.header("ETag") == f'"{epoch}.2"', (tag, r)
    r = get(**{"If-None-Match": f'W/"{epoch}.1"'})
    assert r.status == 200 and [e.id for e in parse_feed(r.body).entries] == ["b"], r
    # If-None-Match wins over If-Modified-Since.
    r = get(**{"If-None-Match": f'"{epoch}.1"', "If-Modified-Since": first.header("Last-Modified")})
    assert r.status == 200 and [e.id for e in parse_feed(r.body).entries] == ["b"], r
    # A bad validator is never an error: foreign epoch, seq beyond head, garbage, bad date -> catch-up.
    for headers in ({"If-None-Match": '"other.1"'}, {"If-None-Match": f'"{epoch}.99"'},
                    {"If-None-Match": "garbage"}, {"If-Modified-Since": "not a date"}):
        r = get(**headers)
        assert r.status == 200, (headers, r)
        doc = parse_feed(r.body)
        assert doc.sync_mode == "catchUp" and [e.id for e in doc.entries] == ["a", "b"], (headers, r)
    # The three HTTP-date forms.
    lm = first.header("Last-Modified")
    t = email.utils.parsedate_to_datetime(lm)
    for form in (lm, t.strftime("%A, %d-%b-%y %H:%M:%S GMT"), t.strftime("%a %b ") + f"{t.day:>2}" + t.strftime(" %H:%M:%S %Y")):
        r = get(**{"If-Modified-Since": form})
        assert r.status == 304, (form, r)


@pytest.mark.parametrize("path", ["/feeds/news.rss", "/feeds/news.atom"])
def test_documents_are_well_formed_xml(feedgate, path):
    p = feedgate.producer()
    p.add("esc", {"title": "<script>&amp;\"'</script> ]]> end", "summary": "<p>a & b</p>",
                  "content": "<div><b>bold</b></div>", "content_type": "html",
                  "categories": ["x<y", "a&b"], "author": "A <a@example.org>"})
    resp = p.put("ctl", {"title": "bell\u0007 vt\u000b nul\u0000 fffe\ufffe ok", "summary": "esc\u001b"})
    assert resp.status in (201, 400, 422), resp
    if resp.status != 201:
        assert_problem(resp, resp.status, "invalid_item")
    wait_next_second()
    r = request("GET", feedgate.url(path))
    assert r.status == 200, r
    doc = parse_feed(r.body)  # expat raises on any ill-formed byte
    assert "<script>&amp;\"'</script> ]]> end" in [e.title for e in doc.entries]


def test_restart_keeps_log_and_epoch(feedgate_factory):
    first = feedgate_factory()
    p = first.producer()
    p.add("a", payload_for("a", "A"))
    head = p.add("b", payload_for("b", "B"))["etag"]
    first.shutdown()  # acknowledged writes are durable; SIGTERM exits 0

    second = feedgate_factory(workdir=first.workdir)
    r = request("GET", second.url("/feeds/news"), headers={"If-None-Match": f'"{head}"'})
    assert r.status == 304, "the epoch survives a restart, so consumer positions stay valid"
    assert r.header("ETag") == f'"{head}"'
    p2 = second.producer()
    assert p2.get("b").json()["title"] == "B"
    assert p2.add("c", payload_for("c", "C"))["seq"] == 3


def test_data_dir_flag_overrides_config(feedgate_factory, tmp_path):
    flag_dir = tmp_path / "flag-data"
    server = feedgate_factory(args=["--config", str(tmp_path / "feedgate0" / "feedgate.toml"),
                                    "--data-dir", str(flag_dir)])
    server.producer().add("a", payload_for("a", "A"))
    assert flag_dir.is_dir() and any(flag_dir.iterdir()), "--data-dir must override data_dir"
    assert not (server.data_dir.exists() and any(server.data_dir.iterdir()))


def test_ops_endpoints(feedgate):
    server = feedgate
    assert request("GET", server.url("/healthz")).status == 200
    assert request("GET", server.url("/readyz")).status == 200
    feeds = request("GET", server.url("/feeds"))
    assert feeds.status == 200, feeds
    assert "news" in feeds.body.decode(), feeds
    r = request("POST", server.url("/feeds/news"))
    assert_problem(r, 405, "method_not_allowed")
    assert r.header("Allow"), r


def test_starts_without_config(feedgate_factory, tmp_path):
    server = feedgate_factory(args=["--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "bare")])
    assert request("GET", server.url("/healthz")).status == 200
    assert_problem(request("GET", server.url("/feeds/news")), 404, "feed_not_found")
