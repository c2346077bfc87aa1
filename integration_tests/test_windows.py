"""Parallel windows (read/windows.py) against the live emulator: every document once, under
churn, across kill -9, with bursts at window bounds, and no cost for a small tail.

Each test gets an emulator of its own (2 inboxes x 300 documents, bursts included). Reads
of one inbox with `page_size` 20 and `max_concurrency` 8 make the reader cut windows;
the emulator's counters prove it did (a probe is its only `per_page=1` request).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from contractfit_emulator import Emulator
from source_contractfit.api.client import ContractfitClient
from source_contractfit.config import ConnectorConfig
from source_contractfit.read import windows
from source_contractfit.read.walk import Position
from source_contractfit.read.windows import Covered, WindowBudget, read_inbox
from source_contractfit.timeutil import ONE_MICROSECOND, parse_datetime

from .conftest import api_key_config
from .helpers import catalog, read_command, run_source, state_input

PAGE = 20


def inbox_documents(emu: Emulator, inbox: str) -> list[dict[str, Any]]:
    return [d for d in emu.control.documents() if d["inbox"] == inbox]


def windowed_config(emu: Emulator, inbox: str, **overrides: Any) -> dict[str, Any]:
    settings = {"page_size": PAGE, "max_concurrency": 8, "lookback_days": 0} | overrides
    return api_key_config(emu.base_url, inbox_ids=[inbox], **settings)


def cut_into_windows(run: Any) -> bool:
    """Whether the read handed documents out of receive-time order: windows read side by
    side (a single walk hands them out ascending)."""
    times = [r["timings"]["receive_time"] for r in run.records("documents")]
    return times != sorted(times)


def probes(emu: Emulator) -> int:
    return int(emu.control.requests()["paginated_per_page"].get("1", 0))


def final_cursor(states: list[dict[str, Any]], inbox: str) -> dict[str, Any]:
    partitions = states[-1]["stream"]["stream_state"]["partitions"]
    return {k: partitions[inbox][k] for k in ("cursor", "last_id_at_cursor")}


def test_windows_read_each_document_once_and_end_where_the_serial_walk_ends(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    emu = mutable_emulator
    inbox = emu.inbox_ids[0]
    expected = {d["id"] for d in inbox_documents(emu, inbox)}
    streams = catalog("documents", incremental=True)
    emu.control.reset_requests()
    parallel = run_source("read", tmp_path, windowed_config(emu, inbox), streams)
    assert parallel.returncode == 0, parallel.stderr[-2000:]
    assert cut_into_windows(parallel)
    assert probes(emu) == 1, "one probe per inbox"
    served = emu.control.requests()["documents_served"]
    ids = parallel.ids()
    assert len(ids) == len(set(ids)) and set(ids) == expected

    emu.control.reset_requests()
    serial_config = windowed_config(emu, inbox, parallel_windows=False)
    (tmp_path / "serial").mkdir()
    serial = run_source("read", tmp_path / "serial", serial_config, streams)
    assert serial.returncode == 0, serial.stderr[-2000:]
    assert sorted(serial.ids()) == sorted(ids)
    assert final_cursor(parallel.states(), inbox) == final_cursor(serial.states(), inbox)
    # Pages that overlap by a document or two, where the serial walk's requests start again
    # at the instant its last page ended and so serve each burst's head once more.
    serial_served = emu.control.requests()["documents_served"]
    print(f"served for {len(expected)} documents: windows {served}, serial {serial_served}")
    assert served < serial_served


def test_bursts_at_window_bounds_are_read_once(mutable_emulator: Emulator) -> None:
    """Windows cut exactly at burst instants (and just after them): one instant is never
    in two windows, and a burst longer than a page is paged within its window."""
    emu = mutable_emulator
    inbox = emu.inbox_ids[0]
    documents = inbox_documents(emu, inbox)
    times = Counter(parse_datetime(d["timings"]["receive_time"]) for d in documents)
    bursts = sorted(t for t, n in times.items() if n > PAGE)
    assert len(bursts) >= 1 and max(times.values()) > 100, "the tenant has long bursts"
    cuts = sorted({*bursts, *(t + ONE_MICROSECOND for t in bursts)})

    def cut_at_bursts(self: Any) -> None:
        # Once, right after the first page: windows bounded by the bursts' instants.
        if len(self.walks) == 1 and not self.walks[0].done:
            donor = self.walks[0]
            low = donor.position.receive_time
            self._cut_window(donor, [t for t in cuts if low is not None and t > low])

    config = ConnectorConfig.from_mapping(windowed_config(emu, inbox))
    with ContractfitClient(config) as client, pytest.MonkeyPatch.context() as patch:
        patch.setattr(windows._InboxReader, "_cut", cut_at_bursts)
        events = list(read_inbox(client, inbox, Position(), PAGE, WindowBudget(8), FAR))
    handed = [e.stamped for e in events if not isinstance(e, Covered)]
    assert Counter(doc_id for _, doc_id, _ in handed) == Counter(d["id"] for d in documents)
    covered = [e.position for e in events if isinstance(e, Covered)]
    last = max((t, i) for t, i, _ in handed)
    assert covered and (covered[-1].receive_time, covered[-1].last_id) == last


def test_churn_during_a_parallel_read_loses_nothing(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    emu = mutable_emulator
    inbox = emu.inbox_ids[0]
    before = {d["id"] for d in inbox_documents(emu, inbox)}
    emu.control.reset_requests()
    emu.control.churn(every=1, arrive=2, delete=2, review=1, inbox_id=inbox)
    run = run_source("read", tmp_path, windowed_config(emu, inbox), catalog("documents"))
    emu.control.churn_off()
    assert run.returncode == 0, run.stderr[-2000:]
    assert cut_into_windows(run)
    ids = run.ids()
    assert len(ids) == len(set(ids)), "no document twice"
    after = {d["id"] for d in inbox_documents(emu, inbox)}
    assert len(before - after) > 20, "churn must actually have deleted documents"
    missing = (before & after) - set(ids)
    assert not missing, f"lost {len(missing)} documents, e.g. {sorted(missing)[:3]}"


def test_kill_9_during_a_parallel_read_then_resume_loses_nothing(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    """Killed after its fourth checkpoint: no checkpoint claimed a document it had not
    emitted, and the resumed read brings the rest."""
    emu = mutable_emulator
    inbox = emu.inbox_ids[0]
    documents = inbox_documents(emu, inbox)
    emu.control.latency(per_request_ms=30)  # long enough to be killed in the middle
    config = windowed_config(emu, inbox, checkpoint_interval=10)
    streams = catalog("documents", incremental=True)
    command = read_command(tmp_path, config, streams)
    emitted: list[str] = []
    states: list[dict[str, Any]] = []
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD":
            emitted.append(message["record"]["data"]["id"])
        elif message["type"] == "STATE":
            states.append(message["state"])
            cursor = final_cursor(states, inbox)
            claimed = covered_by(documents, cursor)
            assert claimed <= set(emitted), (
                f"a checkpoint claimed {sorted(claimed - set(emitted))[:3]}"
            )
            if len(states) == 4:
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.wait()
    emu.control.latency(0, 0)
    assert proc.returncode == -signal.SIGKILL
    everything = {d["id"] for d in documents}
    assert 0 < len(set(emitted)) < len(everything)
    resumed = run_source("read", tmp_path, config, streams, state=state_input(states))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert set(emitted) | set(resumed.ids()) == everything


def test_a_small_tail_is_one_window_and_costs_no_probe(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    emu = mutable_emulator
    inbox = emu.inbox_ids[0]
    config = windowed_config(emu, inbox)
    streams = catalog("documents", incremental=True)
    first = run_source("read", tmp_path, config, streams)
    assert first.returncode == 0, first.stderr[-2000:]
    now = parse_datetime(emu.control.state()["now"])
    new = emu.control.arrive(inbox_id=inbox, count=5, receive_time=now.isoformat())
    emu.control.reset_requests()
    second = run_source("read", tmp_path, config, streams, state=state_input(first.states()))
    assert second.returncode == 0, second.stderr[-2000:]
    assert set(new) <= set(second.ids())
    assert probes(emu) == 0
    pages = emu.control.request_count("GET", "/inboxes/{inbox_id}/paginated")
    assert pages == 1, f"a tail of 5 documents took {pages} page requests"


def test_a_server_that_does_not_page_stops_the_windows_with_a_clear_error(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    """Every request answers page 1: each window's second page brings nothing new. The
    stream fails with one clear line, in a few requests, its state claiming only
    documents exported; the next run against a server that pages reads the rest."""
    emu = mutable_emulator
    inbox = emu.inbox_ids[0]
    documents = inbox_documents(emu, inbox)
    config = windowed_config(emu, inbox)
    (tmp_path / "config.json").write_text(json.dumps(config))
    target = tmp_path / "out.duckdb"
    command = [
        sys.executable, "-m", "source_contractfit.cli.main", "export", "--config",
        str(tmp_path / "config.json"), "--duckdb", str(target), "--streams", "documents",
    ]  # fmt: skip
    emu.control.variants(repeat_pages=True)
    emu.control.reset_requests()
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    finally:
        emu.control.variants(repeat_pages=False)
    assert done.returncode == 1, done.stderr
    assert "repeats pages instead of paging" in done.stderr
    pages = emu.control.request_count("GET", "/inboxes/{inbox_id}/paginated")
    assert pages < 60, f"{pages} page requests: the windows spun"
    with duckdb.connect(str(target), read_only=True) as con:
        exported = {row[0] for row in con.execute("SELECT id FROM documents").fetchall()}
        (blob,) = con.execute(
            "SELECT blob FROM _contractfit_state WHERE stream = 'documents'"
        ).fetchone() or (None,)
    if blob is not None:
        cursor = json.loads(blob)["partitions"].get(inbox)
        if cursor is not None:
            assert covered_by(documents, cursor) <= exported
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    with duckdb.connect(str(target), read_only=True) as con:
        exported = {row[0] for row in con.execute("SELECT id FROM documents").fetchall()}
    assert exported == {d["id"] for d in documents}


def covered_by(documents: list[dict[str, Any]], cursor: dict[str, Any]) -> set[str]:
    """The documents a state's cursor claims: received before it, or at it with an id up
    to `last_id_at_cursor`."""
    if cursor["cursor"] is None:
        return set()
    at = parse_datetime(cursor["cursor"])
    last_id = cursor["last_id_at_cursor"]
    claimed = set()
    for document in documents:
        received = parse_datetime(document["timings"]["receive_time"])
        if received < at or (received == at and last_id is not None and document["id"] <= last_id):
            claimed.add(document["id"])
    return claimed


FAR = datetime(2100, 1, 1, tzinfo=timezone.utc)  # `latest`: no document is in the future
