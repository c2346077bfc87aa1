"""The connector against other legal readings of API.md, played by the emulator's variants.

Each test switches one variant on (`emulator/variants.py`; all are off by default) and runs
the real exporter or `source-contractfit read` as a subprocess against it. Each ends in
one of two ways: exactly the documents, rows and vendor-matching numbers it should have;
or, where the server breaks what the connector needs, one clear message, the other
streams complete, and no cursor past unread data (a rerun against a well-behaved server
then ends exactly complete).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from contractfit_emulator import Emulator
from contractfit_emulator.variants import FUTURE_RECEIVE_TIME, Variants
from source_contractfit.timeutil import format_datetime, parse_datetime

from .conftest import api_key_config
from .helpers import catalog, run_source
from .test_export import export as export_loudly
from .test_faults import DATED_STREAMS, digests, export

SUPPORTED = ("to_review", "submitted", "rejected", "escalated")
REFUSED = ("received", "archived")


def _config(emu: Emulator, **extra: Any) -> dict[str, Any]:
    return api_key_config(emu.base_url, checkpoint_interval=50, **extra)


def _documents(path: Path) -> dict[str, str]:
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute("SELECT id, inbox_id FROM documents").fetchall()
    con.close()
    return {str(i): str(inbox) for i, inbox in rows}


def _state(path: Path, stream: str) -> dict[str, Any]:
    con = duckdb.connect(str(path), read_only=True)
    row = con.execute("SELECT blob FROM _contractfit_state WHERE stream = ?", [stream]).fetchone()
    con.close()
    assert row is not None, f"no committed state for {stream}"
    return dict(json.loads(row[0]))


def _live_ids(emu: Emulator) -> set[str]:
    return {d["id"] for d in emu.control.documents()}


# ------------------------------------------------------------------ volume statuses


@pytest.fixture(scope="module")
def narrow_volume() -> Iterator[Emulator]:
    variants = Variants(volume_statuses=SUPPORTED)
    with Emulator(seed=51, inboxes=2, documents=200, days=8, variants=variants) as emu:
        yield emu


def test_a_refused_volume_status_is_dropped_and_every_stream_completes(
    narrow_volume: Emulator, tmp_path: Path
) -> None:
    emu = narrow_volume
    target = tmp_path / "out.duckdb"
    (tmp_path / "config.json").write_text(json.dumps(_config(emu)))
    done = export(tmp_path, _config(emu), "--duckdb", str(target))
    assert done.returncode == 0, done.stderr[-3000:]
    con = duckdb.connect(str(target), read_only=True)
    statuses = {s for (s,) in con.execute("SELECT DISTINCT status FROM stats_volume").fetchall()}
    assert statuses == set(SUPPORTED)
    # The streams after stats_volume were read: usage and the metadata.
    for table in ("usage", "users", "formats", "document_version_names"):
        count = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert count is not None and count[0] > 0, table
    # The statuses that remain still match the vendor's numbers exactly.
    mismatches = con.execute(
        "SELECT count(*) FROM stats_reconciliation WHERE NOT matches"
    ).fetchone()
    assert mismatches == (0,)
    con.close()
    # A refused status costs a request per sync (per inbox read at the same moment at
    # most), not one per inbox and window.
    volume = emu.control.requests()["requests"]["GET /stats/{inbox_id}/volume"]
    assert len(REFUSED) <= volume.get("400", 0) <= len(REFUSED) * len(emu.inbox_ids), volume


def test_read_warns_once_per_refused_status_and_completes(
    narrow_volume: Emulator, tmp_path: Path
) -> None:
    run = run_source("read", tmp_path, _config(narrow_volume), catalog("stats_volume"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.errors() == []
    warnings = [
        m["log"]["message"]
        for m in run.of_type("LOG")
        if m["log"]["level"] == "WARN" and "does not support" in m["log"]["message"]
    ]
    assert len(warnings) == len(REFUSED), warnings
    for status in REFUSED:
        assert sum(f"status={status} " in w for w in warnings) == 1, (status, warnings)
    statuses = [
        m["trace"]["stream_status"]["status"]
        for m in run.of_type("TRACE")
        if m["trace"]["type"] == "STREAM_STATUS"
    ]
    assert statuses[-1] == "COMPLETE"
    assert {r["status"] for r in run.records("stats_volume")} == set(SUPPORTED)


# ------------------------------------------------------------------ failure isolation


@pytest.fixture
def small() -> Iterator[Emulator]:
    with Emulator(seed=52, inboxes=2, documents=150, days=6) as emu:
        yield emu


def test_one_failing_stream_fails_alone_in_the_exporter(small: Emulator, tmp_path: Path) -> None:
    config = _config(small, max_retry_seconds=1)
    reference = tmp_path / "reference.duckdb"
    assert export(tmp_path, config, "--duckdb", str(reference)).returncode == 0
    small.control.faults(1.0, kinds=["500"], paths=["/stats/usage"])
    target = tmp_path / "out.duckdb"
    done = export(tmp_path, config, "--duckdb", str(target))
    small.control.faults_off()
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("contractfit export: 1 of 15 stream(s) failed; the others were ")
    assert "usage: GET /stats/usage failed after " in lines[0]
    partial, complete = digests(target), digests(reference)
    assert partial["usage"][0] == 0
    for table, digest in complete.items():
        if table not in ("usage", "usage_monthly", "_contractfit_state", "_contractfit_meta"):
            assert partial[table] == digest, table


def test_one_failing_stream_is_incomplete_in_read_and_the_others_complete(
    small: Emulator, tmp_path: Path
) -> None:
    small.control.faults(1.0, kinds=["500"], paths=["/stats/usage"])
    run = run_source(
        "read",
        tmp_path,
        _config(small, max_retry_seconds=1),
        catalog("usage", "formats", "document_version_names"),
    )
    small.control.faults_off()
    assert run.returncode == 1
    final: dict[str, str] = {}
    for m in run.of_type("TRACE"):
        if m["trace"]["type"] == "STREAM_STATUS":
            status = m["trace"]["stream_status"]
            final[status["stream_descriptor"]["name"]] = status["status"]
    assert final == {
        "usage": "INCOMPLETE",
        "formats": "COMPLETE",
        "document_version_names": "COMPLETE",
    }
    assert run.records("formats") and run.records("document_version_names")
    (error,) = run.errors()
    assert error["failure_type"] == "transient_error"
    assert error["message"].startswith("1 of 3 stream(s) failed; the others were read completely.")
    assert "usage: GET /stats/usage failed after" in error["message"]
    # The error trace is the last message: nothing is claimed after it.
    assert run.messages[-1]["type"] == "TRACE" and run.messages[-1]["trace"]["type"] == "ERROR"


def test_wrong_credentials_still_stop_the_whole_run_at_once(
    small: Emulator, tmp_path: Path
) -> None:
    config = {**_config(small), "credentials": {"auth_type": "api_key", "api_key": "cf_bad_1"}}
    small.control.reset_requests()
    run = run_source("read", tmp_path, config, catalog("formats", "usage", "documents"))
    assert run.returncode == 1
    (error,) = run.errors()
    assert error["failure_type"] == "config_error"
    assert error["message"].startswith("Contract.fit rejected the credentials (401")
    assert run.records() == []
    assert small.control.requests()["total"] == 1, "no stream after the first 401"


# ------------------------------------------------------------------ order_by ignored


def test_a_server_ignoring_order_by_fails_the_streams_that_need_it_and_loses_nothing(
    tmp_path: Path,
) -> None:
    # 12 days of history: more than the 7-day lookback, so a stats stream that started at
    # the wrong first day would leave days unread for good.
    with Emulator(seed=54, inboxes=2, documents=150, days=12) as emu:
        config = _config(emu)
        reference, target = tmp_path / "reference.duckdb", tmp_path / "out.duckdb"
        assert export(tmp_path, config, "--duckdb", str(reference)).returncode == 0
        emu.control.variants(ignore_order_by=True)
        try:
            done = export(tmp_path, config, "--duckdb", str(target))
        finally:
            emu.control.variants(ignore_order_by=False)
        assert done.returncode == 1, done.stderr
        (line,) = done.stderr.strip().splitlines()
        # The documents walk and the stats streams' "first day" rely on the order.
        assert line.startswith("contractfit export: 8 of 15 stream(s) failed; the others were ")
        for stream in ("documents", *DATED_STREAMS):
            assert f" {stream}: GET /inboxes/" in line, stream
        assert "does not keep order_by=receive_time,id" in line
        partial, complete = digests(target), digests(reference)
        # Nothing of them was committed, so no cursor passed unread data...
        assert _documents(target) == {}
        for stream in DATED_STREAMS:
            assert partial[stream][0] == 0, stream
        for table in ("users", "roles", "formats", "reports", "document_version_names"):
            assert partial[table] == complete[table], table
        # ...and the next run against a server that keeps the order ends exactly complete.
        again = export(tmp_path, config, "--duckdb", str(target))
        assert again.returncode == 0, again.stderr
        assert digests(target) == complete


def test_read_against_a_server_ignoring_order_by_emits_no_document(
    small: Emulator, tmp_path: Path
) -> None:
    small.control.variants(ignore_order_by=True)
    try:
        run = run_source("read", tmp_path, _config(small), catalog("documents", incremental=True))
    finally:
        small.control.variants(ignore_order_by=False)
    assert run.returncode == 1
    assert run.records("documents") == []
    (error,) = run.errors()
    assert error["failure_type"] == "system_error"
    assert "does not keep order_by=receive_time,id" in error["message"]
    for state in run.states():
        for partition in state["stream"]["stream_state"]["partitions"].values():
            assert partition["cursor"] is None


# ------------------------------------------------------------------ a tie page repeated


def test_a_tie_page_repeated_forever_stops_with_a_clear_error(
    small: Emulator, tmp_path: Path
) -> None:
    inbox = small.inbox_ids[0]
    instant = format_datetime(datetime.now(timezone.utc) - timedelta(days=2, hours=3))
    tied = set(small.control.arrive(count=250, inbox_id=inbox, receive_time=instant))
    target = tmp_path / "out.duckdb"
    # The serial walk reads a tie group in a one-microsecond window (windows never make
    # one: test_windows.py has their own server that does not page).
    config = _config(small, inbox_ids=[inbox], parallel_windows=False)
    small.control.variants(repeat_tie_page=True)
    small.control.reset_requests()
    try:
        done = export(tmp_path, config, "--duckdb", str(target), "--streams", "documents")
    finally:
        small.control.variants(repeat_tie_page=False)
    pages = small.control.request_count("GET", "/inboxes/{inbox_id}/paginated")
    assert done.returncode == 1, done.stderr
    assert "repeats pages instead of paging" in done.stderr
    assert pages < 40, f"{pages} page requests: the walk spun"
    # The cursor is at the tie group at most: nothing after it was claimed.
    partitions = _state(target, "documents")["partitions"]
    cursor = partitions[inbox]["cursor"]
    assert cursor is None or parse_datetime(cursor) <= parse_datetime(instant)
    assert len(tied & set(_documents(target))) <= 100
    if cursor == instant and partitions[inbox]["last_id_at_cursor"] is not None:
        # The state covers the tied ids up to its last id: each of them was exported.
        last_id = partitions[inbox]["last_id_at_cursor"]
        assert {i for i in tied if i <= last_id} <= set(_documents(target))
    again = export(tmp_path, config, "--duckdb", str(target), "--streams", "documents")
    assert again.returncode == 0, again.stderr
    live = {d["id"] for d in small.control.documents(inbox)}
    assert set(_documents(target)) == live and tied <= live


# ------------------------------------------------------------------ a document from the future


@pytest.fixture
def with_future() -> Iterator[Emulator]:
    variants = Variants(future_document=True)
    with Emulator(seed=53, inboxes=2, documents=150, days=6, variants=variants) as emu:
        yield emu


def test_a_future_document_is_emitted_without_moving_the_cursor_past_the_present(
    with_future: Emulator, tmp_path: Path
) -> None:
    emu = with_future
    inbox = emu.inbox_ids[0]
    config = _config(emu)
    target = tmp_path / "out.duckdb"
    done = export_loudly(tmp_path, config, "--duckdb", str(target), "--streams", "documents")
    assert done.returncode == 0, done.stderr
    (warning,) = [line for line in done.stderr.splitlines() if "after the server's present" in line]
    assert FUTURE_RECEIVE_TIME in warning and "every sync reads it again" in warning
    exported = _documents(target)
    assert set(exported) == _live_ids(emu)
    future = [
        d
        for d in emu.control.documents(inbox)
        if d["timings"]["receive_time"] == FUTURE_RECEIVE_TIME
    ]
    assert len(future) == 1 and future[0]["id"] in exported
    cursor = parse_datetime(_state(target, "documents")["partitions"][inbox]["cursor"])
    present = parse_datetime(emu.control.state()["now"])
    assert cursor <= present + timedelta(minutes=5)

    # Documents received today, after the first export, are still read.
    arrived = set(emu.control.arrive(count=7, inbox_id=inbox))
    again = export(tmp_path, config, "--duckdb", str(target), "--streams", "documents")
    assert again.returncode == 0, again.stderr
    assert arrived <= set(_documents(target))
    assert set(_documents(target)) == _live_ids(emu)
