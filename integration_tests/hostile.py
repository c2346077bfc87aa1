"""A small hostile server for the tests: a loopback proxy in front of the emulator.

`spoil(handler, n)` may answer the n-th request itself (and return True), as a server
that throttles or errs; `rewrite(path, body)` may change a relayed body, as a server that
sends values the emulator never does (a 30-digit integer, a 50 MB string). Bound to
127.0.0.1 only; every request is relayed once, with a timeout, so nothing loops.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Spoil = Callable[[BaseHTTPRequestHandler, int], bool]
Rewrite = Callable[[str, bytes], bytes]


def _never(handler: BaseHTTPRequestHandler, n: int) -> bool:
    return False


def _unchanged(path: str, body: bytes) -> bytes:
    return body


class HostileProxy:
    def __init__(self, upstream: str, spoil: Spoil = _never, rewrite: Rewrite = _unchanged):
        parts = urlsplit(upstream)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        proxy = self
        self.requests = 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                with proxy._lock:
                    proxy.requests += 1
                    n = proxy.requests
                if spoil(self, n):
                    return
                upstream = http.client.HTTPConnection(host, port, timeout=10)
                try:
                    headers = {
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() not in ("host", "accept-encoding")
                    }
                    upstream.request("GET", self.path, headers=headers)
                    answer = upstream.getresponse()
                    body = answer.read()
                finally:
                    upstream.close()
                if 200 <= answer.status < 300:
                    body = rewrite(self.path, body)
                self.send_response(answer.status)
                for name in ("Content-Type", "Date", "Retry-After"):
                    value = answer.getheader(name)
                    if value:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}{parts.path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HostileProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
