"""A hostile server echoes the credentials back: no output holds them, in any form.

The stub (127.0.0.1 only) answers every GET with a 302 whose `Location` carries the
request's `Authorization` header, and the password decoded from it, raw, URL-encoded
(`quote`, `quote_plus`) and JSON-escaped. `contractfit export`'s stderr and `read`'s
messages (logs and the ERROR trace) are grepped for the Basic token, the password and the
JWT in every escaped form. A redirect to another origin is never followed, so the other
origin never sees the credentials.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_contractfit.airbyte.source import SourceContractfit
from source_contractfit.cli.demo import configured_catalog
from source_contractfit.export.exporter import run_export

from .bad_inputs import run_read

USERNAME = "hostile-user"
# Characters that every escape writes differently: quotes, slash, plus, space, %, é.
PASSWORD = "P'a\"ss/w+o rd%é-Secret-42"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJob3N0aWxlIn0.aG9zdGlsZS1zaWduYXR1cmU"
BASIC = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode("ascii")


def forms(secret: str) -> set[str]:
    """Every form of `secret` that must not appear, quotes of repr/JSON stripped."""
    return {
        secret,
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        repr(secret.encode())[2:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
    }


SECRET_FORMS = sorted(forms(PASSWORD) | forms(BASIC) | forms(JWT), key=len)


def leaks(text: str) -> list[str]:
    return [form for form in SECRET_FORMS if form in text]


class _Echo(BaseHTTPRequestHandler):
    """302 to a `Location` that echoes the credentials; POST /auth hands out `JWT`."""

    other_origin = ""  # where the redirect points
    seen: list[str] = []  # requests the other origin got (it must get none)

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(min(length, 1 << 16))
        self._answer(200, json.dumps({"authentication_token": JWT}).encode())

    def do_GET(self) -> None:  # noqa: N802
        auth = self.headers.get("Authorization", "")
        password = ""
        if auth.startswith("Basic "):
            password = base64.b64decode(auth[6:]).decode().partition(":")[2]
        location = (
            f"{self.other_origin}/api/inboxes?auth={auth}&q={quote(auth, safe='')}"
            f"&p={quote_plus(auth)}&pw={quote(password, safe='')}&pp={quote_plus(password)}"
            f"&j={json.dumps(password)[1:-1]}"
        )
        self.send_response(302)
        self.send_header("Location", location.encode("utf-8").decode("latin-1"))
        self.send_header("Content-Type", "application/json")
        body = json.dumps({"message": f"moved; you sent {auth}"}).encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Other(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        _Echo.seen.append(f"{self.path} {self.headers.get('Authorization')}")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    with serving(_Other) as other, serving(_Echo) as base:
        _Echo.other_origin = other
        _Echo.seen.clear()
        yield f"{base}/api"
        assert _Echo.seen == []  # the other origin never got a request


def config(base: str, auth_type: str) -> dict[str, Any]:
    credentials = {"auth_type": auth_type, "username": USERNAME, "password": PASSWORD}
    return {"base_url": base, "credentials": credentials, "max_retry_seconds": 0}


@pytest.mark.parametrize("auth_type", ["basic", "token"])
def test_read_masks_credentials_a_redirect_echoes(
    echo: str, tmp_path: Path, auth_type: str
) -> None:
    code, messages = run_read(tmp_path, config(echo, auth_type), configured_catalog(["inboxes"]))
    text = json.dumps(messages, ensure_ascii=False) + json.dumps(messages)
    errors = [m for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    assert code == 1 and len(errors) == 1
    trace = errors[0]["trace"]["error"]
    assert "was redirected (302)" in trace["message"] and "****" in trace["message"]
    assert trace["failure_type"] == "config_error"
    assert leaks(text) == []
    assert leaks(trace["message"] + trace.get("internal_message", "")) == []


@pytest.mark.parametrize("auth_type", ["basic", "token"])
def test_export_masks_credentials_a_redirect_echoes(
    echo: str, tmp_path: Path, auth_type: str
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config(echo, auth_type)))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run_export(str(path), str(tmp_path / "out.duckdb"), None, None, False, False, True)
    assert code == 2, err.getvalue()
    assert "was redirected (302)" in err.getvalue() and "****" in err.getvalue()
    assert leaks(out.getvalue() + err.getvalue()) == []
    # Refused before the API answered, the run wrote nothing a secret could hide in
    # (test_secrets.py greps the files of runs that do write).
    assert [p for p in tmp_path.rglob("*") if p != path] == []


@pytest.mark.parametrize("auth_type", ["basic", "token"])
def test_cdk_check_masks_credentials_a_redirect_echoes(
    echo: str, tmp_path: Path, auth_type: str
) -> None:
    """`check` runs through the CDK's entrypoint (the platform's and PyAirbyte's path)."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config(echo, auth_type)))
    command = [sys.executable, "-m", "source_contractfit.airbyte.run", "check", "--config"]
    done = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=120)
    statuses = [
        json.loads(line)["connectionStatus"]
        for line in done.stdout.splitlines()
        if '"CONNECTION_STATUS"' in line
    ]
    assert len(statuses) == 1 and statuses[0]["status"] == "FAILED", done.stdout[-2000:]
    assert "was redirected (302)" in statuses[0]["message"]
    assert leaks(done.stdout + done.stderr) == []


@pytest.mark.parametrize("auth_type", ["basic", "token"])
def test_cdk_read_in_process_masks_credentials_a_redirect_echoes(echo: str, auth_type: str) -> None:
    """`SourceContractfit().read`, as a Python caller drives it: the trace is masked."""
    source = SourceContractfit()
    catalog = ConfiguredAirbyteCatalogSerializer.load(configured_catalog(["inboxes"]))
    with pytest.raises(AirbyteTracedException) as raised:
        list(source.read(logging.getLogger("test"), config(echo, auth_type), catalog, None))
    error = raised.value
    assert "was redirected (302)" in (error.message or "")
    assert leaks(f"{error.message} {error.internal_message}") == []
