"""Faults that look like success, and requests without an end, end to end.

The connector runs as a subprocess (`contractfit export` or `source-contractfit read`)
against the emulator's hostile fault kinds (`cut`, `trickle`, `oversize`, `gzip_bomb`)
and against small hostile stdlib servers on loopback:

- 200s cut short with a consistent Content-Length are retried: the export has exactly
  the rows of a fault-free one;
- a body trickled one byte at a time is abandoned at `request_timeout_seconds` per
  attempt, and the run ends with the transient message in bounded time;
- an oversized body and a gzip bomb end the run with one system_error naming the cap,
  no traceback, and a peak RSS far below the body's size;
- `Retry-After: nan` (and inf, -1) is retried with the normal backoff, then succeeds;
- a refused port is a config_error naming the URL within seconds.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from contractfit_emulator import ADMIN_API_KEY, Emulator, EmulatorControl

from .conftest import api_key_config
from .helpers import catalog
from .hostile import HostileProxy
from .test_faults import digests

MIB = 1024 * 1024
CAP_MB = 8
TRANSIENT_END = ". The Contract.fit API is unavailable or rate-limiting; try again later."


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=24, inboxes=2, documents=300, days=20) as emulator:
        yield emulator


def export(
    tmp: Path, config: dict[str, Any], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    (tmp / "config.json").write_text(json.dumps(config))
    command = [sys.executable, "-m", "source_contractfit.cli.main", "export", "--quiet"]
    command += ["--config", str(tmp / "config.json"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def injected(emulator: Emulator, kind: str) -> int:
    return sum(s.get(kind, 0) for s in emulator.control.requests()["requests"].values())


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float

    def messages(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def errors(self) -> list[dict[str, Any]]:
        return [
            m["trace"]["error"]
            for m in self.messages()
            if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"
        ]


def peak_rss_mb(pid: int) -> float:
    """The high-water mark of a live process's own memory (VmHWM), 0 once it has exited.

    Not `ru_maxrss`: Linux carries the parent's RSS at fork into the child's across
    exec, so a child of a big test process would report the test process's size."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match[1]) / 1024 if match else 0.0


def read_measured(
    tmp: Path, config: dict[str, Any], streams: list[str], timeout: float = 20
) -> Measured:
    """`source-contractfit read` as a child process, with its wall time and peak RSS
    (sampled every 10 ms; a high-water mark, so a sample after a spike still sees it)."""
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(catalog(*streams)))
    command = [sys.executable, "-m", "source_contractfit.airbyte.run", "read"]
    command += ["--config", str(tmp / "config.json"), "--catalog", str(tmp / "catalog.json")]
    out, err = tmp / "stdout", tmp / "stderr"
    started = time.monotonic()
    peak = 0.0
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        while True:
            peak = max(peak, peak_rss_mb(proc.pid))
            if proc.poll() is not None:
                break
            if time.monotonic() - started > timeout:
                proc.kill()
                proc.wait()
                pytest.fail(f"the read still ran after {timeout} s (peak RSS {peak:.0f} MB)")
            time.sleep(0.01)
    assert peak > 0, "the child was never sampled"
    return Measured(
        proc.returncode, out.read_text(), err.read_text(), time.monotonic() - started, peak
    )


# -- the emulator's hostile faults -----------------------------------------------------


def test_200s_cut_short_are_retried_and_the_export_has_the_same_rows(
    emu: Emulator, tmp_path: Path
) -> None:
    config = api_key_config(emu.base_url, checkpoint_interval=50)
    clean, faulty = tmp_path / "clean.duckdb", tmp_path / "faulty.duckdb"
    assert export(tmp_path, config, "--duckdb", str(clean)).returncode == 0

    emu.control.reset_requests()
    emu.control.faults(0.15, kinds=["cut"], seed=3)
    done = export(tmp_path, config, "--duckdb", str(faulty))
    cuts = injected(emu, "cut")
    emu.control.faults_off()
    assert done.returncode == 0, done.stderr[-2000:]
    assert cuts >= 15, cuts
    print(f"200s cut short during the export: {cuts}")
    expected = digests(clean)
    assert expected["documents"][0] == 300
    assert digests(faulty) == expected  # every table: same row count, same content


def test_a_trickled_body_is_abandoned_per_attempt_and_the_run_ends_in_bounded_time(
    emu: Emulator, tmp_path: Path
) -> None:
    config = api_key_config(emu.base_url, request_timeout_seconds=2, max_retry_seconds=4)
    emu.control.faults(1.0, kinds=["trickle"], slow_seconds=0.3, paths=["/inboxes"])
    started = time.monotonic()
    target = ["--duckdb", str(tmp_path / "out.duckdb"), "--streams", "inboxes"]
    done = export(tmp_path, config, *target, timeout=30)
    elapsed = time.monotonic() - started
    trickled = injected(emu, "trickle")
    emu.control.faults_off()
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 3, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    match = re.search(
        r"failed after (\d+) attempt\(s\) over ([\d.]+)s: timed out \(the whole request took "
        r"over 2s\)" + re.escape(TRANSIENT_END) + "$",
        lines[0],
    )
    assert match, lines[0]
    attempts, over = int(match[1]), float(match[2])
    assert attempts >= 2 and trickled == attempts
    # Each attempt ends at ~2 s (the deadline plus at most one 0.3 s gap), then backoff.
    assert over / attempts < 2.8, (attempts, over)
    assert elapsed < 12, f"a 2 s timeout and a 4 s budget took {elapsed:.1f} s"
    print(f"trickle: exit 3 after {elapsed:.1f} s: {lines[0]}")


@pytest.mark.parametrize(
    ("kind", "extra"),
    [("oversize", {"oversize_mb": 300}), ("gzip_bomb", {"bomb_mb": 1024})],
)
def test_an_oversized_body_or_a_gzip_bomb_is_one_system_error_with_bounded_memory(
    emu: Emulator, tmp_path: Path, kind: str, extra: dict[str, int]
) -> None:
    emu.control.faults(1.0, kinds=[kind], paths=["/inboxes/"], **extra)
    config = api_key_config(emu.base_url, max_response_mb=CAP_MB)
    run = read_measured(tmp_path, config, ["documents"])
    # The first page of each inbox (2), and on a first read the newest-document probe
    # beside it (read/windows.py): none of them retried.
    assert 1 <= injected(emu, kind) <= 4
    pages = emu.control.requests()["paginated_per_page"]
    assert int(pages.get("100", 0)) <= 2 and int(pages.get("1", 0)) <= 2, pages
    emu.control.faults_off()
    assert run.returncode == 1, run.stderr[-2000:]
    errors = run.errors()
    assert len(errors) == 1, errors
    assert errors[0]["failure_type"] == "system_error"
    message = errors[0]["message"]
    assert re.search(
        r"GET /inboxes/[0-9a-f]{24}/paginated returned a response larger than 8 MB \(the "
        r"'max_response_mb' cap, counted after decompression\); refused\.",
        message,
    ), message
    assert "Traceback" not in run.stdout + run.stderr
    assert not [m for m in run.messages() if m["type"] == "RECORD"]
    # The body is 300 MB / 1 GB; the child never holds more than the cap of it.
    assert run.max_rss_mb < 300, f"peak RSS {run.max_rss_mb:.0f} MB"
    print(f"{kind}: system_error after {run.seconds:.1f} s, peak RSS {run.max_rss_mb:.0f} MB")


# -- small hostile servers -------------------------------------------------------------


def answer(handler: BaseHTTPRequestHandler, status: int, **headers: str) -> None:
    body = b'{"message": "slow down"}'
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def test_a_retry_after_of_nan_inf_or_minus_one_is_retried_then_succeeds(
    emu: Emulator, tmp_path: Path
) -> None:
    bad = {1: (429, "nan"), 2: (503, "inf"), 3: (429, "-1")}

    def spoil(handler: BaseHTTPRequestHandler, n: int) -> bool:
        if n in bad:
            status, retry_after = bad[n]
            answer(handler, status, Retry_After=retry_after)
            return True
        return False

    with HostileProxy(emu.base_url, spoil) as proxy:
        run = read_measured(tmp_path, api_key_config(proxy.base_url), ["inboxes"])
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert run.errors() == []
    records = [m["record"]["data"]["id"] for m in run.messages() if m["type"] == "RECORD"]
    assert sorted(records) == sorted(emu.inbox_ids)
    assert proxy.requests == len(bad) + 1  # three spoiled answers, then the real one
    # The normal backoff: 0.25-0.5, 0.5-1, 1-2 s; no sleep(nan), no 120 s wait.
    assert run.seconds < 8, run.seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_port_is_a_config_error_naming_the_url_within_seconds(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{free_port()}/api"
    run = read_measured(tmp_path, api_key_config(base), ["inboxes"])  # default 300 s budget
    assert run.returncode == 1
    assert [(e["failure_type"], e["message"]) for e in run.errors()] == [
        (
            "config_error",
            f"Could not connect to {base} (connection refused): check 'base_url' (host and port).",
        )
    ]
    assert "Traceback" not in run.stdout + run.stderr
    assert run.seconds < 10, run.seconds
    print(f"refused port: config_error after {run.seconds:.1f} s")


# -- the emulator's hostile faults, byte for byte ----------------------------------------


def raw_get(emulator: Emulator, path: str) -> tuple[http.client.HTTPResponse, bytes, float]:
    """One GET of an /api path, its body read whole (no decoding), and its duration."""
    parts = urlsplit(emulator.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    started = time.monotonic()
    try:
        conn.request("GET", parts.path + path, headers={"X-API-Key": ADMIN_API_KEY})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    return response, body, time.monotonic() - started


def test_the_emulator_plays_each_hostile_fault_as_documented(emu: Emulator) -> None:
    _, whole, _ = raw_get(emu, "/inboxes")

    emu.control.faults(1.0, kinds=["cut"])
    response, body, _ = raw_get(emu, "/inboxes")
    assert response.status == 200 and int(response.getheader("Content-Length", "")) == len(body)
    assert body == whole[: len(whole) // 2]
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    response, body, _ = raw_get(emu, "/inboxes/" + "0" * 24 + "/paginated")
    assert response.status == 404 and orjson.loads(body)["message"]  # only 200s are cut

    emu.control.faults(1.0, kinds=["trickle"], slow_seconds=0.02)
    response, body, seconds = raw_get(emu, "/about/version")
    assert orjson.loads(body) == {"version": "4.12.0"}
    assert int(response.getheader("Content-Length", "")) == len(body)
    assert seconds >= 0.02 * len(body), seconds

    emu.control.faults(1.0, kinds=["oversize"], oversize_mb=3)
    response, body, _ = raw_get(emu, "/inboxes")
    assert response.status == 200 and len(body) == 3 * MIB
    assert int(response.getheader("Content-Length", "")) == 3 * MIB
    assert len(orjson.loads(body)["results"]) > MIB

    emu.control.faults(1.0, kinds=["gzip_bomb"], bomb_mb=5)
    response, body, _ = raw_get(emu, "/inboxes")
    assert response.getheader("Content-Encoding") == "gzip"
    assert int(response.getheader("Content-Length", "")) == len(body) < 64 * 1024
    inflated = zlib.decompress(body, 31)
    assert len(inflated) == 5 * MIB and isinstance(orjson.loads(inflated)["results"], list)

    counts = emu.control.requests()["requests"]
    assert counts["GET /inboxes"] == {"200": 1, "cut": 1, "oversize": 1, "gzip_bomb": 1}
    assert counts["GET /about/version"] == {"trickle": 1}
    assert counts["GET /inboxes/{inbox_id}/paginated"] == {"404": 1}


def test_the_emulator_cli_takes_the_hostile_fault_flags(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    command = [sys.executable, "-m", "contractfit_emulator", "--port", "0",
               "--inboxes", "1", "--documents", "5", "--days", "2", "--fault-rate", "0.5",
               "--faults", "cut,trickle,oversize,gzip_bomb", "--slow-seconds", "0.5",
               "--oversize-mb", "7", "--bomb-mb", "9", "--ready-file", str(ready)]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while not ready.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.05)
        control = EmulatorControl(json.loads(ready.read_text())["control_url"])
        faults = control.state()["faults"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert faults["kinds"] == ["cut", "trickle", "oversize", "gzip_bomb"]
    assert (faults["rate"], faults["slow_seconds"]) == (0.5, 0.5)
    assert (faults["oversize_mb"], faults["bomb_mb"]) == (7, 9)
