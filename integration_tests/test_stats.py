"""Stats, usage and metadata streams against the emulator's own numbers."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from contractfit_emulator import ADMIN_API_KEY, VIEWER_API_KEY, Emulator
from source_contractfit.streams.stats import ENDPOINTS

from .conftest import api_key_config
from .helpers import catalog, run_source

DATED = tuple(ENDPOINTS)  # every dated stream


@pytest.fixture(scope="module")
def stats_emulator() -> Any:
    with Emulator(seed=21, inboxes=2, documents=800, days=40) as emu:
        yield emu


def api(emu: Emulator, path: str, **params: Any) -> Any:
    response = httpx.get(
        f"{emu.base_url}/{path}", params=params, headers={"X-API-Key": ADMIN_API_KEY}
    )
    response.raise_for_status()
    return response.json()


def whole_window(emu: Emulator) -> dict[str, str]:
    """From long before the first document to tomorrow: what the daily reads covered."""
    tomorrow = datetime.now(timezone.utc).date() + timedelta(days=1)
    return {"start_date": "2000-01-01T00:00:00Z", "end_date": f"{tomorrow}T00:00:00Z"}


@pytest.fixture(scope="module")
def full_read(stats_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("stats")
    stats_emulator.control.reset_requests()
    run = run_source(
        "read", tmp, api_key_config(stats_emulator.base_url), catalog(*DATED, incremental=True)
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert not run.errors()
    run.requests = stats_emulator.control.requests()["requests"]  # before tests add their own
    return run


def sums(rows: list[dict[str, Any]], keys: tuple[str, ...], values: tuple[str, ...]) -> dict:
    out: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        for value in values:
            out[tuple(row[k] for k in keys)][value] += row[value] or 0
    return {k: dict(v) for k, v in out.items()}


def test_every_dated_stream_has_stable_unique_keys(full_read: Any) -> None:
    from source_contractfit.streams.catalog import STREAMS_BY_NAME

    for name in DATED:
        rows = full_read.records(name)
        assert rows, name
        key = [k[0] for k in STREAMS_BY_NAME[name].primary_key]
        keys = [tuple(row[k] for k in key) for row in rows]
        assert len(keys) == len(set(keys)), f"{name}: duplicate primary keys"
        assert all(v is not None for k in keys for v in k), name


def test_field_stats_summed_over_days_equal_the_window_totals(
    stats_emulator: Emulator, full_read: Any
) -> None:
    got = sums(
        full_read.records("stats_fields"),
        ("inbox_id", "field_name"),
        ("tp", "fp", "fn", "tn", "count"),
    )
    for inbox in stats_emulator.control.inbox_ids():
        totals = api(stats_emulator, f"stats/{inbox}", **whole_window(stats_emulator))
        assert "__all_fields__" in totals
        for field, metrics in totals.items():
            expected = {k: float(metrics[k]) for k in ("tp", "fp", "fn", "tn", "count")}
            assert got[(inbox, field)] == expected, (inbox, field)


def test_accuracy_and_stp_summed_over_days_equal_the_window_totals(
    stats_emulator: Emulator, full_read: Any
) -> None:
    accuracy = sums(
        full_read.records("stats_accuracy"),
        ("inbox_id", "level", "field_name"),
        ("correct", "total"),
    )
    stp = sums(
        full_read.records("stats_stp"), ("inbox_id", "level", "field_name"), ("stp", "total")
    )
    for inbox in stats_emulator.control.inbox_ids():
        window = whole_window(stats_emulator)
        body = api(stats_emulator, f"stats/{inbox}/accuracy", **window)
        assert accuracy[(inbox, "document", "__all__")] == {
            k: float(v) for k, v in body["documents"].items() if k in ("correct", "total")
        }
        assert accuracy[(inbox, "section", "__all__")] == {
            k: float(v) for k, v in body["sections"].items() if k in ("correct", "total")
        }
        for field, values in body["fields"].items():
            assert accuracy[(inbox, "field", field)] == {
                "correct": values["correct"],
                "total": values["total"],
            }
        body = api(stats_emulator, f"stats/{inbox}/stp", **window)
        assert stp[(inbox, "document", "__all__")] == {
            "stp": body["documents"]["stp"],
            "total": body["documents"]["total"],
        }
        for field, values in body["fields"].items():
            assert stp[(inbox, "field", field)] == {"stp": values["stp"], "total": values["total"]}


def test_blockers_processing_volume_usage_summed_equal_window_totals(
    stats_emulator: Emulator, full_read: Any
) -> None:
    blockers = sums(
        full_read.records("stats_automation_blockers"),
        ("inbox_id", "field_name", "reason"),
        ("documents",),
    )
    processing = sums(full_read.records("stats_processing"), ("inbox_id", "page_count"), ("count",))
    volume = sums(full_read.records("stats_volume"), ("inbox_id", "status"), ("count",))
    usage = sums(full_read.records("usage"), ("inbox_id",), ("documents", "pages"))
    for inbox in stats_emulator.control.inbox_ids():
        window = whole_window(stats_emulator)
        body = api(stats_emulator, f"stats/{inbox}/automation_blockers", **window)
        assert blockers[(inbox, "__all__", "blocked")]["documents"] == body["blocked_documents"]
        for field, reasons in body["blockers"].items():
            for reason, count in reasons.items():
                assert (
                    blockers.get((inbox, field, reason), {"documents": 0.0})["documents"] == count
                )
        body = api(stats_emulator, f"stats/{inbox}/processing", group_by="pages", **window)
        for group, values in body["groups"].items():
            assert processing[(inbox, group)]["count"] == values["count"]
        for status in ("received", "to_review", "submitted", "rejected", "escalated", "archived"):
            body = api(stats_emulator, f"stats/{inbox}/volume", status=status, **window)
            expected = sum(day["count"] for day in body["days"])
            assert volume.get((inbox, status), {"count": 0.0})["count"] == expected, status
        rows = api(stats_emulator, "stats/usage", inbox_id=inbox, **window)
        assert usage[(inbox,)] == {
            "documents": sum(r["documents"] for r in rows),
            "pages": sum(r["pages"] for r in rows),
        }


def test_one_request_per_inbox_per_day(stats_emulator: Emulator, full_read: Any) -> None:
    # usage is zero-filled, so its rows are exactly the (inbox, day) pairs read.
    inbox_days = {(row["inbox_id"], row["date"]) for row in full_read.records("usage")}
    requests = full_read.requests
    per_day = sum(requests.get("GET /stats/{inbox_id}", {}).values())
    assert per_day == len(inbox_days)
    today = datetime.now(timezone.utc).date()
    assert max(date.fromisoformat(d) for _, d in inbox_days) == today
    for name in DATED:
        assert all(date.fromisoformat(r["date"]) <= today for r in full_read.records(name)), name
    volume_requests = sum(requests.get("GET /stats/{inbox_id}/volume", {}).values())
    usage_requests = sum(requests.get("GET /stats/usage", {}).values())
    days_per_inbox = len(inbox_days) // len(stats_emulator.control.inbox_ids())
    windows = len(stats_emulator.control.inbox_ids()) * -(-days_per_inbox // 31)
    assert volume_requests == 6 * windows  # one per status per 31-day window
    assert usage_requests == windows


def test_start_date_bounds_the_days_asked(stats_emulator: Emulator, tmp_path: Path) -> None:
    start = datetime.now(timezone.utc).date() - timedelta(days=4)
    config = api_key_config(stats_emulator.base_url, start_date=f"{start}T00:00:00Z")
    stats_emulator.control.reset_requests()
    run = run_source("read", tmp_path, config, catalog("stats_fields"))
    assert run.returncode == 0
    assert {row["date"] for row in run.records("stats_fields")} <= {
        str(start + timedelta(days=i)) for i in range(5)
    }
    inboxes = len(stats_emulator.control.inbox_ids())
    assert stats_emulator.control.request_count("GET", "/stats/{inbox_id}") == inboxes * 5


def test_a_start_date_before_the_first_document_costs_nothing(
    stats_emulator: Emulator, tmp_path: Path
) -> None:
    """start_date years before a young tenant: per inbox, no day before its first document
    is asked for or emitted (the usage stream zero-fills every day it reads)."""
    emu = stats_emulator
    config = api_key_config(emu.base_url, start_date="2015-01-01T00:00:00Z")
    emu.control.reset_requests()
    run = run_source("read", tmp_path, config, catalog("usage", "stats_fields"))
    assert run.returncode == 0, run.stderr[-2000:]
    today = date.fromisoformat(emu.control.state()["now"][:10])
    first_days = {}
    for inbox in emu.control.inbox_ids():
        documents = emu.control.documents(inbox)
        first_days[inbox] = min(
            date.fromisoformat(d["timings"]["receive_time"][:10]) for d in documents
        )
    for stream in ("usage", "stats_fields"):
        for row in run.records(stream):
            assert date.fromisoformat(row["date"]) >= first_days[row["inbox_id"]], (stream, row)
    days = sum((today - first).days + 1 for first in first_days.values())
    assert emu.control.request_count("GET", "/stats/{inbox_id}") == days
    assert len(run.records("usage")) == days


def test_late_reviews_update_the_affected_days(tmp_path: Path) -> None:
    with Emulator(seed=5, inboxes=1, documents=300, days=10) as emu:
        config = api_key_config(emu.base_url, lookback_days=30)
        streams = catalog("stats_fields", "stats_accuracy", incremental=True)
        first = run_source("read", tmp_path, config, streams)
        assert first.returncode == 0
        time.sleep(1.1)
        reviewed = emu.control.review(count=40)
        assert reviewed
        second = run_source("read", tmp_path, config, streams, state=first.final_state())
        assert second.returncode == 0
        # A destination in append-dedup mode: the later row per key wins.
        merged: dict[tuple, dict[str, Any]] = {}
        for row in first.records("stats_fields") + second.records("stats_fields"):
            merged[(row["date"], row["field_name"])] = row
        inbox = emu.control.inbox_ids()[0]
        changed_days = 0
        for day in sorted({d for d, _ in merged}):
            start = date.fromisoformat(day)
            body = api(
                emu,
                f"stats/{inbox}",
                start_date=f"{start}T00:00:00Z",
                end_date=f"{start + timedelta(days=1)}T00:00:00Z",
            )
            for field, metrics in body.items():
                assert merged[(day, field)]["count"] == metrics["count"], (day, field)
                assert merged[(day, field)]["tp"] == metrics["tp"], (day, field)
            before = {
                r["field_name"]: r["count"]
                for r in first.records("stats_fields")
                if r["date"] == day
            }
            changed_days += any(before.get(f) != m["count"] for f, m in body.items())
        assert changed_days > 0, "the reviews must have changed some day's stats"


def test_metadata_streams(stats_emulator: Emulator, tmp_path: Path) -> None:
    names = ("users", "roles", "formats", "reports", "document_version_names")
    run = run_source("read", tmp_path, api_key_config(stats_emulator.base_url), catalog(*names))
    assert run.returncode == 0
    for name in names:
        assert run.records(name), name
    inbox = stats_emulator.control.inbox_ids()[0]
    expected = api(stats_emulator, f"inboxes/{inbox}/document_versions")
    got = [
        {"name": r["name"], "count": r["count"]}
        for r in run.records("document_version_names")
        if r["inbox_id"] == inbox
    ]
    assert got == expected


def test_forbidden_inbox_skipped_and_sync_goes_on(stats_emulator: Emulator, tmp_path: Path) -> None:
    inboxes = stats_emulator.control.inbox_ids()
    start = datetime.now(timezone.utc).date() - timedelta(days=3)
    config = {
        "base_url": stats_emulator.base_url,
        "credentials": {"auth_type": "api_key", "api_key": VIEWER_API_KEY},
        "inbox_ids": inboxes,
        "start_date": f"{start}T00:00:00Z",
    }
    run = run_source("read", tmp_path, config, catalog("stats_fields", "usage", "users"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert {r["inbox_id"] for r in run.records("stats_fields")} == {inboxes[0]}
    warnings = [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert any(inboxes[1] in w for w in warnings)
    assert any("Skipping stream users" in w for w in warnings)
