"""No secret leaves the process: every command, run with known secrets, is grepped.

The password, the API key, the Basic header's base64 and any JWT the emulator issued must
appear in no stdout, stderr, log line, trace message, nor any file the exporter writes,
whether the run succeeds or fails (a wrong password is a secret too), at debug verbosity.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from contractfit_emulator import Emulator
from contractfit_emulator.tenant import ADMIN_API_KEY, ADMIN_PASSWORD, ADMIN_USERNAME
from source_contractfit.cli.demo import configured_catalog

WRONG_PASSWORD = "Wr0ng-but-still-a-Secret-42"
JWT = re.compile(rb"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")


def secrets() -> list[bytes]:
    """Every secret in every escaped form: raw, repr, JSON, URL-encoded."""
    basic = base64.b64encode(f"{ADMIN_USERNAME}:{ADMIN_PASSWORD}".encode()).decode()
    forms: set[str] = set()
    for secret in (ADMIN_API_KEY, ADMIN_PASSWORD, basic, WRONG_PASSWORD):
        forms |= {
            secret,
            repr(secret)[1:-1],
            json.dumps(secret)[1:-1],
            quote(secret, safe=""),
            quote(secret),
            quote_plus(secret),
        }
    return sorted(form.encode() for form in forms)


def leaks(data: bytes) -> list[str]:
    found = [s.decode() for s in secrets() if s in data]
    found += [m.group(0)[:20].decode() + "..." for m in JWT.finditer(data)]
    return found


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=41, inboxes=2, documents=120, days=10, jwt_lifetime=2) as emulator:
        yield emulator


def config(emu: Emulator, auth_type: str, secret: str = ADMIN_PASSWORD) -> dict[str, Any]:
    if auth_type == "api_key":
        credentials = {"auth_type": "api_key", "api_key": ADMIN_API_KEY}
    else:
        credentials = {"auth_type": auth_type, "username": ADMIN_USERNAME, "password": secret}
    return {"base_url": emu.base_url, "credentials": credentials, "page_size": 20}


def run(tmp: Path, *args: str) -> bytes:
    command = [sys.executable, "-m", *args]
    done = subprocess.run(command, capture_output=True, timeout=300)
    return done.stdout + done.stderr


def test_no_command_prints_or_writes_a_secret(emu: Emulator, tmp_path: Path) -> None:
    files = {
        name: tmp_path / f"{name}.json"
        for name in ("api_key", "basic", "token", "wrong_basic", "wrong_token")
    }
    for name, path in files.items():
        auth, _, wrong = name.partition("_")
        auth = "api_key" if name == "api_key" else (wrong or auth)
        secret = WRONG_PASSWORD if name.startswith("wrong") else ADMIN_PASSWORD
        path.write_text(json.dumps(config(emu, auth, secret)))
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(configured_catalog(["documents", "users", "inboxes"])))
    source = ("source_contractfit.airbyte.run",)
    exporter = ("source_contractfit.cli.main", "export", "--verbose")
    db, parquet = str(tmp_path / "out.duckdb"), str(tmp_path / "parquet")
    outputs = {
        "spec": run(tmp_path, *source, "spec"),
        "check token": run(tmp_path, *source, "check", "--config", str(files["token"])),
        "check wrong basic": run(tmp_path, *source, "check", "--config", str(files["wrong_basic"])),
        "discover basic": run(tmp_path, *source, "discover", "--config", str(files["basic"])),
        "read token": run(
            tmp_path, *source, "read", "--config", str(files["token"]), "--catalog", str(catalog)
        ),
        "read wrong token": run(
            tmp_path,
            *source,
            "read",
            "--config",
            str(files["wrong_token"]),
            "--catalog",
            str(catalog),
        ),  # fmt: skip
        "export token": run(
            tmp_path,
            *exporter,
            "--config",
            str(files["token"]),
            "--duckdb",
            db,
            "--parquet",
            parquet,
        ),  # fmt: skip
        "export api_key": run(
            tmp_path,
            *exporter,
            "--config",
            str(files["api_key"]),
            "--duckdb",
            db,
        ),  # fmt: skip
        "export wrong basic": run(
            tmp_path,
            *exporter,
            "--config",
            str(files["wrong_basic"]),
            "--duckdb",
            db,
        ),  # fmt: skip
        "report": run(tmp_path, "source_contractfit.cli.main", "report", "--duckdb", db),
    }
    # The runs really did authenticate, fail and log (else the grep proves nothing).
    assert b'"type":"RECORD"' in outputs["read token"]
    assert b"rejected the credentials" in outputs["read wrong token"]
    assert b"rejected the credentials" in outputs["export wrong basic"]
    assert b" INFO " in outputs["export token"] and b"Exported" in outputs["export token"]
    assert emu.control.request_count("POST", "/auth") >= 2
    for name, output in outputs.items():
        assert leaks(output) == [], name
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != tmp_path]
    written += [tmp_path / "out.duckdb"]
    assert len(written) > 5
    for path in written:
        assert leaks(path.read_bytes()) == [], path
