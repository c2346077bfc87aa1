"""Faults survived: the live emulator injects them, the export's content must not notice.

- every fault kind the emulator has, at a 10% rate, during a full and an incremental
  export: every table ends with the same digest as a fault-free export of the same data;
- an API that stays down ends the run in bounded time with one message and exit code 3,
  keeps what was committed, and the next run resumes and completes;
- JWTs revoked every 0.15 s mid-run are renewed without losing a page;
- `kill -9` at 10 seeded random points, each followed by a rerun, ends in the same content.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from contractfit_emulator import Emulator
from contractfit_emulator.tenant import ADMIN_PASSWORD, ADMIN_USERNAME
from source_contractfit.streams.stats import ENDPOINTS

from .conftest import api_key_config
from .test_export import duckdb_digests, parquet_digests

ALL_FAULTS = ["429", "500", "502", "503", "504", "drop", "slow", "truncate"]
DATED_STREAMS = tuple(ENDPOINTS)


def export(tmp: Path, config: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    (tmp / "config.json").write_text(json.dumps(config))
    command = [sys.executable, "-m", "source_contractfit.cli.main", "export", "--quiet"]
    command += ["--config", str(tmp / "config.json"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def digests(path: Path) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent digest of every data table of an export."""
    con = duckdb.connect(str(path), read_only=True)
    tables = [
        t
        for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT starts_with(table_name, '_')"
        ).fetchall()
    ]
    out = {}
    for table in sorted(tables):
        ((count, digest),) = con.execute(
            f"SELECT count(*), md5(coalesce(string_agg(r, '|' ORDER BY r), '')) "
            f'FROM (SELECT CAST(t AS VARCHAR) AS r FROM "{table}" AS t)'
        ).fetchall()
        out[table] = (int(count), str(digest))
    con.close()
    return out


@pytest.fixture
def small() -> Iterator[Emulator]:
    # 20 days of history keep the per-day stats streams (one request per inbox per day) few.
    with Emulator(seed=21, inboxes=2, documents=300, days=20) as emu:
        yield emu


def test_every_fault_at_10_percent_leaves_the_same_content(small: Emulator, tmp_path: Path) -> None:
    config = api_key_config(small.base_url, checkpoint_interval=50)
    clean, faulty = tmp_path / "clean.duckdb", tmp_path / "faulty.duckdb"
    assert export(tmp_path, config, "--duckdb", str(clean)).returncode == 0

    small.control.reset_requests()
    small.control.faults(0.10, kinds=ALL_FAULTS, seed=5, retry_after=1, slow_seconds=0.3)
    done = export(tmp_path, config, "--duckdb", str(faulty))
    assert done.returncode == 0, done.stderr[-2000:]
    injected = _injected(small)
    small.control.faults_off()
    print(f"faults injected during the full export: {injected}")
    # Which kinds hit depends on the order of concurrent requests; most always do.
    assert len(injected) >= 5 and sum(injected.values()) >= 15, injected  # slow ones answer 200
    assert digests(faulty) == digests(clean)

    # Late reviews and arrivals, then an incremental export of each file: still equal.
    small.control.review(count=15)
    small.control.arrive(count=6)
    assert export(tmp_path, config, "--duckdb", str(clean)).returncode == 0
    small.control.faults(0.10, kinds=ALL_FAULTS, seed=6, retry_after=1, slow_seconds=0.3)
    done = export(tmp_path, config, "--duckdb", str(faulty))
    small.control.faults_off()
    assert done.returncode == 0, done.stderr[-2000:]
    assert digests(faulty) == digests(clean)


def _injected(emu: Emulator) -> dict[str, int]:
    """Faults the emulator answered, by kind ("slow" requests still answer 200)."""
    counts: dict[str, int] = {}
    for statuses in emu.control.requests()["requests"].values():
        for status, n in statuses.items():
            if status in ALL_FAULTS:
                counts[status] = counts.get(status, 0) + n
    return counts


def test_an_api_that_stays_down_stops_in_bounded_time_and_the_next_run_resumes(
    small: Emulator, tmp_path: Path
) -> None:
    config = api_key_config(small.base_url, max_retry_seconds=4, checkpoint_interval=50)
    reference = tmp_path / "reference.duckdb"
    assert export(tmp_path, config, "--duckdb", str(reference)).returncode == 0

    # Documents are read first; then every stats request answers 503 for good.
    small.control.faults(1.0, kinds=["503"], retry_after=1, paths=["/stats"])
    target = tmp_path / "out.duckdb"
    started = time.monotonic()
    down = export(tmp_path, config, "--duckdb", str(target))
    elapsed = time.monotonic() - started
    assert down.returncode == 3
    lines = down.stderr.strip().splitlines()
    assert len(lines) == 1, down.stderr
    # Each stats stream fails on its own; the streams after them are still read.
    assert lines[0].startswith("contractfit export: 7 of 15 stream(s) failed; the others ")
    for stream in DATED_STREAMS:
        assert f" {stream}: GET /stats/" in lines[0], stream
    assert lines[0].endswith(
        ": HTTP 503. The Contract.fit API is unavailable or rate-limiting; try again later."
    )
    assert elapsed < 60, f"a 4 s retry budget per stream took {elapsed:.0f} s"
    print(f"API down: exit 3 after {elapsed:.1f} s: {lines[0][:300]}")
    partial, complete = digests(target), digests(reference)
    assert partial["documents"] == complete["documents"]  # committed work kept
    for table in ("users", "roles", "formats", "reports", "document_version_names"):
        assert partial[table] == complete[table], f"{table}, read after the failed streams"
    assert partial["stats_fields"][0] == 0

    small.control.faults_off()
    small.control.reset_requests()
    resumed = export(tmp_path, config, "--duckdb", str(target))
    assert resumed.returncode == 0, resumed.stderr
    pages = small.control.request_count("GET", "/inboxes/{inbox_id}/paginated")
    assert pages <= 4, f"the documents were read again ({pages} pages)"
    assert digests(target) == digests(reference)


def test_jwts_revoked_mid_run_are_renewed_without_losing_a_page(tmp_path: Path) -> None:
    with Emulator(seed=22, inboxes=2, documents=400, days=10) as emu:
        config = {
            "base_url": emu.base_url,
            "credentials": {
                "auth_type": "token",
                "username": ADMIN_USERNAME,
                "password": ADMIN_PASSWORD,
            },
            "page_size": 10,
        }
        stop = threading.Event()

        def expire_tokens() -> None:  # every token issued so far stops working
            while not stop.wait(0.15):
                emu.control.expire_tokens()

        expirer = threading.Thread(target=expire_tokens, daemon=True)
        expirer.start()
        try:
            target = tmp_path / "out.duckdb"
            done = export(
                tmp_path,
                config,
                "--duckdb",
                str(target),
                "--streams",
                "documents,document_versions",
            )
        finally:
            stop.set()
            expirer.join()
        assert done.returncode == 0, done.stderr
        rejected = sum(
            statuses.get("401", 0) for statuses in emu.control.requests()["requests"].values()
        )
        logins = emu.control.request_count("POST", "/auth")
        assert rejected >= 1 and logins >= 2, (rejected, logins)
        print(f"401 answers: {rejected}, logins: {logins}")
        con = duckdb.connect(str(target), read_only=True)
        ids = [r[0] for r in con.execute("SELECT id FROM documents").fetchall()]
        con.close()
        assert sorted(ids) == sorted(d["id"] for d in emu.control.documents())


def test_kill_9_at_ten_random_points_then_rerun_equals_the_clean_export(tmp_path: Path) -> None:
    with Emulator(seed=23, inboxes=2, documents=400, days=10) as emu:
        config = api_key_config(emu.base_url, checkpoint_interval=40, page_size=20)
        clean = tmp_path / "clean"
        clean.mkdir()
        assert export(clean, config, "--duckdb", str(clean / "out.duckdb")).returncode == 0
        (tmp_path / "config.json").write_text(json.dumps(config))
        target = ["--duckdb", str(tmp_path / "out.duckdb"), "--parquet", str(tmp_path / "pq")]
        command = [
            sys.executable, "-m", "source_contractfit.cli.main", "export", "--quiet",
            "--config", str(tmp_path / "config.json"), *target,
        ]  # fmt: skip
        # The kill points: seconds after each (re)start, up to 85% of what a resumed export
        # takes here (it reads the stats lookback again), so that they hit a running one.
        started = time.monotonic()
        assert export(clean, config, "--duckdb", str(clean / "out.duckdb")).returncode == 0
        resumed = time.monotonic() - started
        rng = random.Random(8)
        points = [round(rng.uniform(0.4, max(0.6, 0.85 * resumed)), 2) for _ in range(10)]
        killed = []
        for delay in points:
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                killed.append(delay)
            proc.wait()
        assert len(killed) >= 8, f"only {len(killed)} of the points hit a running export"
        print(f"kill points (s after start): {points}; killed a running export at {killed}")
        final = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr
        expected = digests(clean / "out.duckdb")
        assert digests(tmp_path / "out.duckdb") == expected
        # The Parquet copy holds the same document tables as the DuckDB one.
        duck = tmp_path / "out.duckdb"
        assert parquet_digests(duck, tmp_path / "pq") == duckdb_digests(duck)
