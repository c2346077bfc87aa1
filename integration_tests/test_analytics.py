"""The analytics views (`source_contractfit/analytics/sql`) over a real export and the emulator.

One emulator and one full export (every stream, into DuckDB) serve the module; every view
is compared with a number computed independently: the emulator's ground truth
(`/_control/truth`), its stats endpoints, or a recount in Python of `/_control/documents`.
Counts and count ratios must be exactly equal; only means, deviations and percentiles of
float durations get a relative 1e-9.

The module runs twice: against the default emulator, which writes a both-empty evaluated
field as one placeholder atom, and with the `empty_evaluated_lists` variant, which writes
it as `[]` while its stats still count a tn there (as a real server may).
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pandas as pd
import pytest

from contractfit_emulator import ADMIN_API_KEY, Emulator
from contractfit_emulator.stats import describe, quantile
from contractfit_emulator.variants import Variants
from source_contractfit import analytics
from source_contractfit.timeutil import format_datetime, parse_datetime

from .conftest import api_key_config

CONFUSION = ("tp", "fp", "fn", "tn", "correct", "accuracy", "precision", "recall", "f1")
PROCESSING = ("mean", "min", "max", "std", "p50", "p95", "p99")
VENDOR_STREAMS = {
    "stats_fields",
    "stats_accuracy",
    "stats_stp",
    "stats_automation_blockers",
    "stats_processing",
    "stats_volume",
    "usage",
}
WHOLE_HISTORY = {"start_date": "2000-01-01T00:00:00Z", "end_date": "2100-01-01T00:00:00Z"}


# ------------------------------------------------------------------ helpers


def run_export(tmp: Path, config: dict[str, Any], duck: Path) -> None:
    """`contractfit export --duckdb` as a subprocess, as a user runs it."""
    (tmp / "config.json").write_text(json.dumps(config))
    command = [
        sys.executable,
        "-m",
        "source_contractfit.cli.main",
        "export",
        "--config",
        str(tmp / "config.json"),
        "--duckdb",
        str(duck),
        "--quiet",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def api(emu: Emulator, path: str, **params: Any) -> Any:
    response = httpx.get(
        f"{emu.base_url}/{path}", params=params, headers={"X-API-Key": ADMIN_API_KEY}
    )
    response.raise_for_status()
    return response.json()


def clean(value: Any) -> Any:
    """SQL NULL (NaN/NaT/NA in pandas) as None, DATE as a date."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def close(got: Any, expected: Any) -> bool:
    if expected is None or got is None:
        return got is None and expected is None
    return bool(got == pytest.approx(expected, rel=1e-9))


def expected_fields(inbox_truth: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Truth per field; the views list only fields with at least one observation."""
    bodies = {**inbox_truth["fields"], "__all_fields__": inbox_truth["__all_fields__"]}
    return {name: body for name, body in bodies.items() if body["count"]}


def assert_field_accuracy(frame: pd.DataFrame, truth: dict[str, Any]) -> None:
    """Every (inbox, field) row of field_accuracy equals the truth, exactly."""
    rows = records(frame)
    assert {r["inbox_id"] for r in rows} <= set(truth["inboxes"])
    observations = 0
    for inbox, inbox_truth in truth["inboxes"].items():
        expected = expected_fields(inbox_truth)
        got = {r["field_name"]: r for r in rows if r["inbox_id"] == inbox}
        assert len(got) == len([r for r in rows if r["inbox_id"] == inbox]), inbox
        assert set(got) == set(expected), inbox
        for name, body in expected.items():
            want = {"n": body["count"], **{k: body[k] for k in CONFUSION}}
            have = {"n": got[name]["n"], **{k: got[name][k] for k in CONFUSION}}
            assert have == want, (inbox, name)
        observations += inbox_truth["__all_fields__"]["count"]
    assert observations > 0, "the comparison must not be vacuous"


def assert_document_accuracy(frame: pd.DataFrame, truth: dict[str, Any]) -> None:
    got = {r["inbox_id"]: r for r in records(frame)}
    assert len(got) == len(frame)
    expected = {i: t for i, t in truth["inboxes"].items() if t["documents_evaluated"]}
    assert set(got) == set(expected)
    for inbox, t in expected.items():
        row = got[inbox]
        assert row["documents_evaluated"] == t["documents_evaluated"], inbox
        assert row["documents_correct"] == t["documents_correct"], inbox
        assert row["rate"] == ratio(t["documents_correct"], t["documents_evaluated"]), inbox
        assert row["atoms"] == t["__all_fields__"]["count"], inbox
        assert row["atoms_correct"] == t["__all_fields__"]["correct"], inbox


def assert_stp(frame: pd.DataFrame, truth: dict[str, Any]) -> None:
    got = {r["inbox_id"]: r for r in records(frame)}
    assert len(got) == len(frame)
    expected = {i: t["stp"] for i, t in truth["inboxes"].items() if t["stp"]["total"]}
    assert set(got) == set(expected)
    for inbox, t in expected.items():
        row = got[inbox]
        have = {k: row[k] for k in ("processed", "stp", "rate", "sampled", "sampled_correct")}
        want = {
            "processed": t["total"],
            "stp": t["stp"],
            "rate": t["rate"],
            "sampled": t["sampled"],
            "sampled_correct": t["sampled_correct"],
        }
        assert have == want, inbox
        assert row["sample_accuracy"] == ratio(t["sampled_correct"], t["sampled"]), inbox


def fmt(value: datetime) -> str:
    return format_datetime(value)


# ------------------------------------------------------------------ the shared export


@pytest.fixture(
    scope="module", params=[False, True], ids=["placeholder_atoms", "empty_evaluated_lists"]
)
def analytics_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    variants = Variants(empty_evaluated_lists=request.param)
    with Emulator(seed=3, inboxes=2, documents=1200, days=60, variants=variants) as emu:
        yield emu


@pytest.fixture(scope="module")
def exported(analytics_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full export of every stream (documents and the vendor's stats) into DuckDB.

    First, 30 careless reviews (each accepts one machine error) corrected by a careful
    second review: the last evaluated version is then not the first one, and counts.
    """
    emu = analytics_emulator
    careless = emu.control.review(count=30, careful=False)
    assert len(careless) == 30
    assert emu.control.review(document_ids=careless, careful=True) == careless
    tmp = tmp_path_factory.mktemp("analytics")
    duck = tmp / "out.duckdb"
    run_export(tmp, api_key_config(analytics_emulator.base_url), duck)
    return duck


@pytest.fixture(scope="module")
def con(exported: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = analytics.connect(exported)
    assert analytics.installed(connection), "the exporter must install the views in the file"
    stored = "SELECT view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary"
    assert set(analytics.VIEWS) <= {name for (name,) in connection.execute(stored).fetchall()}, (
        "in the file itself, not only as the session views analytics.connect adds"
    )
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def documents(analytics_emulator: Emulator, exported: Path) -> list[dict[str, Any]]:
    """Every document as the export saw it (after the fixture's reviews)."""
    return analytics_emulator.control.documents()


# ------------------------------------------------------------------ 0. the two server forms


def test_both_empty_evaluated_fields_are_in_the_form_of_the_variant(
    analytics_emulator: Emulator,
    con: duckdb.DuckDBPyConnection,
    documents: list[dict[str, Any]],
) -> None:
    """Not vacuous: the variant really writes `[]`, and each one is a tn of the views."""
    empty_lists = analytics_emulator.control.state()["variants"]["empty_evaluated_lists"]
    judged: dict[str, int] = {}  # judged `[]` lists per inbox
    forms: dict[str, int] = defaultdict(int)
    for doc in documents:
        evaluated = [v for v in doc["versions"] if v["is_evaluated"]]
        for version in evaluated:
            for atoms in version["annotations"].values():
                both_empty = [a for a in atoms if a.get("value") is None and a.get("gold") is None]
                forms["[]"] += atoms == []
                forms["placeholder"] += len(atoms) == 1 and len(both_empty) == 1
        last = [v for v in evaluated if v["name"] == "predicted"][-1:]
        judged[doc["inbox"]] = judged.get(doc["inbox"], 0) + sum(
            atoms == [] for v in last for atoms in v["annotations"].values()
        )
    if empty_lists:
        assert forms["[]"] > 100 and forms["placeholder"] == 0, forms
        assert sum(judged.values()) > 100
    else:
        assert forms["[]"] == 0 and forms["placeholder"] > 100, forms
        assert sum(judged.values()) == 0
    # Each judged `[]` is one occurrence -1 observation of evaluated_atoms, and a tn.
    rows = dict(
        con.execute(
            "SELECT inbox_id, count(*) FROM evaluated_atoms() WHERE occurrence = -1 "
            "AND value_empty AND gold_empty AND correct GROUP BY 1"
        ).fetchall()
    )
    assert rows == {i: n for i, n in judged.items() if n}
    truth = analytics_emulator.control.truth()
    for inbox, n in judged.items():
        assert truth["inboxes"][inbox]["__all_fields__"]["tn"] >= n
    tn = con.execute(
        "SELECT sum(tn) FROM field_accuracy WHERE period = 'all' AND field_name = '__all_fields__'"
    ).fetchone()[0]  # type: ignore[index]
    assert tn == sum(t["__all_fields__"]["tn"] for t in truth["inboxes"].values()) > 0


# ------------------------------------------------------------------ 1. field accuracy


def test_field_accuracy_all_history_equals_the_truth(
    analytics_emulator: Emulator, con: duckdb.DuckDBPyConnection
) -> None:
    frame = analytics.field_accuracy(con)
    assert set(frame.period) == {"all"} and frame.period_start.isna().all()
    assert_field_accuracy(frame, analytics_emulator.control.truth())


def test_field_accuracy_in_a_receive_window_equals_the_truth(
    analytics_emulator: Emulator, con: duckdb.DuckDBPyConnection
) -> None:
    # Bounds on the exact receive times of the two largest batch uploads, so documents sit
    # on both bounds: start is inclusive, end exclusive, to the microsecond.
    batches = con.execute(
        "SELECT receive_time, count(*) AS n FROM documents GROUP BY 1 ORDER BY n DESC, 1 LIMIT 2"
    ).fetchall()
    assert all(n > 1 for _, n in batches)
    start, end = sorted(t for t, _ in batches)
    truth = analytics_emulator.control.truth(start_date=fmt(start), end_date=fmt(end))
    inside = sum(t["documents"] for t in truth["inboxes"].values())
    assert 0 < inside < 1200
    frame = analytics.field_accuracy(con, start=fmt(start), end=fmt(end))
    assert_field_accuracy(frame, truth)
    # The same window given as datetimes.
    again = analytics.field_accuracy(con, start=start, end=end)
    pd.testing.assert_frame_equal(again, frame)


def test_field_accuracy_of_another_version_equals_the_truth(
    analytics_emulator: Emulator, con: duckdb.DuckDBPyConnection
) -> None:
    names = dict(
        con.execute(
            "SELECT name, count(DISTINCT document_id) FROM document_versions "
            "WHERE is_evaluated GROUP BY 1"
        ).fetchall()
    )
    assert names.get("reprocessed", 0) > 0, names
    truth = analytics_emulator.control.truth(version_name="reprocessed")
    evaluated = sum(t["documents_evaluated"] for t in truth["inboxes"].values())
    assert evaluated == names["reprocessed"]
    assert_field_accuracy(analytics.field_accuracy(con, version="reprocessed"), truth)
    assert_document_accuracy(analytics.document_accuracy(con, version="reprocessed"), truth)
    # A version nobody has: no rows at all.
    assert analytics.field_accuracy(con, version="no_such_version").empty


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_field_accuracy_periods_sum_to_all_history(
    con: duckdb.DuckDBPyConnection, period: str
) -> None:
    counts = ["n", "correct", "tp", "fp", "fn", "tn"]
    whole = analytics.field_accuracy(con).set_index(["inbox_id", "field_name"])[counts]
    parts = analytics.field_accuracy(con, period=period)
    assert set(parts.period) == {period} and parts.period_start.notna().all()
    assert parts.groupby(["inbox_id", "period_start"]).ngroups > 1
    summed = parts.groupby(["inbox_id", "field_name"])[counts].sum()
    assert (summed.astype("int64").sort_index() == whole.astype("int64").sort_index()).all().all()
    assert len(summed) == len(whole)
    # Period starts are the first day of the UTC period.
    starts = {clean(v) for v in parts.period_start}
    if period == "month":
        assert all(d.day == 1 for d in starts)
    if period == "week":
        assert all(d.weekday() == 0 for d in starts)


# ------------------------------------------------------------------ 2. document accuracy


def test_document_accuracy_equals_the_truth(
    analytics_emulator: Emulator, con: duckdb.DuckDBPyConnection
) -> None:
    # Documents whose first and last evaluated `predicted` versions disagree exist, so
    # judging by the wrong one would show.
    differing = con.execute(
        "WITH e AS (SELECT document_id, fields_correct, "
        "row_number() OVER (PARTITION BY document_id ORDER BY version_index) AS first, "
        "row_number() OVER (PARTITION BY document_id ORDER BY version_index DESC) AS last "
        "FROM document_versions WHERE is_evaluated AND name = 'predicted') "
        "SELECT count(*) FROM e AS a JOIN e AS b USING (document_id) "
        "WHERE a.first = 1 AND b.last = 1 AND a.fields_correct <> b.fields_correct"
    ).fetchone()[0]  # type: ignore[index]
    assert differing > 0
    assert_document_accuracy(analytics.document_accuracy(con), analytics_emulator.control.truth())
    monthly = analytics.document_accuracy(con, period="month")
    whole = analytics.document_accuracy(con)
    summed = monthly.groupby("inbox_id")[["documents_evaluated", "documents_correct"]].sum()
    for row in records(whole):
        assert summed.loc[row["inbox_id"], "documents_evaluated"] == row["documents_evaluated"]
        assert summed.loc[row["inbox_id"], "documents_correct"] == row["documents_correct"]


# ------------------------------------------------------------------ 3. STP


def test_stp_daily_sums_and_single_days_equal_the_truth(
    analytics_emulator: Emulator, con: duckdb.DuckDBPyConnection
) -> None:
    emu = analytics_emulator
    daily = analytics.stp_daily(con)
    truth = emu.control.truth()
    columns = ["processed", "stp", "sampled", "sampled_correct"]
    summed = daily.groupby("inbox_id")[columns].sum()
    assert set(summed.index) == set(truth["inboxes"])
    for inbox, t in truth["inboxes"].items():
        have = {c: int(summed.loc[inbox, c]) for c in columns}
        want = {
            "processed": t["stp"]["total"],
            "stp": t["stp"]["stp"],
            "sampled": t["stp"]["sampled"],
            "sampled_correct": t["stp"]["sampled_correct"],
        }
        assert have == want, inbox
        assert t["stp"]["sampled"] > 0
    assert_stp(analytics.stp(con, period="all"), truth)
    # The first day, a middle day and the last day, against the truth of that one UTC day.
    days = sorted({clean(d) for d in daily.day})
    for day in (days[0], days[len(days) // 2], days[-1]):
        one_day = emu.control.truth(
            start_date=day.isoformat(), end_date=(day + timedelta(days=1)).isoformat()
        )
        rows = daily[daily.day == pd.Timestamp(day)]
        assert_stp(rows, one_day)
        for row in records(rows):
            stp_rate, sample = row["rate"], row["sample_accuracy"]
            want = None if stp_rate is None or sample is None else stp_rate * sample
            assert row["true_stp_rate"] == want


# ------------------------------------------------------------------ 4. automation blockers


def test_automation_blockers_equal_the_vendor_endpoint(
    analytics_emulator: Emulator, con: duckdb.DuckDBPyConnection
) -> None:
    emu = analytics_emulator
    view = records(con.execute("SELECT * FROM automation_blockers").df())
    function = records(analytics.automation_blockers(con))
    assert sorted((r["inbox_id"], r["field_name"], r["reason"], r["documents"]) for r in view) == (
        sorted((r["inbox_id"], r["field_name"], r["reason"], r["documents"]) for r in function)
    )
    assert {r["inbox_id"] for r in view} <= set(emu.inbox_ids)
    for inbox in emu.inbox_ids:
        body = api(emu, f"stats/{inbox}/automation_blockers", include_detail="true")
        expected = {
            (field, reason): n
            for field, reasons in body["blockers"].items()
            for reason, n in reasons.items()
            if n
        }
        assert expected, "the emulator must have blockers"
        assert any(n == 0 for reasons in body["blockers"].values() for n in reasons.values())
        rows = [r for r in view if r["inbox_id"] == inbox]
        got = {(r["field_name"], r["reason"]): r["documents"] for r in rows}
        assert len(got) == len(rows)
        assert got == expected, inbox
        assert all(r["documents"] > 0 for r in rows)
        for row in rows:
            assert row["blocked_documents"] == body["blocked_documents"]
            assert row["total_documents"] == body["total_documents"]
            assert row["share_of_blocked"] == row["documents"] / body["blocked_documents"]
        # Confidences of the low-confidence blockers, from the endpoint's details.
        confidences: dict[str, list[float]] = defaultdict(list)
        for detail in body["details"]:
            if detail["reason"] == "low_confidence":
                confidences[detail["field"]].append(detail["confidence"])
        for row in rows:
            if row["reason"] == "missing":
                assert row["min_confidence"] is None and row["median_confidence"] is None
            else:
                values = confidences[row["field_name"]]
                assert len(values) == row["documents"]
                assert row["min_confidence"] == min(values)
                assert close(row["median_confidence"], statistics.median(values))


# ------------------------------------------------------------------ 5. processing times


def test_processing_times_equal_the_vendor_endpoint(
    analytics_emulator: Emulator,
    con: duckdb.DuckDBPyConnection,
    documents: list[dict[str, Any]],
) -> None:
    emu = analytics_emulator
    rows = records(analytics.processing_times(con))
    for inbox in emu.inbox_ids:
        groups = api(emu, f"stats/{inbox}/processing", group_by="pages")["groups"]
        mine = [r for r in rows if r["inbox_id"] == inbox]
        got = {str(r["page_count"]): r for r in mine if r["page_count"] is not None}
        assert len(got) == len(mine) - 1
        assert set(got) == set(groups), inbox
        for pages, stats in groups.items():
            row = got[pages]
            assert row["count"] == stats["count"], (inbox, pages)
            for name in PROCESSING:
                assert close(row[name], stats[name]), (inbox, pages, name, row[name], stats)
        # The all-pages row (page_count NULL), recomputed from the documents.
        [whole] = [r for r in mine if r["page_count"] is None]
        periods = [
            d["timings"]["processing_period"]
            for d in documents
            if d["inbox"] == inbox
            and d["timings"].get("start_time")
            and d["timings"].get("processing_period") is not None
        ]
        want = describe(periods)
        assert whole["count"] == want["count"] == sum(s["count"] for s in groups.values())
        for name in PROCESSING:
            assert close(whole[name], want[name]), (inbox, name)


# ------------------------------------------------------------------ 6. review latency


def test_review_latency_equals_a_recount_of_the_documents(
    con: duckdb.DuckDBPyConnection, documents: list[dict[str, Any]]
) -> None:
    latencies: dict[tuple[str, date | None], list[float]] = defaultdict(list)
    for doc in documents:
        feedback = doc["timings"].get("feedback_time")
        if not feedback:
            continue
        received = parse_datetime(doc["timings"]["receive_time"])
        seconds = (parse_datetime(feedback) - received).total_seconds()
        latencies[(doc["inbox"], None)].append(seconds)
        latencies[(doc["inbox"], received.date().replace(day=1))].append(seconds)
    rows = records(analytics.review_latency(con))
    got = {(r["inbox_id"], r["month"]): r for r in rows}
    assert len(got) == len(rows)
    assert set(got) == set(latencies)
    assert len([k for k in got if k[1] is None]) == 2
    for key, values in latencies.items():
        values.sort()
        row = got[key]
        assert row["reviewed"] == len(values), key
        assert close(row["mean_seconds"], math.fsum(values) / len(values)), key
        for q in (50, 95, 99):
            want = quantile(values, q / 100)
            assert close(row[f"p{q}_seconds"], want), (key, q)
            assert close(row[f"p{q}_hours"], want / 3600), (key, q)


# ------------------------------------------------------------------ 7. usage


def test_usage_monthly_equals_the_usage_endpoint_by_month(
    analytics_emulator: Emulator, con: duckdb.DuckDBPyConnection
) -> None:
    usage = api(analytics_emulator, "stats/usage", **WHOLE_HISTORY)
    expected: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    for row in usage:
        month = date.fromisoformat(row["date"]).replace(day=1)
        expected[(row["inbox_id"], month)][0] += row["documents"]
        expected[(row["inbox_id"], month)][1] += row["pages"]
    assert len({m for _, m in expected}) >= 2
    assert sum(d for d, _ in expected.values()) == 1200
    rows = records(analytics.usage_monthly(con))
    got = {(r["inbox_id"], r["month"]): r for r in rows}
    assert len(got) == len(rows)
    assert set(got) == set(expected)
    for key, (documents, pages) in expected.items():
        row = got[key]
        have = [row["documents"], row["pages"], row["vendor_documents"], row["vendor_pages"]]
        assert have == [documents, pages, documents, pages], key


# ------------------------------------------------------------------ 8. confidence calibration


def test_confidence_calibration_equals_a_recount_of_the_documents(
    con: duckdb.DuckDBPyConnection, documents: list[dict[str, Any]]
) -> None:
    counts: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0])
    for doc in documents:
        judged = [v for v in doc["versions"] if v["is_evaluated"] and v["name"] == "predicted"]
        if not judged:
            continue
        for field, atoms in (judged[-1]["annotations"] or {}).items():
            for atom in atoms:
                confidence = atom.get("confidence")
                if confidence is None:
                    continue
                bucket = min(math.floor(confidence / 10) * 10, 90)
                for name in (field, "__all_fields__"):
                    entry = counts[(doc["inbox"], name, bucket)]
                    entry[0] += 1
                    entry[1] += atom.get("correct") is True
    # Cumulative "at or above" sums, from the top bucket down.
    above: dict[tuple[str, str, int], tuple[int, int, int]] = {}
    for inbox, name in {(i, f) for i, f, _ in counts}:
        buckets = sorted((b for i, f, b in counts if (i, f) == (inbox, name)), reverse=True)
        total = sum(counts[(inbox, name, b)][0] for b in buckets)
        n_sum = correct_sum = 0
        for b in buckets:
            n_sum += counts[(inbox, name, b)][0]
            correct_sum += counts[(inbox, name, b)][1]
            above[(inbox, name, b)] = (n_sum, correct_sum, total)
    rows = records(analytics.confidence_calibration(con))
    got = {(r["inbox_id"], r["field_name"], r["confidence_from"]): r for r in rows}
    assert len(got) == len(rows)
    assert set(got) == set(counts)
    assert 90 in {b for _, _, b in counts} and len({b for _, _, b in counts}) >= 5
    for key, (n, correct) in counts.items():
        row = got[key]
        assert (row["n"], row["correct"], row["accuracy"]) == (n, correct, correct / n), key
        assert row["confidence_to"] == key[2] + 10
        n_sum, correct_sum, total = above[key]
        assert row["n_at_or_above"] == n_sum, key
        assert row["correct_at_or_above"] == correct_sum, key
        assert row["accuracy_at_or_above"] == correct_sum / n_sum, key
        assert row["share_at_or_above"] == n_sum / total, key


# ------------------------------------------------------------------ 9. reconciliation


def test_stats_reconciliation_matches_every_vendor_number(
    con: duckdb.DuckDBPyConnection,
) -> None:
    frame = analytics.stats_reconciliation(con)
    assert len(frame) > 1000
    assert set(frame.stream) == VENDOR_STREAMS
    mismatches = analytics.stats_reconciliation(con, mismatches_only=True)
    assert mismatches.empty, mismatches.head(20).to_string()
    assert frame.matches.all()
    both_null = frame.ours.isna() & frame.vendor.isna()
    assert (frame.difference.isna() == both_null).all(), "a NULL on one side only"
    exact = frame[~both_null & (frame.stream != "stats_processing")]
    assert (exact.difference == 0).all()
    floats = frame[~both_null & (frame.stream == "stats_processing")]
    assert (floats.difference.abs() <= 1e-9 * floats.vendor.abs().clip(lower=1)).all()
    assert (floats[floats.metric == "count"].difference == 0).all()


def test_stats_reconciliation_reports_a_changed_vendor_number(
    exported: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(exported, copy)
    wal = exported.with_name(exported.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
    con = duckdb.connect(str(copy))
    try:
        inbox, day = con.execute(
            "SELECT inbox_id, date FROM stats_stp WHERE level = 'document' AND total > 0 "
            "ORDER BY inbox_id, date LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        con.execute(
            "UPDATE stats_stp SET stp = stp + 1 "
            "WHERE inbox_id = ? AND date = ? AND level = 'document'",
            [inbox, day],
        )
        p_inbox, p_day, p_pages = con.execute(
            "SELECT inbox_id, date, page_count FROM stats_processing WHERE count >= 3 "
            "ORDER BY inbox_id, date, page_count LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        where = "WHERE inbox_id = ? AND date = ? AND page_count = ?"
        # Off by a millionth: a difference. Off by 1e-12 (float noise): still a match.
        con.execute(f"UPDATE stats_processing SET mean = mean * (1 + 1e-6) {where}",
                    [p_inbox, p_day, p_pages])  # fmt: skip
        con.execute(f"UPDATE stats_processing SET p50 = p50 * (1 + 1e-12) {where}",
                    [p_inbox, p_day, p_pages])  # fmt: skip
        mismatches = records(analytics.stats_reconciliation(con, mismatches_only=True))
    finally:
        con.close()
    keys = {
        (r["inbox_id"], r["day"], r["stream"], r["breakdown"], r["field_name"], r["metric"])
        for r in mismatches
    }
    assert keys == {
        (inbox, day, "stats_stp", "document", "__all__", "stp"),
        (p_inbox, p_day, "stats_processing", p_pages, "__all__", "mean"),
    }
    by_metric = {r["metric"]: r for r in mismatches}
    assert by_metric["stp"]["difference"] == -1
    assert not by_metric["mean"]["matches"]
    assert by_metric["mean"]["difference"] != 0


# ------------------------------------------------------------------ 10. incremental


def assert_all_equal_truth(duck: Path, truth: dict[str, Any]) -> None:
    con = analytics.connect(duck)
    try:
        assert_field_accuracy(analytics.field_accuracy(con), truth)
        assert_document_accuracy(analytics.document_accuracy(con), truth)
        assert_stp(analytics.stp(con, period="all"), truth)
        daily = analytics.stp_daily(con).groupby("inbox_id")[["processed", "sampled"]].sum()
        for inbox, t in truth["inboxes"].items():
            assert daily.loc[inbox, "processed"] == t["stp"]["total"]
            assert daily.loc[inbox, "sampled"] == t["stp"]["sampled"]
    finally:
        con.close()


def test_incremental_export_keeps_the_analytics_equal_to_the_truth(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    emu = mutable_emulator
    duck = tmp_path / "out.duckdb"
    config = api_key_config(emu.base_url)  # lookback_days: 7
    careless = emu.control.review(count=10, careful=False)  # each accepts a machine error
    run_export(tmp_path, config, duck)
    before = emu.control.truth()
    assert_all_equal_truth(duck, before)
    time.sleep(1.1)  # past the first export's start (the clock starts on a whole second)
    inbox = emu.inbox_ids[0]
    now = parse_datetime(emu.control.state()["now"])
    # Received 5 minutes ago: processed, predicted version stamped before the next export.
    arrived = emu.control.arrive(
        count=12, inbox_id=inbox, receive_time=format_datetime(now - timedelta(minutes=5))
    )
    reviewed = emu.control.review(count=25)
    rereviewed = emu.control.review(document_ids=careless, careful=True)
    reprocessed = emu.control.reprocess(document_ids=reviewed[3:8], name="predicted")
    reviewed_new = emu.control.review(document_ids=arrived[:4])
    assert len(arrived) == 12 and len(reviewed) == 25
    assert rereviewed and reprocessed and reviewed_new
    after = emu.control.truth()
    assert after != before
    evaluated = [t["documents_evaluated"] for t in after["inboxes"].values()]
    assert evaluated != [t["documents_evaluated"] for t in before["inboxes"].values()]
    run_export(tmp_path, config, duck)
    assert_all_equal_truth(duck, after)
