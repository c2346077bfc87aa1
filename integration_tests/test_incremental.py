"""Incremental sync against the live emulator: nothing lost, nothing repeated.

Each test gets an emulator of its own (it mutates data). Reads run `source-contractfit
read` as a subprocess; states are passed back exactly as the platform would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from contractfit_emulator import Emulator
from source_contractfit.timeutil import format_datetime, parse_datetime

from .conftest import api_key_config
from .helpers import catalog, read_command, run_source, state_input

DOC_STREAMS = catalog("documents", "document_versions", incremental=True)


def live_ids(emulator: Emulator) -> set[str]:
    truth = emulator.control.truth()
    return set().union(*(set(i["document_ids"]) for i in truth["inboxes"].values()))


def settle() -> None:
    """The emulator's clock starts on a whole second; let it pass the last sync's start."""
    time.sleep(1.1)


def arrive_processed(emu: Emulator, inbox: str, count: int) -> list[str]:
    """New documents received 5 minutes ago, so their processing (and predicted version)
    is finished: a version stamped after the next sync starts is re-read by the sync after.
    """
    now = parse_datetime(emu.control.state()["now"])
    return emu.control.arrive(
        inbox_id=inbox, count=count, receive_time=format_datetime(now - timedelta(minutes=5))
    )


def state_message(blob: dict[str, Any], stream: str = "documents") -> list[dict[str, Any]]:
    return [
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": blob}}
    ]


def test_second_read_returns_only_new_and_changed_documents(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    emu = mutable_emulator
    config = api_key_config(emu.base_url, lookback_days=0)
    first = run_source("read", tmp_path, config, DOC_STREAMS)
    assert first.returncode == 0, first.stderr[-2000:]
    assert set(first.ids()) == live_ids(emu)
    assert len(first.ids()) == len(set(first.ids()))
    versions_first = Counter(first.ids("document_versions"))

    settle()
    inbox = emu.control.inbox_ids()[0]
    new = arrive_processed(emu, inbox, 3)
    reviewed = emu.control.review(count=4)
    old = sorted(set(first.ids()) - set(reviewed))[0]
    reprocessed = emu.control.reprocess(document_ids=[old])

    second = run_source("read", tmp_path, config, DOC_STREAMS, state=first.final_state())
    assert second.returncode == 0, second.stderr[-2000:]
    assert sorted(second.ids()) == sorted(set(new) | set(reviewed) | set(reprocessed))
    # document_versions carries the new versions of reviewed documents.
    versions_second = Counter(second.ids("document_versions"))
    for doc_id in reviewed:
        assert versions_second[doc_id] > versions_first[doc_id]

    third = run_source("read", tmp_path, config, DOC_STREAMS, state=second.final_state())
    assert third.returncode == 0
    assert third.ids() == [] and third.ids("document_versions") == []


def test_union_of_reads_from_every_intermediate_state_is_the_full_read(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    emu = mutable_emulator
    config = api_key_config(emu.base_url, lookback_days=0, checkpoint_interval=97)
    documents = catalog("documents", incremental=True)
    full = run_source("read", tmp_path, config, documents)
    assert full.returncode == 0
    everything = set(full.ids())
    assert everything == live_ids(emu)

    emitted: list[str] = []
    checkpoints: list[tuple[set[str], dict[str, Any]]] = []
    for message in full.messages:
        if message["type"] == "RECORD":
            emitted.append(message["record"]["data"]["id"])
        elif message["type"] == "STATE":
            checkpoints.append((set(emitted), message["state"]))
    assert len(checkpoints) >= 6, "expected a checkpoint at least every 97 records"
    for before, state in checkpoints[:: max(1, len(checkpoints) // 6)]:
        resumed = run_source("read", tmp_path, config, documents, state=state_input([state]))
        assert resumed.returncode == 0
        assert before | set(resumed.ids()) == everything
        assert not before & set(resumed.ids()), "a document covered by the state came back"


def test_checkpoints_come_at_least_every_n_records(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    config = api_key_config(mutable_emulator.base_url, checkpoint_interval=50)
    run = run_source("read", tmp_path, config, catalog("documents", incremental=True))
    since = 0
    worst = 0
    for message in run.messages:
        if message["type"] == "RECORD":
            since += 1
            worst = max(worst, since)
        elif message["type"] == "STATE":
            since = 0
    assert worst <= 50
    assert len(run.states()) >= 600 // 50


def test_abnormally_large_state(mutable_emulator: Emulator, tmp_path: Path) -> None:
    # Written by an earlier version (every id at each cursor listed): read, and rewritten
    # as one last id per partition.
    emu = mutable_emulator
    foreign = {
        f"{i:024x}": {
            "cursor": "2024-01-01T00:00:00.000000Z",
            "ids_at_cursor": [f"{i:012x}{j:012x}" for j in range(25)],
            "reviews_checked_until": "2024-01-02T00:00:00.000000Z",
        }
        for i in range(2000)
    }
    inbox = emu.control.inbox_ids()[0]
    foreign[inbox] = {
        "cursor": "2000-01-01T00:00:00.000000Z",
        "ids_at_cursor": [f"{j:024x}" for j in range(100_000)],
        "reviews_checked_until": "2000-01-01T00:00:00.000000Z",
    }
    blob = {"state_version": 1, "partitions": foreign}
    config = api_key_config(emu.base_url, lookback_days=0)
    run = run_source(
        "read", tmp_path, config, catalog("documents", incremental=True), state=state_message(blob)
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.ids()) == live_ids(emu)
    final = run.states()[-1]["stream"]["stream_state"]["partitions"]
    assert len(final) == 2000 + len(emu.control.inbox_ids())
    assert final["0" * 24]["cursor"] == "2024-01-01T00:00:00.000000Z", "foreign partitions kept"
    assert final["0" * 24]["last_id_at_cursor"] == f"{0:012x}{24:012x}", "as their largest id"
    assert not any("ids_at_cursor" in p for p in final.values())
    assert final[inbox]["cursor"] > "2000-01-01", "the cursor moved past the old ids"
    assert len(json.dumps(final)) < len(json.dumps(foreign)) // 5


def test_new_reviews_and_deletions_between_reads(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    emu = mutable_emulator
    config = api_key_config(emu.base_url, lookback_days=0)
    first = run_source("read", tmp_path, config, DOC_STREAMS)
    assert first.returncode == 0
    settle()
    inboxes = emu.control.inbox_ids()
    new = arrive_processed(emu, inboxes[1], 5)
    reviewed = emu.control.review(count=8)
    reviewed_then_deleted = reviewed[:3]
    emu.control.delete(document_ids=reviewed_then_deleted)
    untouched_deleted = sorted(set(first.ids()) - set(reviewed))[:4]
    emu.control.delete(document_ids=untouched_deleted)
    new_then_deleted = new[:1]
    emu.control.delete(document_ids=new_then_deleted)

    second = run_source("read", tmp_path, config, DOC_STREAMS, state=first.final_state())
    assert second.returncode == 0, second.stderr[-2000:]
    expected = (set(new) - set(new_then_deleted)) | (set(reviewed) - set(reviewed_then_deleted))
    assert sorted(second.ids()) == sorted(expected)
    assert set(second.ids("document_versions")) == expected


def test_inserts_and_deletions_during_paging_lose_nothing(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    emu = mutable_emulator
    documents = emu.control.documents()
    bursts = Counter((d["inbox"], d["timings"]["receive_time"]) for d in documents)
    page_size = 20
    assert max(bursts.values()) > page_size, "the data must hold bursts longer than a page"
    before = live_ids(emu)
    emu.control.churn(every=1, arrive=2, delete=2, review=1)
    config = api_key_config(emu.base_url, page_size=page_size, max_concurrency=2)
    run = run_source("read", tmp_path, config, catalog("documents", incremental=True))
    emu.control.churn_off()
    assert run.returncode == 0, run.stderr[-2000:]
    ids = run.ids()
    assert len(ids) == len(set(ids)), "no document twice"
    after = live_ids(emu)
    existed_throughout = before & after
    assert len(before - after) > 20, "churn must actually have deleted documents"
    missing = existed_throughout - set(ids)
    assert not missing, f"lost {len(missing)} documents, e.g. {sorted(missing)[:3]}"


def test_kill_9_during_read_then_resume_loses_nothing(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    emu = mutable_emulator
    config = api_key_config(emu.base_url, lookback_days=0, checkpoint_interval=50, page_size=25)
    command = read_command(tmp_path, config, DOC_STREAMS)
    emitted: list[str] = []
    states: list[dict[str, Any]] = []
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD" and message["record"]["stream"] == "documents":
            emitted.append(message["record"]["data"]["id"])
        elif message["type"] == "STATE":
            states.append(message["state"])
            if len(states) == 7:
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    everything = live_ids(emu)
    assert 0 < len(emitted) < len(everything)
    resumed = run_source("read", tmp_path, config, DOC_STREAMS, state=state_input(states))
    assert resumed.returncode == 0
    assert set(emitted) | set(resumed.ids()) == everything


def test_state_from_the_future_is_read_again(mutable_emulator: Emulator, tmp_path: Path) -> None:
    emu = mutable_emulator
    future = "2999-01-01T00:00:00.000000Z"
    blob = {
        "state_version": 1,
        "partitions": {
            inbox: {"cursor": future, "last_id_at_cursor": None, "reviews_checked_until": future}
            for inbox in emu.control.inbox_ids()
        },
    }
    run = run_source(
        "read",
        tmp_path,
        api_key_config(emu.base_url),
        catalog("documents", incremental=True),
        state=state_message(blob),
    )
    assert run.returncode == 0 and not run.errors()
    # No cursor can be after the server's present: the inbox is read again, not trusted.
    assert sorted(run.ids()) == sorted(d["id"] for d in emu.control.documents())
    final = run.states()[-1]["stream"]["stream_state"]
    for partition in final["partitions"].values():
        assert partition["cursor"] < future and partition["reviews_checked_until"] < future


@pytest.mark.parametrize(
    ("state", "fragment"),
    [
        ({"state_version": 9, "partitions": {}}, "state_version 9"),
        ({"state_version": 1}, "no 'partitions' object"),
        (
            {"state_version": 1, "partitions": {"x": {"cursor": "yesterday"}}},
            "'cursor' is not an ISO 8601",
        ),
        (
            {"state_version": 1, "partitions": {"x": {"cursor": None, "ids_at_cursor": ["a"]}}},
            "'cursor' is null",
        ),
        (
            {"state_version": 1, "partitions": {"x": {"cursor": None, "ids_at_cursor": "a"}}},
            "must be a list",
        ),
        (
            {"state_version": 1, "partitions": {"x": {"cursor": None, "last_id_at_cursor": "a"}}},
            "'cursor' is null",
        ),
        (
            {
                "state_version": 1,
                "partitions": {
                    "x": {"cursor": "2024-01-01T00:00:00Z", "last_id_at_cursor": ["a", "b"]}
                },
            },
            "'last_id_at_cursor' must be a document id string or null",
        ),
        ({"state_version": 1, "partitions": {"x": []}}, "must be an object"),
    ],
)
def test_malformed_state_is_a_config_error_naming_the_problem(
    emulator: Emulator, tmp_path: Path, state: dict[str, Any], fragment: str
) -> None:
    run = run_source(
        "read",
        tmp_path,
        api_key_config(emulator.base_url),
        catalog("documents", incremental=True),
        state=state_message(state),
    )
    assert run.returncode != 0
    (error,) = run.errors()
    assert error["failure_type"] == "config_error"
    assert fragment in error["message"] and "stream 'documents'" in error["message"]
    assert run.ids() == []


def test_state_file_that_is_not_json_is_a_config_error(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    (tmp_path / "config.json").write_text(json.dumps(api_key_config(emulator.base_url)))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog("documents", incremental=True)))
    files = {name: str(tmp_path / f"{name}.json") for name in ("config", "catalog", "state")}
    command = [sys.executable, "-m", "source_contractfit.airbyte.run", "read"]
    for name, path in files.items():
        command += [f"--{name}", path]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    errors = [
        json.loads(line)["trace"]["error"] for line in done.stdout.splitlines() if '"ERROR"' in line
    ]
    assert errors and errors[0]["failure_type"] == "config_error"
    assert "state file could not be read" in errors[0]["message"]


def test_lookback_rereads_only_documents_that_gained_versions(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    """With the default 7-day lookback, documents reviewed in the week before the first
    sync are listed again by evaluated_versions but not re-emitted: their versions are
    already in the state's recent_versions. A new review is re-emitted."""
    emu = mutable_emulator
    config = api_key_config(emu.base_url)  # lookback_days: 7
    first = run_source("read", tmp_path, config, DOC_STREAMS)
    assert first.returncode == 0
    recent = first.final_state()[0]["stream"]["stream_state"]["partitions"]
    assert any(p["recent_versions"] for p in recent.values())
    emu.control.reset_requests()
    second = run_source("read", tmp_path, config, DOC_STREAMS, state=first.final_state())
    assert second.returncode == 0
    assert second.ids() == []
    assert emu.control.request_count("GET", "/documents/{document_id}") == 0
    settle()
    reviewed = emu.control.review(count=2)
    third = run_source("read", tmp_path, config, DOC_STREAMS, state=second.final_state())
    assert sorted(third.ids()) == sorted(reviewed)


# ------------------------------------------------------------------ a huge tie group (issue 14)

BURST = 3_000


def arrive_burst(emu: Emulator, inbox: str, count: int) -> tuple[str, set[str]]:
    """`count` documents received at one instant a day ago: (that instant, their ids)."""
    now = parse_datetime(emu.control.state()["now"])
    instant = format_datetime(now - timedelta(days=1, hours=2))
    ids = emu.control.arrive(inbox_id=inbox, count=count, receive_time=instant)
    assert len(ids) == count
    return instant, set(ids)


def burst_in_first_inbox(emu: Emulator) -> tuple[str, str, set[str], dict[str, Any]]:
    """BURST documents at one instant in the first inbox, and a config whose checkpoints
    (every 400 documents, pages of 50) fall inside the burst: (inbox, instant, ids, config).

    The serial walk: these tests prove that it resumes inside a tie group with nothing
    emitted twice. Parallel windows resume from the prefix of finished windows, so the
    documents a window after it had handed out before the kill come again (never lost:
    test_windows.py), which these tests' "nothing twice" would count against them."""
    inbox = emu.control.inbox_ids()[0]
    instant, burst = arrive_burst(emu, inbox, BURST)
    config = api_key_config(
        emu.base_url, lookback_days=0, checkpoint_interval=400, page_size=50,
        parallel_windows=False,
    )  # fmt: skip
    return inbox, instant, burst, config


def sync_killed_inside(
    tmp_path: Path,
    config: dict[str, Any],
    inbox: str,
    instant: str,
    burst: set[str],
    at_least: int = 1,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run a sync and kill -9 it right after the first checkpoint whose cursor for `inbox`
    stands inside the burst at `instant`, `at_least` of the burst emitted: (the documents
    emitted before that checkpoint, its state)."""
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog("documents", incremental=True)))
    command = [
        sys.executable, "-m", "source_contractfit.airbyte.run", "read",
        "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json"),
    ]  # fmt: skip
    emitted: list[dict[str, Any]] = []
    found: dict[str, Any] | None = None
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        message = json.loads(line)
        if message["type"] == "RECORD":
            emitted.append(message["record"]["data"])
        elif message["type"] == "STATE":
            partition = message["state"]["stream"]["stream_state"]["partitions"].get(inbox, {})
            cursor, last_id = partition.get("cursor"), partition.get("last_id_at_cursor")
            inside = cursor and parse_datetime(cursor) == parse_datetime(instant)
            read = sum(d["id"] in burst for d in emitted)
            if inside and last_id is not None and last_id < max(burst) and read >= at_least:
                found = message["state"]
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.wait()
    assert found is not None, "no checkpoint fell inside the burst"
    return emitted, found


def assert_small_states(states: list[dict[str, Any]]) -> None:
    for state in states:
        blob = state["stream"]["stream_state"]
        size = len(json.dumps(blob))
        assert size < 2048 * len(blob["partitions"]), f"a state of {size} bytes"
        for partition in blob["partitions"].values():
            assert "ids_at_cursor" not in partition
            assert not any(isinstance(value, list) for value in partition.values())


def test_a_burst_at_one_instant_is_read_once_across_an_interruption_inside_it(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    emu = mutable_emulator
    inbox, instant, burst, config = burst_in_first_inbox(emu)
    emitted, state = sync_killed_inside(tmp_path, config, inbox, instant, burst)
    before = [d["id"] for d in emitted]
    partition = state["stream"]["stream_state"]["partitions"][inbox]
    assert partition["last_id_at_cursor"] in burst and partition["last_id_at_cursor"] in before
    assert 0 < len(burst & set(before)) < BURST, "the sync was interrupted inside the burst"
    assert_small_states([state])

    resumed = run_source(
        "read", tmp_path, config, catalog("documents", incremental=True), state=[state]
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = resumed.ids()
    assert len(after) == len(set(after)), "no document twice in the resumed sync"
    assert not set(before) & set(after), "a document covered by the state came back"
    assert set(before) | set(after) == live_ids(emu), "every document, burst included"
    assert_small_states(resumed.states())
    final = resumed.states()[-1]["stream"]["stream_state"]["partitions"][inbox]
    assert parse_datetime(final["cursor"]) >= parse_datetime(instant)


def test_an_old_state_listing_every_id_at_the_cursor_resumes_exactly(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    # A state written by an earlier version lists every id emitted at each cursor instant;
    # it is read as the largest of them, and rewritten in the new form.
    emu = mutable_emulator
    inbox, instant, burst, config = burst_in_first_inbox(emu)
    emitted, state = sync_killed_inside(tmp_path, config, inbox, instant, burst, BURST // 3)
    blob = state["stream"]["stream_state"]
    for inbox_id, partition in blob["partitions"].items():
        last_id, cursor = partition.pop("last_id_at_cursor"), partition["cursor"]
        at_cursor = [
            d["id"]
            for d in emitted
            if last_id is not None
            and d["inbox"] == inbox_id
            and parse_datetime(d["timings"]["receive_time"]) == parse_datetime(cursor)
        ]
        assert last_id is None or max(at_cursor) == last_id
        partition["ids_at_cursor"] = sorted(at_cursor)
    listed = blob["partitions"][inbox]["ids_at_cursor"]
    assert BURST // 3 <= len(listed) < BURST and set(listed) <= burst
    assert len(json.dumps(blob)) > 27 * len(listed), "the old form grows with the burst"

    resumed = run_source(
        "read", tmp_path, config, catalog("documents", incremental=True), state=[state]
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    before, after = {d["id"] for d in emitted}, resumed.ids()
    assert len(after) == len(set(after)) and not before & set(after)
    assert before | set(after) == live_ids(emu)
    assert_small_states(resumed.states())


@pytest.mark.parametrize("behind", [timedelta(hours=2), timedelta(days=30)])
def test_a_server_clock_behind_ours_does_not_make_every_sync_a_full_read(
    tmp_path: Path, behind: timedelta
) -> None:
    """Our clock ahead of the server's: the state must follow the server's clock. Reviews
    recorded as checked up to our clock made the next sync take the state for a corrupt one
    and read every inbox again in full; versions between the server's lookback horizon and
    ours were pruned from the state and re-emitted by every sync (helper review)."""
    from datetime import datetime, timezone

    now = format_datetime(datetime.now(timezone.utc) - behind)
    with Emulator(seed=7, inboxes=2, documents=400, days=20, now=now) as emu:
        config = api_key_config(emu.base_url)
        first = run_source("read", tmp_path, config, DOC_STREAMS)
        assert first.returncode == 0, first.stderr[-2000:]
        assert len(first.ids()) == 400
        state = first.final_state()
        for _ in range(2):
            again = run_source("read", tmp_path, config, DOC_STREAMS, state=state)
            assert again.returncode == 0, again.stderr[-2000:]
            assert again.ids() == [] and again.ids("document_versions") == []
            state = again.final_state()


def test_a_review_after_a_sync_is_read_when_our_clock_runs_a_little_ahead(
    tmp_path: Path,
) -> None:
    """Four minutes ahead (inside FUTURE_MARGIN) and no lookback: the reviews' window must
    start at the server's present of the last sync, not at our clock, or a review stamped
    in between is never listed (helper review: all 4 were lost)."""
    from datetime import datetime, timezone

    now = format_datetime(datetime.now(timezone.utc) - timedelta(minutes=4))
    with Emulator(seed=7, inboxes=2, documents=200, now=now) as emu:
        config = api_key_config(emu.base_url, lookback_days=0)
        first = run_source("read", tmp_path, config, DOC_STREAMS)
        assert first.returncode == 0, first.stderr[-2000:]
        settle()
        reviewed = emu.control.review(count=4)
        second = run_source("read", tmp_path, config, DOC_STREAMS, state=first.final_state())
    assert second.returncode == 0, second.stderr[-2000:]
    assert sorted(second.ids()) == sorted(reviewed)
