"""HTTP/1.1 keep-alive server: routing, auth, faults, counters and churn around handlers.

Built on the standard library's ThreadingHTTPServer (one thread per connection);
responses are written in one `sendall` with an exact Content-Length, and Nagle is off
so small responses on a kept-alive connection are not delayed. The hostile faults
(`trickle`, `oversize`) write theirs piece by piece, still with an exact Content-Length.
"""

from __future__ import annotations

import contextlib
import email.utils
import socket
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from . import control
from .api import Request, match
from .core import Core
from .errors import ApiError
from .faults import MIB, gzip_bomb, oversize_chunks

API_PREFIX = "/api"
CONTROL_PREFIX = "/_control"
_FAULT_STATUS = {"429": 429, "500": 500, "502": 502, "503": 503, "504": 504}


def error_body(message: str) -> bytes:
    return orjson.dumps({"message": message})


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threading server that can cut its open keep-alive connections on shutdown."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], core: Core) -> None:
        self.core = core
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, EmulatorHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open client socket (their handler threads then exit)."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class EmulatorHandler(BaseHTTPRequestHandler):
    """One connection; `handle_one_request` dispatches every method to `_dispatch`."""

    protocol_version = "HTTP/1.1"
    server_version = "contractfit-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are closed after this many seconds
    server: EmulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence per-request logging (it would dominate the serving cost)."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET  # noqa: N815

    # ------------------------------------------------------------ plumbing

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            size = int(length)
        except ValueError:
            return b""
        return self.rfile.read(size) if size > 0 else b""

    def _head(self, status: int, length: int, extra: dict[str, str] | None, close: bool) -> bytes:
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        lines = [
            f"HTTP/1.1 {status} {reason}",
            "Content-Type: application/json",
            f"Content-Length: {length}",
            # The virtual clock's present, as a real server states its own (RFC 9110).
            f"Date: {email.utils.formatdate(self.server.core.clock.now() / 1e6, usegmt=True)}",
        ]
        for name, value in (extra or {}).items():
            lines.append(f"{name}: {value}")
        if self.close_connection or close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(
        self,
        status: int,
        body: bytes,
        extra: dict[str, str] | None = None,
        truncate: bool = False,
    ) -> None:
        head = self._head(status, len(body), extra, truncate)
        payload = body[: len(body) // 2] if truncate else body
        if self.command == "HEAD":
            payload = b""
        try:
            self.wfile.write(head + payload)
        except OSError:
            self.close_connection = True
            return
        if truncate:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_WR)  # FIN after the half body

    def _send_trickle(
        self, status: int, body: bytes, extra: dict[str, str] | None, seconds: float
    ) -> None:
        """The `trickle` fault: the real answer, its body one byte every `seconds`."""
        try:
            self.wfile.write(self._head(status, len(body), extra, False))
            if self.command == "HEAD":
                return
            for index in range(len(body)):  # ends early when the client goes away
                time.sleep(seconds)
                self.wfile.write(body[index : index + 1])
        except OSError:
            self.close_connection = True

    def _send_chunks(self, size: int, chunks: Iterator[bytes]) -> None:
        """A 200 of exactly `size` bytes, written chunk by chunk (never built whole)."""
        try:
            self.wfile.write(self._head(200, size, None, False))
            if self.command == "HEAD":
                return
            for chunk in chunks:  # ends early when the client goes away
                self.wfile.write(chunk)
        except OSError:
            self.close_connection = True

    # ------------------------------------------------------------ dispatch

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        path = unquote(split.path)
        query: dict[str, str] = {}
        for key, value in parse_qsl(split.query, keep_blank_values=True):
            query.setdefault(key, value)
        body = self._read_body()
        core = self.server.core
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            status, payload = control.handle(
                core, self.command, path[len(CONTROL_PREFIX) :], query, body
            )
            self._send(status, payload)
            return
        if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
            self._send(404, error_body(f"Not Found: {path} (the API lives under /api)"))
            return
        self._api(core, path[len(API_PREFIX) :] or "/", query, body)

    def _api(self, core: Core, path: str, query: dict[str, str], body: bytes) -> None:
        method = self.command
        try:
            route, params = match(method, path)
            template = route.template
        except ApiError as exc:
            route, params, template = None, {}, "<unknown>"
            routing_error: ApiError | None = exc
        else:
            routing_error = None

        fault = core.faults.draw(path)
        truncate = False
        if fault is not None:
            if fault == "drop":
                core.count(method, template, "drop")
                self.close_connection = True
                return
            if fault == "oversize":
                core.count(method, template, fault)
                size = core.faults.config.oversize_mb * MIB
                self._send_chunks(size, oversize_chunks(size))
                self.close_connection = True  # a client that refused it hangs up mid-body
                return
            if fault == "gzip_bomb":
                core.count(method, template, fault)
                bomb = gzip_bomb(core.faults.config.bomb_mb * MIB)
                self._send(200, bomb, {"Content-Encoding": "gzip"})
                self.close_connection = True
                return
            if fault == "slow":
                time.sleep(core.faults.config.slow_seconds)
            elif fault == "truncate":
                truncate = True
            elif fault in ("cut", "trickle"):
                pass  # the handler answers; the answer is spoiled below
            else:
                status = _FAULT_STATUS[fault]
                core.count(method, template, fault)
                extra = None
                if status in (429, 503):
                    extra = {"Retry-After": str(core.faults.config.retry_after)}
                self._send(status, error_body(HTTPStatus(status).phrase), extra)
                return

        status, payload, extra = 200, b"", None
        request: Request | None = None
        try:
            if routing_error is not None:
                raise routing_error
            assert route is not None
            request = Request(method, path, query, self.headers, body, params)
            if not route.public:
                request.user = core.auth.authenticate(self.headers, query)
            result = route.handler(core, request)
            payload = result if isinstance(result, bytes) else orjson.dumps(result)
        except ApiError as exc:
            status, payload, extra = exc.status, error_body(exc.message), exc.headers or None
        except Exception as exc:  # a bug in a handler: answer 500, keep serving
            status, payload = 500, error_body(f"Internal Server Error: {exc!r}")
        cut = fault == "cut" and status == 200
        served = request.documents if request is not None and status == 200 else 0
        if truncate or cut or fault == "trickle":
            core.count(method, template, str(fault), served)
        else:
            core.count(method, template, str(status), served)
        delay = core.delay(served)
        if delay > 0:
            time.sleep(delay)  # this connection's thread only: other requests go on
        if status == 200:
            core.after_request(path, params.get("inbox_id") or params.get("scope"))
        if cut:  # a prefix, announced as the whole body: complete, yet not JSON
            payload = payload[: len(payload) // 2]
        if fault == "trickle":
            self._send_trickle(status, payload, extra, core.faults.config.slow_seconds)
            return
        self._send(status, payload, extra, truncate=truncate)
