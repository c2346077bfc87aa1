"""The emulator as a subprocess (EmulatorProcess) and its command line."""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from contractfit_emulator import ADMIN_API_KEY, ADMIN_USERNAME, EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]


def test_process_serves_and_dies_on_kill() -> None:
    with EmulatorProcess(seed=9, inboxes=2, documents=200, now="2026-01-01T00:00:00Z") as emu:
        assert emu.base_url.endswith("/api") and emu.port > 0 and emu.pid > 0
        assert len(emu.inbox_ids) == 2
        parts = urlsplit(emu.base_url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request(
            "GET",
            f"{parts.path}/inboxes/{emu.inbox_ids[0]}/paginated?per_page=5",
            headers={"X-API-Key": ADMIN_API_KEY},
        )
        response = conn.getresponse()
        assert response.status == 200 and len(response.read()) > 0
        assert emu.control.state()["inboxes"][0]["documents"] == 100
        emu.kill()
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            conn.request("GET", f"{parts.path}/about/version", headers={"X-API-Key": ADMIN_API_KEY})
            conn.getresponse().read()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{emu.base_url}/about/version", timeout=2)


def test_cli_prints_urls_credentials_and_inboxes(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "contractfit_emulator",
            "--port",
            "0",
            "--documents",
            "30",
            "--inboxes",
            "2",
            "--seed",
            "1",
            "--now",
            "2026-01-01T00:00:00Z",
            "--ready-file",
            str(ready),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    try:
        lines = [process.stdout.readline() for _ in range(10)] if process.stdout else []
        text = "".join(lines)
        assert "base URL:    http://127.0.0.1:" in text and "/api" in text
        assert "control URL: http://127.0.0.1:" in text and "/_control" in text
        assert ADMIN_USERNAME in text and ADMIN_API_KEY in text and "viewer" in text
        assert text.count("inbox ") >= 2
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_cli_rejects_unknown_fault_kind() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "contractfit_emulator",
            "--port",
            "0",
            "--documents",
            "5",
            "--faults",
            "teapot",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode != 0
    assert "teapot" in result.stderr


def test_bytes_identical_across_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = []
    for hash_seed in ("1", "2"):
        monkeypatch.setenv("PYTHONHASHSEED", hash_seed)
        with EmulatorProcess(seed=4, inboxes=2, documents=120, now="2025-03-01T08:00:00Z") as emu:
            headers = {"X-API-Key": ADMIN_API_KEY}
            inbox = emu.inbox_ids[0]
            bodies.append(
                [
                    httpx.get(f"{emu.base_url}{path}", headers=headers).content
                    for path in (
                        f"/inboxes/{inbox}/paginated?per_page=100",
                        f"/stats/{inbox}/automation_blockers?include_detail=true",
                        f"/inboxes/{inbox}/document_versions",
                        "/users",
                    )
                ]
            )
    assert bodies[0] == bodies[1]
