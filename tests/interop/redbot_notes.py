"""Run REDbot (the `redbot` package from PyPI) on one URL and print its notes as JSON.

    python3 redbot_notes.py URL [NAME: VALUE ...]

This is what `redbot URL` does (the same `HttpResource` check, with the same subrequests:
conditional, range, compression, HEAD and content negotiation checks), with two additions the
CLI lacks: request headers (`If-None-Match` for a feed read in header form) and machine-readable
output: a JSON list of `{"id", "level", "summary"}` (subnotes flattened after their note), where
`id` is the note's class name and `level` one of good, info, warning, bad.
"""

from __future__ import annotations

import json
import sys
from configparser import ConfigParser

import thor
from redbot.resource import HttpResource


def notes_of(url: str, headers: list[tuple[str, str]]) -> list[dict]:
    config = ConfigParser()
    config.read_dict({"redbot": {"enable_local_access": "True"}})
    resource = HttpResource(config["redbot"])
    resource.set_request(url, headers=headers)

    @thor.events.on(resource)
    def check_done() -> None:
        thor.stop()

    resource.check()
    thor.run()
    if not resource.response.complete:
        raise SystemExit(f"REDbot could not fetch {url}: {resource.fetch_error}")
    out: list[dict] = []

    def add(note) -> None:
        out.append({"id": type(note).__name__, "level": note.level.value, "summary": note.summary})
        for sub in note.subnotes:
            add(sub)

    for note in resource.response.notes:
        add(note)
    out.append({"id": "_status", "level": "info", "summary": str(resource.response.status_code)})
    return out


if __name__ == "__main__":
    url, *raw = sys.argv[1:]
    headers = [tuple(part.strip() for part in h.split(":", 1)) for h in raw]
    print(json.dumps(notes_of(url, headers), indent=1))
