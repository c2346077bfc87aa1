"""Bad inputs and a stub API for them: what a user (or a broken server) can hand us.

`STUB` serves a minimal tenant on loopback whose answers are chosen per URL prefix, so
a test can point `base_url` at a server that returns HTML, 404s, non-JSON or JSON of
the wrong shape. `run_read` runs the console `read` in-process (no CDK, no subprocess)
and returns the exit code and the ERROR trace, as Airbyte would see them.
"""

from __future__ import annotations

import io
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from source_contractfit.airbyte.protocol import read_command

INBOX = "65f1a0aa9a1b2c3d4e5f0001"
DOCUMENT = {
    "id": "65f1c0de9a1b2c3d4e5f6071",
    "inbox": INBOX,
    "page_count": 1,
    "versions": [],
    "timings": {"receive_time": "2024-03-01T09:00:00.000000Z"},
    "flag_for_review": False,
}


def _page(results: list[Any]) -> bytes:
    return json.dumps(
        {"page": 1, "per_page": 100, "total": len(results), "results": results}
    ).encode()


# prefix -> {path suffix: (status, content type, body)}; "*" answers every other path.
ROUTES: dict[str, dict[str, tuple[int, str, bytes]]] = {
    "html": {"*": (200, "text/html", b"<!DOCTYPE html><html><body>Welcome</body></html>")},
    "nothing": {"*": (404, "text/html", b"<html>Not Found</html>")},
    "notjson": {
        "/inboxes": (200, "application/json", json.dumps([{"id": INBOX}]).encode()),
        "*": (200, "application/json", b'{"page": 1, "results": [{"id": '),
    },
    "shape": {
        "/inboxes": (200, "application/json", json.dumps([{"id": INBOX}]).encode()),
        "*": (200, "application/json", b'{"items": []}'),
    },
    "inboxshape": {"/inboxes": (200, "application/json", b'{"inboxes": []}')},
    "tls": {"/inboxes": (200, "application/json", json.dumps([{"id": INBOX}]).encode())},
    "types": {
        "/inboxes": (200, "application/json", json.dumps([{"id": INBOX}]).encode()),
        "/evaluated_versions": (200, "application/json", b'{"documents": []}'),
        "/paginated": (
            200,
            "application/json",
            _page([{**DOCUMENT, "versions": [{"name": "predicted", "annotations": {"iban": 7}}]}]),
        ),
    },
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = self.path.split("?", 1)[0]
        prefix, _, rest = path.lstrip("/").partition("/")
        routes = ROUTES.get(prefix, {})
        rest = "/" + rest.removeprefix("api/")
        answer = next(
            (v for k, v in routes.items() if k != "*" and rest.endswith(k)),
            routes.get("*", (404, "application/json", b'{"message": "not found"}')),
        )
        status, content_type, body = answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def stub_server(tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """http(s)://127.0.0.1:PORT of the stub; a base URL is that plus /<prefix>/api.

    With `tls` = (certificate, key) PEM files it speaks HTTPS only.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_read(
    tmp: Path,
    config: Any,
    catalog: Any,
    state: Any = None,
    raw_config: str | None = None,
    raw_state: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Exit code and every message of an in-process console read."""
    (tmp / "config.json").write_text(raw_config if raw_config is not None else json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(catalog))
    args = ["--config", str(tmp / "config.json"), "--catalog", str(tmp / "catalog.json")]
    if state is not None or raw_state is not None:
        (tmp / "state.json").write_text(raw_state if raw_state is not None else json.dumps(state))
        args += ["--state", str(tmp / "state.json")]
    out = io.BytesIO()
    code = read_command(args, out=out)
    return code, [orjson.loads(line) for line in out.getvalue().splitlines()]


def error_of(messages: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(failure_type, message) of the ERROR trace, if any."""
    for message in messages:
        trace = message.get("trace") or {}
        if message["type"] == "TRACE" and trace.get("type") == "ERROR":
            return trace["error"]["failure_type"], trace["error"]["message"]
    return None
