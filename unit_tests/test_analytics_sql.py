"""The analytics SQL on hand-made documents whose every number is worked out below.

Each case pins one clause of API.md's definitions: a wrong value is both an fp and an fn,
both-empty is a tn, the last evaluated version is the one judged, STP counts unreviewed
documents, days are UTC whatever the session's time zone. Real DuckDB file, real sink.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from source_contractfit import analytics, report
from source_contractfit.normalize import SCHEMA_VERSION, TABLES, Normalizer, primary_keys
from source_contractfit.query import format_rows
from source_contractfit.sinks import Commit, DuckDBSink

INBOX = "65f1a0aa9a1b2c3d4e5f0001"


def atom(value: Any, confidence: int | None, flagged: bool, **more: Any) -> dict[str, Any]:
    return {"value": value, "text": None, "confidence": confidence, "flagged": flagged, **more}


def version(name: str, source: str, evaluated: bool, t: str, annotations: dict[str, Any]) -> dict:
    return {
        "name": name, "source": source, "is_evaluated": evaluated,
        "cmp_version": "submitted" if evaluated else None, "timestamp": t,
        "annotations": annotations, "lines": {}, "sections": [{"page": 0}],
    }  # fmt: skip


def document(doc_id: str, receive: str, flag: bool, sampling: bool, versions: list[dict]) -> dict:
    return {
        "id": doc_id, "inbox": INBOX, "page_count": 1, "flag_for_review": flag,
        "versions": versions, "prediction": {"sections": [{"page": 0}]},
        "status_data": {"sampling": sampling},
        "timings": {"receive_time": receive, "start_time": receive, "processing_period": 2.0},
    }  # fmt: skip


PREDICTED_A = {
    "invoice_number": [atom("A1", 99, False)],
    "due_date": [atom("2024-04-30", 61, True)],
    "PO_number": [],
    "invoice_date": [atom(None, None, True)],  # a mandatory field not found
}
# A's first evaluation, then a careful second one that judges invoice_number wrong: the
# last evaluated version is the one that counts.
FIRST_EVALUATION_A = {
    "invoice_number": [atom("A1", 99, False, gold="A1", correct=True)],
    "due_date": [atom("2024-04-30", 61, True, gold="2024-05-30", correct=False)],
    "PO_number": [atom(None, None, False, gold=None, correct=True)],
    "invoice_date": [atom(None, None, True, gold="2024-03-01", correct=False)],
}
LAST_EVALUATION_A = {
    **FIRST_EVALUATION_A,
    "invoice_number": [atom("A1", 99, False, gold="A2", correct=False)],
}
# 01:30 UTC on 2 March is still 1 March in New York: the day must be the UTC one.
DOC_A = document("a" * 24, "2024-03-02T01:30:00Z", True, False, [
    version("predicted", "machine", False, "2024-03-02T01:30:05Z", PREDICTED_A),
    version("submitted", "human", False, "2024-03-03T10:00:00Z", {}),
    version("predicted", "machine", True, "2024-03-03T10:00:00Z", FIRST_EVALUATION_A),
    version("submitted", "human", False, "2024-03-09T10:00:00Z", {}),
    version("predicted", "machine", True, "2024-03-09T10:00:00Z", LAST_EVALUATION_A),
])  # fmt: skip
# STP, sampled for quality control and found correct; confidence 100 is in the top bucket.
DOC_B = document("b" * 24, "2024-03-02T08:00:00Z", False, True, [
    version("predicted", "machine", False, "2024-03-02T08:00:05Z",
            {"invoice_number": [atom("B1", 100, False)]}),
    version("submitted", "human", False, "2024-03-02T09:00:00Z", {}),
    version("predicted", "machine", True, "2024-03-02T09:00:00Z",
            {"invoice_number": [atom("B1", 100, False, gold="B1", correct=True)]}),
])  # fmt: skip
# STP and never reviewed: processed, straight through, judged by nobody.
DOC_C = document("c" * 24, "2024-03-04T12:00:00Z", False, False, [
    version("predicted", "machine", False, "2024-03-04T12:00:05Z",
            {"invoice_number": [atom("C1", 95, False)]}),
])  # fmt: skip


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    path = tmp_path / "x.duckdb"
    sink = DuckDBSink(path, TABLES, primary_keys(), SCHEMA_VERSION)
    normalizer = Normalizer()
    commit = Commit()
    for doc in (DOC_A, DOC_B, DOC_C):
        assert normalizer.add_document(doc)
        commit.document_ids.add(doc["id"])
    for table, batch in normalizer.flush():
        commit.add(table, batch)
    sink.apply(commit, 1)
    sink.close()
    connection = analytics.connect(path)
    connection.execute("SET TimeZone = 'America/New_York'")
    return connection


def one(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    cursor = con.execute(sql)
    rows = cursor.fetchall()
    assert len(rows) == 1, rows
    return dict(zip([d[0] for d in cursor.description], rows[0], strict=True))


def test_the_exporter_file_carries_the_views(con: duckdb.DuckDBPyConnection) -> None:
    assert analytics.installed(con)


def test_field_confusion_follows_the_definitions(con: duckdb.DuckDBPyConnection) -> None:
    rows = {r["field_name"]: r for r in analytics.field_accuracy(con).to_dict("records")}
    # invoice_number: A wrong (fp and fn), B right (tp).
    assert {k: rows["invoice_number"][k] for k in ("n", "tp", "fp", "fn", "tn")} == {
        "n": 2, "tp": 1, "fp": 1, "fn": 1, "tn": 0}  # fmt: skip
    assert rows["PO_number"]["tn"] == 1 and rows["PO_number"]["accuracy"] == 1.0
    assert rows["invoice_date"]["fn"] == 1 and rows["invoice_date"]["fp"] == 0
    total = rows["__all_fields__"]
    assert {k: total[k] for k in ("n", "correct", "tp", "fp", "fn", "tn")} == {
        "n": 5, "correct": 2, "tp": 1, "fp": 2, "fn": 3, "tn": 1}  # fmt: skip
    assert total["precision"] == 1 / 3 and total["recall"] == 1 / 4 and total["f1"] == 2 / 7


def test_counts_are_integers_in_pandas(con: duckdb.DuckDBPyConnection) -> None:
    frames = {
        "field_accuracy": (analytics.field_accuracy(con), ("n", "correct", "tp", "fn")),
        "stp": (analytics.stp(con), ("processed", "stp", "sampled", "sampled_correct")),
        "calibration": (analytics.confidence_calibration(con), ("n", "n_at_or_above")),
        "blockers": (analytics.automation_blockers(con), ("documents", "blocked_documents")),
    }
    for name, (frame, columns) in frames.items():
        for column in columns:
            assert frame[column].dtype.kind == "i", (name, column, frame[column].dtype)


def test_a_version_name_and_a_window_select_what_counts(con: duckdb.DuckDBPyConnection) -> None:
    assert analytics.field_accuracy(con, version="reprocessed").empty
    window = analytics.field_accuracy(con, start="2024-03-02T05:00:00Z", end="2024-03-03")
    assert set(window["n"][window["field_name"] == "__all_fields__"]) == {1}  # B only


def test_days_are_utc_whatever_the_session_time_zone(con: duckdb.DuckDBPyConnection) -> None:
    days = con.execute("SELECT day, processed FROM stp_daily ORDER BY day").fetchall()
    assert [(str(d), n) for d, n in days] == [("2024-03-02", 2), ("2024-03-04", 1)]


def test_documents_and_stp(con: duckdb.DuckDBPyConnection) -> None:
    docs = one(con, "SELECT * FROM document_accuracy WHERE period = 'all'")
    assert (docs["documents_evaluated"], docs["documents_correct"]) == (2, 1)
    stp = one(con, "SELECT * FROM stp_by('all')")
    assert (stp["processed"], stp["stp"], stp["sampled"], stp["sampled_correct"]) == (3, 2, 1, 1)
    assert stp["rate"] == 2 / 3 and stp["true_stp_rate"] == 2 / 3


def test_blockers_name_the_reason(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT field_name, reason, documents, blocked_documents, total_documents, "
        "min_confidence FROM automation_blockers ORDER BY field_name"
    ).fetchall()
    assert rows == [("due_date", "low_confidence", 1, 1, 3, 61.0),
                    ("invoice_date", "missing", 1, 1, 3, None)]  # fmt: skip


def test_calibration_buckets_and_thresholds(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT confidence_from, n, correct, accuracy_at_or_above, share_at_or_above "
        "FROM confidence_calibration WHERE field_name = '__all_fields__' ORDER BY 1"
    ).fetchall()
    assert rows == [(60, 1, 0, 1 / 3, 1.0), (90, 2, 1, 1 / 2, 2 / 3)]
    threshold = one(
        con, "SELECT * FROM confidence_threshold_for(0.5) WHERE field_name = '__all_fields__'"
    )
    assert (threshold["threshold"], threshold["share_automated"]) == (90, 2 / 3)


def test_reconciliation_is_empty_without_vendor_stats(con: duckdb.DuckDBPyConnection) -> None:
    assert analytics.stats_reconciliation(con).empty


def test_report_renders_with_little_or_no_data(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    built = report.build(con)
    text = report.render_text(built)
    assert "no stats_* streams exported" in text
    assert report.render_html(built).count('class="plotly-graph-div"') == 5
    empty = tmp_path / "empty.duckdb"
    DuckDBSink(empty, TABLES, primary_keys(), SCHEMA_VERSION).close()
    with analytics.connect(empty) as nothing:
        assert "Inboxes" in report.render_text(report.build(nothing))
        assert "chart-calibration" in report.render_html(report.build(nothing))


def test_an_older_file_gets_session_views_and_stays_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    DuckDBSink(path, TABLES, primary_keys(), SCHEMA_VERSION).close()
    with duckdb.connect(str(path)) as raw:
        raw.execute("DROP VIEW stats_reconciliation")
    with analytics.connect(path) as con:
        assert analytics.installed(con)
    with duckdb.connect(str(path), read_only=True) as raw:
        names = {n for (n,) in raw.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        assert "stats_reconciliation" not in names


def test_sql_output_formats() -> None:
    columns, rows = ["a", "b"], [(1, 0.5), (None, "x,y")]
    assert format_rows(columns, rows, "csv") == 'a,b\n1,0.5\n,"x,y"'
    assert format_rows(columns, rows, "json") == '{"a":1,"b":0.5}\n{"a":null,"b":"x,y"}'
    assert format_rows(columns, rows, "table").splitlines()[-1] == "(2 rows)"
