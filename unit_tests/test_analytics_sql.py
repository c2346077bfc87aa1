"""The analytics SQL on hand-made documents whose every number is worked out below.

Each case pins one clause of API.md's definitions: a wrong value is both an fp and an fn,
both-empty is a tn, the last evaluated version is the one judged, STP counts unreviewed
documents, days are UTC whatever the session's time zone. Real DuckDB file, real sink.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from source_contractfit import analytics
from source_contractfit.analytics import report
from source_contractfit.analytics.query import format_rows
from source_contractfit.api.errors import ConfigError
from source_contractfit.export.normalize import SCHEMA_VERSION, TABLES, Normalizer, primary_keys
from source_contractfit.export.sinks import Commit, DuckDBSink

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


def build(
    path: Path, docs: list[dict[str, Any]], records: Sequence[tuple[str, dict[str, Any]]] = ()
) -> duckdb.DuckDBPyConnection:
    """Documents (and stream records) through the normalizer and the DuckDB sink.

    As the exporter does: the sink creates the tables, then the analytics layer puts its
    views in the file, then the data is committed.
    """
    sink = DuckDBSink(path, TABLES, primary_keys(), SCHEMA_VERSION)
    assert analytics.install_in_file(sink.con)
    normalizer = Normalizer()
    commit = Commit()
    for doc in docs:
        assert normalizer.add_document(doc)
        commit.document_ids.add(doc["id"])
    for stream, record in records:
        assert normalizer.add_record(stream, record)
    for table, batch in normalizer.flush():
        commit.add(table, batch)
    sink.apply(commit, 1)
    sink.close()
    connection = analytics.connect(path)
    connection.execute("SET TimeZone = 'America/New_York'")
    return connection


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return build(tmp_path / "x.duckdb", [DOC_A, DOC_B, DOC_C])


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
    assert report.render_html(built).count('class="plotly-graph-div"') == 7
    empty = tmp_path / "empty.duckdb"
    DuckDBSink(empty, TABLES, primary_keys(), SCHEMA_VERSION).close()
    with analytics.connect(empty) as nothing:
        assert "Inboxes" in report.render_text(report.build(nothing))
        assert "chart-calibration" in report.render_html(report.build(nothing))


def test_an_older_file_gets_session_views_and_stays_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    DuckDBSink(path, TABLES, primary_keys(), SCHEMA_VERSION).close()
    with duckdb.connect(str(path)) as raw:
        analytics.install_in_file(raw)
        raw.execute("DROP VIEW stats_reconciliation")
    with analytics.connect(path) as con:
        assert analytics.installed(con)
    with duckdb.connect(str(path), read_only=True) as raw:
        names = {n for (n,) in raw.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        assert "stats_reconciliation" not in names


def file_objects_of(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The views and macros stored in the file itself (not a session's temporary ones)."""
    sql = (
        "SELECT view_name FROM duckdb_views() WHERE NOT internal "
        "AND database_name = current_database() "
        "UNION SELECT function_name FROM duckdb_functions() WHERE NOT internal "
        "AND function_type IN ('macro', 'table_macro') AND database_name = current_database()"
    )
    return {name for (name,) in con.execute(sql).fetchall()}


def test_the_views_go_in_the_file_in_one_transaction_and_reruns_replace_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.duckdb"
    sink = DuckDBSink(path, TABLES, primary_keys(), SCHEMA_VERSION)
    assert file_objects_of(sink.con) == set(), "the sink stores data only"
    assert analytics.install_in_file(sink.con) and analytics.install_in_file(sink.con)
    stored = file_objects_of(sink.con)
    assert set(analytics.VIEWS) <= stored and "field_accuracy_by" in stored
    # A file whose SQL fails halfway keeps what it had: no view of the files before.
    sink.con.execute("DROP VIEW stp_daily")
    broken = [*analytics.sql_files(), ("99_broken.sql", "SELECT * FROM no_such_table;")]
    monkeypatch.setattr("source_contractfit.analytics.views.sql_files", lambda: broken)
    with pytest.raises(ConfigError, match="99_broken.sql"):
        analytics.install_in_file(sink.con)
    assert "stp_daily" not in file_objects_of(sink.con)
    sink.close()


def test_a_file_without_every_table_the_views_read_gets_no_views(tmp_path: Path) -> None:
    documents_only = {t: TABLES[t] for t in ("documents", "document_versions", "fields")}
    sink = DuckDBSink(tmp_path / "d.duckdb", documents_only, primary_keys(), SCHEMA_VERSION)
    assert not analytics.install_in_file(sink.con)
    assert file_objects_of(sink.con) == set()
    sink.close()


# ---- an empty list `[]` is the same observation as a both-empty placeholder atom ---------

# What the vendor's GET /stats/{inbox} says for 2 March (UTC): DOC_A's last evaluation and
# DOC_B, worked out by hand from the definitions (PO_number: one tn).
VENDOR_FIELDS_2_MARCH = [
    ("invoice_number", 2, 1, 1, 1, 0, 0.5, 0.5, 0.5, 0.5),
    ("due_date", 1, 0, 1, 1, 0, 0.0, 0.0, 0.0, 0.0),
    ("PO_number", 1, 0, 0, 0, 1, 1.0, None, None, None),
    ("invoice_date", 1, 0, 0, 1, 0, 0.0, None, 0.0, 0.0),
    ("__all_fields__", 5, 1, 2, 3, 1, 2 / 5, 1 / 3, 1 / 4, 2 / 7),
]
VENDOR_RECORDS = [
    ("stats_fields", {
        "inbox_id": INBOX, "date": "2024-03-02", "field_name": name, "count": n, "tp": tp,
        "fp": fp, "fn": fn, "tn": tn, "accuracy": acc, "precision": p, "recall": r, "f1": f1,
    })
    for name, n, tp, fp, fn, tn, acc, p, r, f1 in VENDOR_FIELDS_2_MARCH
]  # fmt: skip


def with_annotation(doc: dict[str, Any], field: str, atoms: list[Any], evaluated: bool) -> dict:
    """A copy of doc whose (evaluated or non-evaluated) versions list `field` as `atoms`."""
    versions = [
        {**v, "annotations": {**v["annotations"], field: atoms}}
        if v["is_evaluated"] is evaluated and field in v["annotations"]
        else v
        for v in doc["versions"]
    ]
    return {**doc, "versions": versions}


# DOC_A as a server that writes a both-empty field as `[]` (evaluated) and an unflagged
# placeholder atom for "not found" (prediction), and as one that does the opposite.
DOC_A_EMPTY_LISTS = with_annotation(DOC_A, "PO_number", [], evaluated=True)
DOC_A_PLACEHOLDERS = with_annotation(DOC_A, "PO_number", [atom(None, None, False)], False)
# B evaluated with a both-empty field too, either way, on a page of its own section.
DOC_B_PLACEHOLDER = with_annotation(
    {**DOC_B, "versions": [
        {**v, "annotations": {**v["annotations"], "iban": []}} for v in DOC_B["versions"]
    ]},
    "iban", [atom(None, None, False, gold=None, correct=True)], evaluated=True,
)  # fmt: skip
DOC_B_EMPTY_LIST = with_annotation(DOC_B_PLACEHOLDER, "iban", [], evaluated=True)

EQUAL_FORMS = {
    "field_accuracy": "SELECT * FROM field_accuracy",
    "document_accuracy": "SELECT * FROM document_accuracy",
    "sections": "SELECT * FROM section_evaluations()",
    "stp": "SELECT * FROM stp_by('all')",
    "field_stp": "SELECT * FROM field_stp_by('all')",
    "blockers": "SELECT * FROM automation_blockers",
    "calibration": "SELECT * FROM confidence_calibration",
    "thresholds": "SELECT * FROM confidence_threshold_for(0.5)",
    "reconciliation": "SELECT * FROM stats_reconciliation",
}


def test_an_empty_list_counts_exactly_as_a_placeholder_atom(tmp_path: Path) -> None:
    placeholders = build(
        tmp_path / "p.duckdb", [DOC_A_PLACEHOLDERS, DOC_B_PLACEHOLDER, DOC_C], VENDOR_RECORDS
    )
    empty_lists = build(
        tmp_path / "e.duckdb", [DOC_A_EMPTY_LISTS, DOC_B_EMPTY_LIST, DOC_C], VENDOR_RECORDS
    )
    empty_rows = "SELECT count(*) FROM fields WHERE occurrence = -1 AND is_evaluated AND correct"
    assert placeholders.execute(empty_rows).fetchone() == (0,)
    assert empty_lists.execute(empty_rows).fetchone() == (3,)  # A twice (both evaluations), B
    for name, sql in EQUAL_FORMS.items():
        got = empty_lists.execute(f"{sql} ORDER BY ALL").fetchall()
        want = placeholders.execute(f"{sql} ORDER BY ALL").fetchall()
        assert got == want, name
        assert got, name
    # The tn are there: field by field and in __all_fields__ (B's iban adds one on 2 March).
    rows = {r["field_name"]: r for r in analytics.field_accuracy(empty_lists).to_dict("records")}
    assert {k: rows["PO_number"][k] for k in ("n", "correct", "tn", "accuracy")} == {
        "n": 1, "correct": 1, "tn": 1, "accuracy": 1.0}  # fmt: skip
    assert (rows["iban"]["n"], rows["iban"]["tn"]) == (1, 1)
    assert {k: rows["__all_fields__"][k] for k in ("n", "correct", "tn")} == {
        "n": 6, "correct": 3, "tn": 2}  # fmt: skip
    docs = analytics.document_accuracy(empty_lists).to_dict("records")
    assert [(d["documents_correct"], d["atoms"], d["atoms_correct"]) for d in docs] == [(1, 6, 3)]
    # An empty prediction list blocks nothing and has no confidence bucket.
    assert empty_lists.execute(
        "SELECT count(*) FROM automation_blockers WHERE field_name IN ('PO_number', 'iban')"
    ).fetchone() == (0,)
    assert empty_lists.execute(
        "SELECT count(*) FROM confidence_calibration WHERE field_name IN ('PO_number', 'iban')"
    ).fetchone() == (0,)
    placeholders.close()
    empty_lists.close()


@pytest.mark.parametrize(
    "docs",
    [[DOC_A, DOC_B, DOC_C], [DOC_A_EMPTY_LISTS, DOC_B, DOC_C]],
    ids=["placeholder atom", "empty list"],
)
def test_reconciliation_matches_a_vendor_counting_the_empty_field_as_a_tn(
    tmp_path: Path, docs: list[dict[str, Any]]
) -> None:
    with build(tmp_path / "x.duckdb", docs, VENDOR_RECORDS) as con:
        frame = analytics.stats_reconciliation(con)
        assert len(frame) == 5 * 9 and frame.matches.all(), frame[~frame.matches].to_string()
        tn = frame[(frame.field_name == "PO_number") & (frame.metric == "tn")]
        assert list(tn.ours) == [1.0] == list(tn.vendor)


def test_sql_output_formats() -> None:
    columns, rows = ["a", "b"], [(1, 0.5), (None, "x,y")]
    assert format_rows(columns, rows, "csv") == 'a,b\n1,0.5\n,"x,y"'
    assert format_rows(columns, rows, "json") == '{"a":1,"b":0.5}\n{"a":null,"b":"x,y"}'
    assert format_rows(columns, rows, "table").splitlines()[-1] == "(2 rows)"


def test_sql_table_is_rich_plain_and_never_wraps() -> None:
    wide, markup = "w" * 400, "[bold]x[/bold] :smile:"
    lines = format_rows(["name", "n"], [(wide, 1), (markup, 22.5)], "table").splitlines()
    assert lines[0].split() == ["name", "n"] and set(lines[1]) == {"-"}
    assert lines[2] == f"{wide}     1" and lines[3] == f"{markup:<400}  22.5"
    assert "\x1b" not in "\n".join(lines)
    assert "\x1b[1m" in format_rows(["a"], [(1,)], "table", color=True)
