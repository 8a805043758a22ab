"""A TCP proxy that a test controls, between a client and feedgate, for the interop suite.

`CutProxy(upstream_base)` listens on a free loopback port (`base`) and forwards each connection
to feedgate byte for byte, each on a connection of its own. It reads every connection's request
head before forwarding it and records it in `requests` (method, target, headers), in arrival
order, so a test sees whether and how a client reconnected.

- `cut()` ends every open connection on both sides at once: the client sees the server end its
  response (a FIN), as when feedgate drops a stream's connection.
- `hold()` parks new connections: their heads are read and recorded (`RequestHead.held`) but
  nothing reaches feedgate until `release()`.
- `close()` stops listening, releases what is held and cuts what is open.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time

MAX_HEAD = 64 * 1024


@dataclasses.dataclass
class RequestHead:
    method: str
    target: str
    headers: dict[str, str]  # names lowercased; a repeated name keeps its last value
    held: bool  # arrived while the proxy held new connections

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def parse_head(raw: bytes, held: bool) -> RequestHead:
    lines = raw.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return RequestHead(method, target, headers, held)


class CutProxy:
    def __init__(self, upstream_base: str):
        host, _, port = upstream_base.removeprefix("http://").rpartition(":")
        self.upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.requests: list[RequestHead] = []
        self._changed = threading.Condition()
        self._open: set[socket.socket] = set()
        self._released = threading.Event()
        self._released.set()
        threading.Thread(target=self._accept, name="cutproxy-accept", daemon=True).start()

    # ------------------------------------------------------------------ control
    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def cut(self) -> int:
        """End every open connection (client and feedgate sides); the number of sockets ended."""
        with self._changed:
            sockets = list(self._open)
            self._open.clear()
        for s in sockets:
            _shutdown(s)  # wakes the pumps blocked on it; they close the sockets
        return len(sockets)

    def wait_for_requests(self, count: int, timeout: float) -> list[RequestHead]:
        """The recorded request heads once there are at least `count` (AssertionError if not in time)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"the proxy saw {len(self.requests)} request(s) within {timeout}s, "
                        f"not {count}: {self.requests}")
                self._changed.wait(left)
            return list(self.requests)

    def close(self) -> None:
        _shutdown(self._listener)  # wakes accept()
        self._listener.close()
        self.release()
        self.cut()

    # ------------------------------------------------------------------ forwarding
    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), name="cutproxy-conn", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self._track(client)
        upstream = None
        try:
            head = self._read_head(client)
            if head is None:
                return  # closed (or cut) before a whole request head arrived
            with self._changed:
                self.requests.append(parse_head(head.split(b"\r\n\r\n", 1)[0], not self._released.is_set()))
                self._changed.notify_all()
            self._released.wait()
            with self._changed:
                if client not in self._open:
                    return  # cut while held
            upstream = socket.create_connection(self.upstream, timeout=10)
            upstream.settimeout(None)
            self._track(upstream)
            upstream.sendall(head)
            back = threading.Thread(target=self._pump, args=(upstream, client), name="cutproxy-down", daemon=True)
            back.start()
            self._pump(client, upstream)
            back.join()
        except OSError:
            pass  # a side went away (or was cut) while sending
        finally:
            for s in (client, upstream):
                if s is not None:
                    _shutdown(s)
                    with self._changed:
                        self._open.discard(s)
                    s.close()

    def _track(self, s: socket.socket) -> None:
        with self._changed:
            self._open.add(s)

    @staticmethod
    def _read_head(client: socket.socket) -> bytes | None:
        """The bytes up to and including the end of the request head (and whatever came with them)."""
        buf = b""
        while b"\r\n\r\n" not in buf:
            if len(buf) > MAX_HEAD:
                return None
            try:
                data = client.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            buf += data
        return buf

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        """Copy src to dst until either side ends, then end both (so the other pump stops too)."""
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        _shutdown(src)
        _shutdown(dst)


def _shutdown(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected any more, or already closed
