"""An origin for content mirroring: files from a directory over HTTP/1.1, with single byte ranges
(`Range: bytes=N-` and `N-M`, `If-Range` against its ETag), an optional rate limit (bytes per
second, so a test can kill a gateway mid-download), and a record of each request's Range header.
Standard library only; run in a thread on 127.0.0.1:0."""

from __future__ import annotations

import hashlib
import http.server
import pathlib
import threading
import time


class FileOrigin:
    def __init__(self, root: pathlib.Path, rate: int | None = None):
        self.root = root
        self.rate = rate
        self.ranges: list[tuple[str, str | None]] = []  # (path, Range header) per request
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                origin.ranges.append((self.path, self.headers.get("Range")))
                path = origin.root / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
                start, end, status = 0, len(data) - 1, 200
                rng = self.headers.get("Range", "")
                if rng.startswith("bytes=") and self.headers.get("If-Range", etag) == etag:
                    first, _, last = rng[6:].partition("-")
                    if first.isdigit():
                        start = int(first)
                        end = min(int(last), end) if last.isdigit() else end
                        status = 206
                if start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(end - start + 1))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.end_headers()
                body = data[start:end + 1]
                step = 16384
                for i in range(0, len(body), step):
                    try:
                        self.wfile.write(body[i:i + step])
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    if origin.rate:
                        time.sleep(step / origin.rate)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
