"""Normalization against real emulator documents and records: rows, types, extra, rejects.

Expected values are recomputed here from the raw Documents with deliberately plain code,
so a mistake in the normalizer's walk does not hide itself in the test.
"""

from __future__ import annotations

import copy
import math
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import jsonschema
import orjson
import pyarrow as pa
import pytest

from contractfit_emulator import ADMIN_API_KEY, Emulator
from contractfit_emulator.variants import Variants
from source_contractfit.export.normalize import (
    COLUMNS,
    EMPTY_LIST_OCCURRENCE,
    PRIMARY_KEYS,
    RAW_LIMIT,
    SCHEMA_VERSION,
    STREAM_TABLE_COLUMNS,
    TABLES,
    NormalizationError,
    Normalizer,
    airbyte_schema,
    document_rows,
    drift_report,
    field_records,
    field_rows,
    json_row,
    line_item_rows,
    parse_timestamp,
    primary_keys,
    record_rows,
    stream_schema,
    to_batch,
    value_date,
    value_number,
    value_text,
)
from source_contractfit.export.normalize.schemas import columns_from_json_schema
from source_contractfit.streams import stats as daily_stats
from source_contractfit.streams.catalog import STREAMS_BY_NAME
from source_contractfit.timeutil import UTC

NOW = "2026-01-01T00:00:00Z"
Tables = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=3, inboxes=2, documents=240, now=NOW) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def docs(emu: Emulator) -> list[dict[str, Any]]:
    documents = emu.control.documents()
    # Make sure the interesting shapes are there, so the assertions below are not vacuous.
    versions = [v for d in documents for v in d["versions"]]
    assert any(v["is_evaluated"] for v in versions)
    assert any(v["source"] == "human" for v in versions)
    assert any(len(d["versions"]) > 3 for d in documents)
    return list(documents)


@pytest.fixture(scope="module")
def projects(emu: Emulator) -> dict[str, str]:
    return {inbox["id"]: inbox["project"] for inbox in emu.control.state()["inboxes"]}


def normalize(docs: list[Any], projects: dict[str, str] | None = None) -> tuple[Normalizer, Tables]:
    normalizer = Normalizer(batch_rows=1000, inbox_projects=projects)
    for doc in docs:
        normalizer.add_document(doc)
    return normalizer, collect(normalizer.flush())


def collect(batches: Iterator[tuple[str, pa.RecordBatch]]) -> Tables:
    tables: Tables = {}
    for name, batch in batches:
        assert batch.schema == TABLES[name], name
        assert batch.schema.metadata == TABLES[name].metadata
        batch.validate(full=True)
        tables.setdefault(name, []).extend(batch.to_pylist())
    return tables


@pytest.fixture(scope="module")
def tables(docs: list[dict[str, Any]], projects: dict[str, str]) -> Tables:
    normalizer, out = normalize(docs, projects)
    assert normalizer.rejected == 0 and "rejects" not in out
    assert normalizer.drift == Counter()  # the emulator sends only documented keys
    return out


def by_key(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    out = {tuple(row[k] for k in keys): row for row in rows}
    assert len(out) == len(rows), f"duplicate {keys}"
    return out


def ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---- declared schemas ------------------------------------------------------------------


def test_declared_tables_types_and_keys() -> None:
    assert SCHEMA_VERSION == 1
    allowed = {
        pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.date32(),
        pa.timestamp("us", tz="UTC"),
    }  # fmt: skip
    assert set(TABLES) == {
        "documents", "document_versions", "fields", "line_items", "sections", "rejects",
        *STREAM_TABLE_COLUMNS,
    }  # fmt: skip
    for name, schema in TABLES.items():
        assert {f.type for f in schema} <= allowed, name
        assert schema.names == [c for c, _ in COLUMNS[name]]
        assert name == "rejects" or schema.names[-1] == "extra"
        for key in PRIMARY_KEYS[name]:
            assert not schema.field(key).nullable, (name, key)
    assert primary_keys() == PRIMARY_KEYS and primary_keys() is not PRIMARY_KEYS
    documents = """id inbox_id project_id original_filename page_count document_type format_id
        flag_for_review is_stp sampling submitted submitted_by rejected escalated locked
        archived last_version versions_count evaluated document_correct receive_time
        start_time done_time processing_period feedback_time submit_time
        review_latency_seconds pages source extra"""
    assert TABLES["documents"].names == documents.split()
    values = """value value_number value_date value_bool text confidence page ul_line
        ul_char lr_line lr_char flagged gold correct extra"""
    value_columns = values.split()
    assert TABLES["fields"].names == [
        "document_id", "version_index", "inbox_id", "version_name", "is_evaluated",
        "field_name", "occurrence", *value_columns,
    ]  # fmt: skip
    assert TABLES["line_items"].names == [
        "document_id", "version_index", "inbox_id", "version_name", "is_evaluated",
        "table_name", "row_index", "column_name", *value_columns,
    ]  # fmt: skip
    assert TABLES["rejects"].names == ["stream", "record_id", "reason", "raw", "rejected_at"]


@pytest.mark.parametrize("stream", sorted(STREAM_TABLE_COLUMNS))
def test_stream_tables_follow_their_json_schemas(stream: str) -> None:
    definition = STREAMS_BY_NAME[stream]
    names = [name for name, _ in COLUMNS[stream]]
    assert names == [*definition.json_schema()["properties"], "extra"]
    assert PRIMARY_KEYS[stream] == tuple(k for key in definition.primary_key for k in key)


def test_json_schema_types_map_to_arrow_kinds() -> None:
    assert set(STREAM_TABLE_COLUMNS) == {
        "projects", "inboxes", "users", "roles", "formats", "reports", "document_version_names",
        "stats_fields", "stats_accuracy", "stats_stp", "stats_automation_blockers",
        "stats_processing", "stats_volume", "usage",
    }  # fmt: skip
    schema = {
        "properties": {
            "a": {"type": "string", "format": "date"},
            "b": {"type": ["string", "null"], "format": "date-time"},
            "c": {"type": ["integer", "null"]},
            "d": {"type": "number"},
            "e": {"type": ["boolean", "null"]},
            "f": {"type": ["object", "array", "null"]},
            "g": {"type": ["array", "null"], "items": {"type": "string"}},
            "h": {},
            "i": {"type": ["string", "null"]},
        }
    }
    assert dict(columns_from_json_schema(schema)) == {
        "a": "date", "b": "timestamp", "c": "int", "d": "float", "e": "bool", "f": "json",
        "g": "json", "h": "json", "i": "string", "extra": "json",
    }  # fmt: skip
    types = {name: dict(zip(s.names, s.types, strict=True)) for name, s in TABLES.items()}
    assert types["stats_fields"]["date"] == pa.date32()
    assert types["stats_fields"]["tp"] == pa.int64()
    assert types["stats_fields"]["f1"] == pa.float64()
    assert types["users"]["confirmed_at"] == pa.timestamp("us", tz="UTC")
    assert types["roles"]["permissions"] == pa.string()
    assert types["projects"]["split_into_sections"] == pa.bool_()
    assert types["stats_processing"]["page_count"] == pa.string()


@pytest.mark.parametrize(
    ("stream", "table"), [("document_fields", "fields"), ("document_line_items", "line_items")]
)
def test_airbyte_schema_files_match_the_tables(
    stream: str, table: str, docs: list[dict[str, Any]]
) -> None:
    schema = stream_schema(stream)
    assert schema == airbyte_schema(table)
    assert list(schema["properties"]) == TABLES[table].names
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    derive = field_rows if table == "fields" else line_item_rows
    rows = [row for doc in docs[:40] for row in derive(doc)]
    assert rows
    for row in rows:
        record = json_row(row)
        orjson.dumps(record)  # JSON-safe
        validator.validate(record)


# ---- documents ---------------------------------------------------------------------------


def test_one_documents_row_per_document(
    docs: list[dict[str, Any]], tables: Tables, projects: dict[str, str]
) -> None:
    rows = by_key(tables["documents"], "id")
    assert len(rows) == len(docs)
    for doc in docs:
        row = rows[(doc["id"],)]
        timings, versions = doc["timings"], doc["versions"]
        section = doc["prediction"]["sections"][0]
        evaluated = [v for v in versions if v["is_evaluated"] and v["name"] == "predicted"]
        receive, feedback = ts(timings["receive_time"]), ts(timings["feedback_time"])
        expected = {
            "id": doc["id"],
            "inbox_id": doc["inbox"],
            "project_id": projects[doc["inbox"]],
            "original_filename": doc["original_filename"],
            "page_count": doc["page_count"],
            "document_type": section["document_type"],
            "format_id": section["format"],
            "flag_for_review": doc["flag_for_review"],
            "is_stp": not doc["flag_for_review"],
            "sampling": doc["status_data"]["sampling"],
            "submitted": doc["submitted"]["value"],
            "submitted_by": doc["submitted"]["by"],
            "rejected": doc["reject"]["value"],
            "escalated": doc["escalate"]["value"],
            "locked": doc["lock"]["value"],
            "archived": doc["status_data"]["archived"],
            "last_version": doc["last_version"],
            "versions_count": len(versions),
            "evaluated": any(v["is_evaluated"] for v in versions),
            "document_correct": (
                evaluated[-1]["evaluation"]["document_correct"] if evaluated else None
            ),
            "receive_time": receive,
            "start_time": ts(timings["start_time"]),
            "done_time": ts(timings["done_time"]),
            "processing_period": timings["processing_period"],
            "feedback_time": feedback,
            "submit_time": ts(timings["submit_time"]),
            "review_latency_seconds": (
                (feedback - receive).total_seconds() if receive and feedback else None
            ),
            "pages": doc["usage_data"]["pages"],
            "source": doc["meta_information"]["source"],
        }
        assert {k: row[k] for k in expected} == expected
        extra = orjson.loads(row["extra"])
        assert extra["usage_data.ocr_pages"] == doc["usage_data"]["ocr_pages"]
        assert "status_data.ready_attempts" not in extra and "files" not in extra
        if doc["submitted"]["since"] is not None:
            assert extra["submitted.since"] == doc["submitted"]["since"]
    assert any(r["review_latency_seconds"] for r in rows.values())
    assert any(r["document_correct"] is False for r in rows.values())


def test_versions_rows_and_evaluation_counts(docs: list[dict[str, Any]], tables: Tables) -> None:
    rows = by_key(tables["document_versions"], "document_id", "version_index")
    assert len(rows) == sum(len(d["versions"]) for d in docs)
    fields = tables["fields"]
    correct: Counter[tuple[str, int]] = Counter()
    total: Counter[tuple[str, int]] = Counter()
    for f in fields:
        total[(f["document_id"], f["version_index"])] += 1
        correct[(f["document_id"], f["version_index"])] += f["correct"] is True
    evaluated = 0
    for doc in docs:
        for index, version in enumerate(doc["versions"]):
            row = rows[(doc["id"], index)]
            assert row["name"] == version["name"] and row["source"] == version["source"]
            assert row["is_evaluated"] == version["is_evaluated"]
            assert row["cmp_version"] == version["cmp_version"] and row["by"] == version["by"]
            assert row["timestamp"] == ts(version["timestamp"])
            assert row["inbox_id"] == doc["inbox"] and row["extra"] is None
            if version["is_evaluated"]:
                evaluated += 1
                evaluation = version["evaluation"]
                assert (
                    row["fields_total"] == evaluation["fields_total"] == total[(doc["id"], index)]
                )
                assert row["fields_correct"] == evaluation["fields_correct"]
                assert row["fields_correct"] == correct[(doc["id"], index)]
                assert row["document_correct"] == evaluation["document_correct"]
            else:
                assert row["fields_total"] is None and row["document_correct"] is None
    assert evaluated > 10


def _expected_value(value: Any) -> dict[str, Any]:
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    numeric |= isinstance(value, str) and bool(re.fullmatch(r"-?\d+(\.\d+)?", value))
    number = float(value) if numeric else None
    is_date = isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value)
    return {
        "value": (
            None if value is None
            else ("true" if value else "false") if isinstance(value, bool)
            else repr(value) if isinstance(value, float)
            else str(value)
        ),
        "value_number": number,
        "value_date": date.fromisoformat(value) if is_date else None,
        "value_bool": value if isinstance(value, bool) else None,
    }  # fmt: skip


def _expected_atom(atom: dict[str, Any]) -> dict[str, Any]:
    upper, lower = atom.get("upper_left"), atom.get("lower_right")
    if upper is None and lower is None and atom.get("textual_coord"):
        upper, lower = atom["textual_coord"][:3], atom["textual_coord"][3:]
    confidence = atom.get("confidence")
    return {
        **_expected_value(atom.get("value")),
        "text": atom.get("text"),
        "confidence": None if confidence is None else float(confidence),
        "page": upper[0] if upper else None,
        "ul_line": upper[1] if upper else None,
        "ul_char": upper[2] if upper else None,
        "lr_line": lower[1] if lower else None,
        "lr_char": lower[2] if lower else None,
        "flagged": atom.get("flagged"),
        "gold": atom.get("gold"),
        "correct": atom.get("correct"),
        "extra": None,
    }


# The value columns of an empty list's row: all null (`correct` depends on the version).
EMPTY_VALUES: dict[str, Any] = {
    name: None
    for name in TABLES["fields"].names[TABLES["fields"].names.index("occurrence") + 1 :]
    if name != "correct"
}


def test_every_atom_of_every_version_is_a_fields_row(
    docs: list[dict[str, Any]], tables: Tables
) -> None:
    rows = by_key(tables["fields"], "document_id", "version_index", "field_name", "occurrence")
    expected_count = 0
    kinds: Counter[str] = Counter()
    for doc in docs:
        for index, version in enumerate(doc["versions"]):
            for name, atoms in version["annotations"].items():
                if atoms == []:  # present but empty: one row, occurrence -1, values null
                    expected_count += 1
                    row = rows[(doc["id"], index, name, EMPTY_LIST_OCCURRENCE)]
                    assert {k: row[k] for k in EMPTY_VALUES} == EMPTY_VALUES
                    assert row["correct"] is (True if version["is_evaluated"] else None)
                    kinds[f"empty {version['source']}"] += 1
                    continue
                for occurrence, atom in enumerate(atoms):
                    expected_count += 1
                    row = rows[(doc["id"], index, name, occurrence)]
                    assert row["inbox_id"] == doc["inbox"]
                    assert row["version_name"] == version["name"]
                    assert row["is_evaluated"] == version["is_evaluated"]
                    expected = _expected_atom(atom)
                    assert {k: row[k] for k in expected} == expected, (doc["id"], index, name)
                    kinds[type(atom["value"]).__name__] += 1
                    kinds["coords"] += row["ul_line"] is not None
                    kinds["textual"] += "textual_coord" in atom
                    kinds["date"] += row["value_date"] is not None
    assert len(rows) == expected_count
    assert min(kinds[k] for k in ("str", "float", "bool", "NoneType")) > 0
    assert kinds["empty machine"] > 0 and kinds["empty human"] > 0
    assert kinds["textual"] > 0 and kinds["date"] > 0 and kinds["coords"] > 0


# API.md's example Document (the "…" stand-ins filled in), with `"PO_number": []` in the
# prediction and, as a server may write it, in the evaluated version too.
API_MD_ANNOTATIONS = {
    "invoice_number": [{"value": "INV-2024-0042", "text": "INV-2024-0042", "confidence": 99,
                        "upper_left": [0, 3, 15], "lower_right": [0, 3, 28], "flagged": False}],
    "gross_amount": [{"value": 1210.0, "text": "1.210,00", "confidence": 88,
                      "upper_left": [1, 22, 40], "lower_right": [1, 22, 48], "flagged": False}],
    "due_date": [{"value": "2024-04-30", "text": "30/04/2024", "confidence": 61,
                  "upper_left": [0, 7, 12], "lower_right": [0, 7, 22], "flagged": True}],
    "PO_number": [],
}  # fmt: skip
API_MD_DOCUMENT: dict[str, Any] = {
    "id": "65f1c0de9a1b2c3d4e5f6071",
    "inbox": "65f1a0aa9a1b2c3d4e5f0001",
    "page_count": 2,
    "prediction": {"sections": [{"page": 0, "document_type": "invoice", "confidence": 97}],
                   "annotations": API_MD_ANNOTATIONS, "lines": {}},
    "versions": [
        {"name": "predicted", "source": "machine", "is_evaluated": False,
         "timestamp": "2024-03-01T09:00:07.000000Z", "annotations": API_MD_ANNOTATIONS},
        {"name": "submitted", "source": "human", "is_evaluated": False,
         "timestamp": "2024-03-01T10:15:00.000000Z",
         "annotations": {"due_date": [{"value": "2024-05-30", "text": "30/05/2024",
                                       "textual_coord": [0, 9, 12, 0, 9, 22]}],
                         "PO_number": [], "note": None}},
        {"name": "predicted", "source": "machine", "is_evaluated": True,
         "cmp_version": "submitted", "timestamp": "2024-03-01T10:15:01.000000Z",
         "annotations": {
             "invoice_number": [{"value": "INV-2024-0042", "gold": "INV-2024-0042",
                                 "correct": True}],
             "due_date": [{"value": "2024-04-30", "gold": "2024-05-30", "correct": False}],
             "PO_number": [],
         },
         "evaluation": {"fields_total": 3, "fields_correct": 2, "document_correct": False}},
    ],
    "flag_for_review": True,
    "timings": {"receive_time": "2024-03-01T09:00:00.000000Z"},
}  # fmt: skip


def test_an_empty_list_is_one_row_with_occurrence_minus_one() -> None:
    rows = field_rows(API_MD_DOCUMENT)
    empty = {r["version_index"]: r for r in rows if r["field_name"] == "PO_number"}
    assert set(empty) == {0, 1, 2}  # one row per version that lists the field as []
    for index, row in empty.items():
        assert row["occurrence"] == EMPTY_LIST_OCCURRENCE == -1
        assert {k: row[k] for k in EMPTY_VALUES} == EMPTY_VALUES
        assert row["document_id"] == API_MD_DOCUMENT["id"] and row["inbox_id"] is not None
        # Both empty is correct (a true negative) in the evaluated version; elsewhere unknown.
        assert (row["is_evaluated"], row["correct"]) == ((True, True) if index == 2 else
                                                         (False, None))  # fmt: skip
    # A field whose value is null (not a list) stays without a row.
    assert not [r for r in rows if r["field_name"] == "note"]
    # The other fields keep one row per atom, from occurrence 0.
    assert sorted((r["version_index"], r["field_name"], r["occurrence"]) for r in rows) == [
        (0, "PO_number", -1), (0, "due_date", 0), (0, "gross_amount", 0),
        (0, "invoice_number", 0), (1, "PO_number", -1), (1, "due_date", 0),
        (2, "PO_number", -1), (2, "due_date", 0), (2, "invoice_number", 0),
    ]  # fmt: skip
    # A list holding one null atom is still an atom at occurrence 0, not an empty list.
    doc = copy.deepcopy(API_MD_DOCUMENT)
    doc["versions"][2]["annotations"]["PO_number"] = [None]
    [null_atom] = [r for r in field_rows(doc) if (r["version_index"], r["field_name"]) == (
        2, "PO_number")]  # fmt: skip
    assert null_atom["occurrence"] == 0 and null_atom["correct"] is None


def test_empty_list_rows_pass_the_batches_and_the_airbyte_schema() -> None:
    normalizer, out = normalize([API_MD_DOCUMENT])
    assert normalizer.rejected == 0
    assert [r for r in out["fields"] if r["occurrence"] == -1] == [
        r for r in field_rows(API_MD_DOCUMENT) if r["occurrence"] == -1
    ]
    validator = jsonschema.Draft7Validator(stream_schema("document_fields"))
    records = [r for r in field_records(API_MD_DOCUMENT) if r["field_name"] == "PO_number"]
    assert [r["occurrence"] for r in records] == [-1, -1, -1]
    for record in records:
        validator.validate(record)


def test_the_empty_evaluated_lists_variant_gives_the_placeholder_rows_as_occurrence_minus_one(
    docs: list[dict[str, Any]], tables: Tables
) -> None:
    """A server writing `[]` for a both-empty evaluated field, and ours writing a placeholder
    atom, give the same fields rows but for the key and `flagged` of those observations."""
    with Emulator(
        seed=3, inboxes=2, documents=240, now=NOW, variants=Variants(empty_evaluated_lists=True)
    ) as variant:
        variant_docs = variant.control.documents()
    assert [d["id"] for d in variant_docs] == [d["id"] for d in docs]
    _, out = normalize(variant_docs)

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return (row["document_id"], row["version_index"], row["field_name"], row["occurrence"])

    ours = {key(r): r for r in tables["fields"]}
    theirs = {key(r): r for r in out["fields"]}
    moved = 0
    for k, row in theirs.items():
        if row["is_evaluated"] and row["occurrence"] == -1:
            placeholder = ours.pop((*k[:3], 0))
            assert {**placeholder, "occurrence": -1, "flagged": None} == row
            assert (placeholder["value"], placeholder["gold"], placeholder["correct"]) == (
                None, None, True)  # fmt: skip
            moved += 1
        else:
            assert ours.pop(k) == row, k
    assert moved > 0 and not ours


def test_every_line_item_cell_is_a_row(docs: list[dict[str, Any]], tables: Tables) -> None:
    keys = ("document_id", "version_index", "table_name", "row_index", "column_name")
    rows = by_key(tables["line_items"], *keys)
    count = 0
    for doc in docs:
        for index, version in enumerate(doc["versions"]):
            for table, table_rows in version["lines"].items():
                for row_index, cells in enumerate(table_rows):
                    for column, cell in cells.items():
                        count += 1
                        row = rows[(doc["id"], index, table, row_index, column)]
                        assert row["version_name"] == version["name"]
                        expected = _expected_atom(cell)
                        assert {k: row[k] for k in expected} == expected
    assert len(rows) == count > 0
    assert any(r["gold"] is not None and r["correct"] is not None for r in rows.values())


def test_sections_of_versions_and_prediction(docs: list[dict[str, Any]], tables: Tables) -> None:
    rows = by_key(tables["sections"], "document_id", "version_index", "section_index")
    count = 0
    for doc in docs:
        lists = [(-1, doc["prediction"]["sections"])]
        lists += [(i, v["sections"]) for i, v in enumerate(doc["versions"])]
        for index, sections in lists:
            for number, section in enumerate(sections):
                count += 1
                row = rows[(doc["id"], index, number)]
                assert row["page"] == section["page"]
                assert row["document_type"] == section["document_type"]
                assert row["format_id"] == section["format"]
                assert row["confidence"] == float(section["confidence"])
    assert len(rows) == count


def test_primary_keys_unique_in_every_table(tables: Tables) -> None:
    for name, rows in tables.items():
        keys = PRIMARY_KEYS[name]
        seen = {tuple(row[k] for k in keys) for row in rows}
        assert len(seen) == len(rows), name
        assert all(None not in key for key in seen), name


def test_project_id_is_null_without_mapping(docs: list[dict[str, Any]]) -> None:
    rows = document_rows(docs[0])
    assert rows["documents"][0]["project_id"] is None
    assert rows["documents"][0]["inbox_id"] == docs[0]["inbox"]


# ---- drift and extra ---------------------------------------------------------------------


def test_unknown_keys_go_to_extra_and_count_as_drift(docs: list[dict[str, Any]]) -> None:
    doc = copy.deepcopy(next(d for d in docs if len(d["versions"]) >= 3))
    doc["new_top_key"] = {"nested": [1, 2]}
    doc["status_data"]["ready_attempts_v2"] = 4
    doc["timings"]["queue_time"] = None  # unknown keys are kept even when null
    doc["meta_information"]["channel"] = "sftp"  # free-form object: extra, no drift
    doc["prediction"]["model"] = "v7"
    first_field = next(name for name, atoms in doc["versions"][0]["annotations"].items() if atoms)
    doc["versions"][0]["annotations"][first_field][0]["ocr_engine"] = "x"
    doc["versions"][0]["lines"]["line_items"][0]["amount"]["ocr_engine"] = "y"
    doc["versions"][1]["reviewer_note"] = "checked"
    doc["versions"][1]["sections"][0]["rotation"] = 90
    evaluated = next(v for v in doc["versions"] if v["evaluation"])
    evaluated["evaluation"]["fields_skipped"] = 2

    normalizer, out = normalize([doc])
    assert normalizer.rejected == 0
    assert normalizer.drift == Counter(
        {
            "documents.new_top_key": 1,
            "documents.status_data.ready_attempts_v2": 1,
            "documents.timings.queue_time": 1,
            "documents.prediction.model": 1,
            "fields.ocr_engine": 1,
            "line_items.ocr_engine": 1,
            "document_versions.reviewer_note": 1,
            "document_versions.evaluation.fields_skipped": 1,
            "sections.rotation": 1,
        }
    )
    extra = orjson.loads(out["documents"][0]["extra"])
    assert extra["new_top_key"] == {"nested": [1, 2]}
    assert extra["status_data.ready_attempts_v2"] == 4
    assert extra["timings.queue_time"] is None and "timings.queue_time" in extra
    assert extra["meta_information.channel"] == "sftp"
    assert extra["prediction.model"] == "v7"
    atom = next(r for r in out["fields"] if r["extra"])
    assert (atom["version_index"], atom["field_name"], atom["occurrence"]) == (0, first_field, 0)
    assert orjson.loads(atom["extra"]) == {"ocr_engine": "x"}
    cell = next(r for r in out["line_items"] if r["extra"])
    assert orjson.loads(cell["extra"]) == {"ocr_engine": "y"}
    versions = {r["version_index"]: r for r in out["document_versions"]}
    assert orjson.loads(versions[1]["extra"]) == {"reviewer_note": "checked"}
    assert orjson.loads(versions[doc["versions"].index(evaluated)]["extra"]) == {
        "evaluation.fields_skipped": 2
    }
    section = next(r for r in out["sections"] if r["extra"])
    assert (section["version_index"], orjson.loads(section["extra"])) == (1, {"rotation": 90})
    report = drift_report(normalizer.drift)
    assert len(report) == 9 and "fields.ocr_engine" in "\n".join(report)


def test_textual_coord_beside_coordinates_goes_to_extra_without_drift(
    docs: list[dict[str, Any]],
) -> None:
    doc = copy.deepcopy(docs[0])
    atoms = next(a for a in doc["versions"][0]["annotations"].values() if a)
    atoms[0]["textual_coord"] = [0, 1, 2, 0, 1, 9]
    normalizer, out = normalize([doc])
    assert normalizer.drift == Counter()
    row = next(r for r in out["fields"] if r["extra"])
    assert orjson.loads(row["extra"]) == {"textual_coord": [0, 1, 2, 0, 1, 9]}
    assert row["ul_line"] == atoms[0]["upper_left"][1]


# ---- rejects -----------------------------------------------------------------------------


def _break(path: str, value: Any) -> Any:
    def apply(doc: dict[str, Any]) -> dict[str, Any]:
        target: Any = doc
        parts = path.split("/")
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target[part]
        last = parts[-1]
        if value is _DELETE:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return doc

    return apply


_DELETE = object()
MALFORMED = {
    "no id": (_break("id", _DELETE), "id: expected a non-empty string"),
    "numeric id": (_break("id", 42), "id: expected a non-empty string, got number"),
    "versions not a list": (_break("versions", {"a": 1}), "versions: expected an array"),
    "bad timestamp": (_break("timings/receive_time", "yesterday"), "timings.receive_time"),
    "bad version timestamp": (
        _break("versions/0/timestamp", "2024-13-01T00:00:00Z"),
        "versions[0].timestamp",
    ),  # fmt: skip
    "confidence not a number": (
        _break("versions/0/annotations/invoice_number/0/confidence", "high"),
        "versions[0].annotations.invoice_number[0].confidence: expected a number",
    ),
    "page_count as string": (_break("page_count", "3"), "page_count: expected an integer"),
    "timings not an object": (_break("timings", [1]), "timings: expected an object"),
    "atoms not a list": (_break("versions/0/annotations/due_date", "x"), "annotations.due_date"),
    "bad coordinate": (
        _break("versions/0/annotations/invoice_number/0/upper_left", [0, "a", 1]),
        "upper_left[1]: expected an integer",
    ),
    "section not an object": (_break("prediction/sections/0", 5), "prediction.sections[0]"),
    "cell not an object": (
        _break("versions/0/lines/line_items/0/amount", "1"),
        "line_items[0].amount",
    ),  # fmt: skip
    "flag not a boolean": (_break("flag_for_review", "yes"), "flag_for_review"),
    "huge integer": (_break("page_count", 2**70), "64-bit"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_document_is_one_reject_and_nothing_else(
    case: str, docs: list[dict[str, Any]]
) -> None:
    mutate, reason = MALFORMED[case]
    good = docs[0]
    assert good["versions"][0]["annotations"]["invoice_number"], "fixture needs an atom"
    bad = mutate(copy.deepcopy(good))
    normalizer, out = normalize([docs[1], bad, docs[2]])
    assert normalizer.rejected == 1
    assert [r["id"] for r in out["documents"]] == [docs[1]["id"], docs[2]["id"]]
    for table in ("document_versions", "fields", "line_items", "sections"):
        assert good["id"] not in {r["document_id"] for r in out[table]}, table
    (reject,) = out["rejects"]
    assert reject["stream"] == "documents"
    assert reason in reject["reason"], reject["reason"]
    assert reject["record_id"] == (str(bad["id"]) if "id" in bad else None)
    assert reject["raw"] is not None and reject["rejected_at"].tzinfo is not None
    with pytest.raises(NormalizationError):
        document_rows(bad)
    with pytest.raises(NormalizationError):  # the Airbyte row streams reject the same
        field_rows(bad)


@pytest.mark.parametrize("value", [None, 3, "doc", [1, 2], {"id": ""}, True])
def test_non_documents_are_rejected(value: Any) -> None:
    normalizer, out = normalize([value])
    assert normalizer.rejected == 1 and list(out) == ["rejects"]
    assert orjson.loads(out["rejects"][0]["raw"]) == value


def test_raw_of_a_reject_is_truncated(docs: list[dict[str, Any]]) -> None:
    doc = copy.deepcopy(docs[0])
    doc["versions"] = "x" * (3 * RAW_LIMIT)
    _, out = normalize([doc])
    assert len(out["rejects"][0]["raw"].encode()) == RAW_LIMIT


def test_lenient_widening(docs: list[dict[str, Any]]) -> None:
    doc = copy.deepcopy(docs[0])
    doc["page_count"] = 3.0  # integral float where an int is declared
    doc["timings"]["processing_period"] = 7  # int where a float is declared
    doc["timings"]["receive_time"] = "2024-03-01T10:00:00+01:00"  # offset, no fraction
    doc["versions"][0]["annotations"]["extra_field"] = None  # null list: no rows
    doc["versions"][0]["annotations"]["empty_field"] = []
    row = document_rows(doc)["documents"][0]
    assert row["page_count"] == 3 and row["processing_period"] == 7.0
    assert row["receive_time"] == datetime(2024, 3, 1, 9, tzinfo=UTC)
    fields = document_rows(doc)["fields"]
    assert "extra_field" not in {r["field_name"] for r in fields}  # null: no row
    [empty] = [r for r in fields if r["field_name"] == "empty_field"]  # []: one row
    assert empty["occurrence"] == EMPTY_LIST_OCCURRENCE and empty["value"] is None


# ---- value rules -------------------------------------------------------------------------


def test_value_text_matches_the_gold_rule() -> None:
    assert value_text("INV-1") == "INV-1"
    assert value_text(1210.0) == "1210.0" and value_text(0.1) == "0.1"
    assert value_text(10) == "10" and value_text(1e16) == "1e+16"
    assert value_text(True) == "true" and value_text(False) == "false"
    assert value_text(None) is None
    assert value_text({"a": [1, None]}) == '{"a":[1,null]}'
    assert value_number("12.50") == 12.5 and value_number("-3") == -3.0
    assert value_number("1e3") == 1000.0 and value_number(7) == 7.0
    for not_number in ("1.210,00", "12%", " 12", "nan", "inf", "1_000", "", True, None):
        assert value_number(not_number) is None, not_number
    assert value_number(math.inf) is None
    assert value_date("2024-02-29") == date(2024, 2, 29)
    for not_date in ("2023-02-29", "30/04/2024", "2024-04-30T00:00:00Z", 20240430):
        assert value_date(not_date) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T09:00:07.123456Z", datetime(2024, 3, 1, 9, 0, 7, 123456, tzinfo=UTC)),
        ("2024-03-01T09:00:07Z", datetime(2024, 3, 1, 9, 0, 7, tzinfo=UTC)),
        ("2024-03-01T09:00:07", datetime(2024, 3, 1, 9, 0, 7, tzinfo=UTC)),
        ("2024-03-01T09:00:07.5", datetime(2024, 3, 1, 9, 0, 7, 500000, tzinfo=UTC)),
        ("2024-03-01T09:00:07.123456789Z", datetime(2024, 3, 1, 9, 0, 7, 123456, tzinfo=UTC)),
        ("2024-03-01T09:00:07-02:30", datetime(2024, 3, 1, 11, 30, 7, tzinfo=UTC)),
        ("2024-03-01 09:00", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01T25:00:00Z", None),
        ("01/03/2024", None),
        ("0001-01-01T00:00:00+01:00", None),
    ],
)
def test_timestamps(text: str, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


# ---- records of the other streams --------------------------------------------------------


@pytest.fixture(scope="module")
def stream_records(emu: Emulator, docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Records of every plain stream, as the engine builds them, from the emulator's API."""
    out: dict[str, list[dict[str, Any]]] = {}
    days = Counter(d["timings"]["receive_time"][:10] for d in docs)
    day = max(days, key=lambda d: days[d])
    next_day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    with httpx.Client(base_url=emu.base_url, headers={"X-API-Key": ADMIN_API_KEY}) as client:
        for name in ("projects", "inboxes", "users", "roles", "formats", "reports"):
            out[name] = client.get(f"/{name}").raise_for_status().json()
        out["document_version_names"] = []
        for inbox in emu.control.inbox_ids():
            names = client.get(f"/inboxes/{inbox}/document_versions").raise_for_status().json()
            out["document_version_names"] += [{**r, "inbox_id": inbox} for r in names]
            for stream, endpoint in daily_stats.ENDPOINTS.items():
                for variant in endpoint.variants:
                    params = {"start_date": day, "end_date": next_day, **endpoint.params}
                    params |= variant | ({"inbox_id": inbox} if stream == "usage" else {})
                    body = client.get("/" + endpoint.path.format(inbox_id=inbox), params=params)
                    rows = endpoint.flatten(inbox, day, body.raise_for_status().json())
                    out.setdefault(stream, []).extend(rows)
    assert set(out) == set(STREAM_TABLE_COLUMNS)
    assert all(out.values()), [k for k, v in out.items() if not v]
    return out


def test_every_stream_record_normalizes_with_typed_columns(
    stream_records: dict[str, list[dict[str, Any]]],
) -> None:
    normalizer = Normalizer(batch_rows=7)
    for stream, records in stream_records.items():
        for record in records:
            assert normalizer.add_record(stream, record), (stream, record)
    assert normalizer.rejected == 0
    tables = collect(normalizer.flush())
    assert set(tables) == set(stream_records)
    for stream, rows in tables.items():
        assert len(rows) == len(stream_records[stream])
        known = {name for name, _ in COLUMNS[stream]}
        for record, row in zip(stream_records[stream], rows, strict=True):
            extra = orjson.loads(row["extra"]) if row["extra"] else {}
            assert set(extra) == set(record) - known  # nothing dropped, nothing twice
            for name, kind in COLUMNS[stream][:-1]:
                value = record.get(name)
                if kind == "date":
                    assert row[name] == (value and date.fromisoformat(value))
                elif kind == "timestamp":
                    assert row[name] == ts(value)
                elif kind == "json":
                    assert (row[name] and orjson.loads(row[name])) == value
                else:
                    assert row[name] == value, (stream, name)
    # Drift counts the keys a stream's JSON schema does not declare (e.g. report settings).
    expected: Counter[str] = Counter()
    for stream, records in stream_records.items():
        known = {name for name, _ in COLUMNS[stream]}
        expected.update(
            f"{stream}.{key}" for record in records for key in record if key not in known
        )
    assert normalizer.drift == expected
    assert isinstance(tables["stats_fields"][0]["date"], date)
    assert isinstance(tables["users"][0]["confirmed_at"], datetime)
    assert isinstance(orjson.loads(tables["roles"][0]["permissions"]), dict)


def test_bad_records_are_rejected(stream_records: dict[str, list[dict[str, Any]]]) -> None:
    good = stream_records["stats_fields"][0]
    cases = [
        ("stats_fields", {**good, "date": "yesterday"}, "date: expected an ISO date"),
        ("stats_fields", {**good, "tp": "3"}, "tp: expected an integer"),
        ("stats_fields", {**good, "inbox_id": None}, "inbox_id: primary-key column"),
        ("stats_fields", [good], "a record must be an object"),
        ("no_such_stream", good, "no table for stream no_such_stream"),
        ("document_versions", {"document_id": "x"}, "add_document"),
    ]
    normalizer = Normalizer()
    for stream, record, _ in cases:
        assert not normalizer.add_record(stream, record)
    rejects = collect(normalizer.flush())["rejects"]
    assert normalizer.rejected == len(rejects) == len(cases)
    for (stream, _, reason), row in zip(cases, rejects, strict=True):
        assert row["stream"] == stream and reason in row["reason"], row["reason"]
    assert rejects[1]["record_id"] == f"{good['inbox_id']}|{good['date']}|{good['field_name']}"
    with pytest.raises(NormalizationError):
        record_rows("stats_fields", {**good, "accuracy": "high"})


def test_add_record_routes_documents(docs: list[dict[str, Any]]) -> None:
    normalizer = Normalizer()
    assert normalizer.add_record("documents", docs[0])
    assert normalizer.pending()["documents"] == 1


# ---- batches -----------------------------------------------------------------------------


def test_ready_gives_full_batches_and_flush_the_rest(docs: list[dict[str, Any]]) -> None:
    normalizer = Normalizer(batch_rows=50)
    total: Counter[str] = Counter()
    for doc in docs[:30]:
        normalizer.add_document(doc)
        for name, batch in normalizer.ready():
            assert batch.num_rows == 50 and batch.schema == TABLES[name]
            total[name] += batch.num_rows
    assert all(count < 50 for count in normalizer.pending().values())
    assert normalizer.buffered_rows() == sum(normalizer.pending().values())
    for name, batch in normalizer.flush():
        assert 0 < batch.num_rows <= 50
        total[name] += batch.num_rows
    assert normalizer.buffered_rows() == 0 and list(normalizer.flush()) == []
    assert total == normalizer.rows
    assert total["documents"] == 30


def test_latest_input_wins_among_buffered_rows(docs: list[dict[str, Any]]) -> None:
    doc = next(d for d in docs if len(d["versions"]) >= 3)
    normalizer = Normalizer(batch_rows=2)
    normalizer.add_document(doc)
    shorter = {**copy.deepcopy(doc), "versions": doc["versions"][:1], "last_version": "x"}
    normalizer.add_document(shorter)  # e.g. re-read in the same commit
    day = {"inbox_id": "i", "date": "2024-03-01", "status": "received", "count": 1}
    normalizer.add_record("stats_volume", day)
    normalizer.add_record("stats_volume", {**day, "status": "archived"})
    normalizer.add_record("stats_volume", {**day, "count": 5})  # replaces in place
    out = collect(normalizer.flush())
    assert [r["last_version"] for r in out["documents"]] == ["x"]
    assert [r["version_index"] for r in out["document_versions"]] == [0]
    assert {r["version_index"] for r in out["fields"]} == {0}
    assert out["fields"] == field_rows(shorter)
    assert [(r["status"], r["count"]) for r in out["stats_volume"]] == [
        ("received", 5),
        ("archived", 1),
    ]
    assert normalizer.rows == Counter({k: len(v) for k, v in out.items()})
    # Once handed out, a row is not recalled: the same key comes again in a later batch.
    normalizer.add_record("stats_volume", day)
    normalizer.add_record("stats_volume", {**day, "status": "archived"})
    assert [b.num_rows for _, b in normalizer.ready()] == [2]
    normalizer.add_record("stats_volume", {**day, "count": 9})
    (batch,) = (b for _, b in normalizer.flush())
    assert batch.to_pylist()[0]["count"] == 9


def test_to_batch_of_no_rows_and_of_partial_rows() -> None:
    empty = to_batch("fields", [])
    assert empty.num_rows == 0 and empty.schema == TABLES["fields"]
    partial = to_batch("inboxes", [{"id": "a"}, {"id": "b", "name": "B"}])
    assert partial.to_pylist() == [
        {"id": "a", "name": None, "project": None, "extra": None},
        {"id": "b", "name": "B", "project": None, "extra": None},
    ]


def test_json_rows_for_airbyte(docs: list[dict[str, Any]]) -> None:
    doc = next(d for d in docs if len(d["versions"]) > 1)
    records = list(field_records(doc))
    assert len(records) == len(field_rows(doc))
    assert all(isinstance(r["document_id"], str) for r in records)
    dated = next(r for r in records if r["value_date"] is not None)
    assert dated["value_date"] == dated["value"]
    row = json_row({"t": datetime(2024, 3, 1, 9, 0, 7, tzinfo=UTC), "d": date(2024, 3, 1)})
    assert row == {"t": "2024-03-01T09:00:07.000000Z", "d": "2024-03-01"}


def test_an_integer_no_float_holds_keeps_its_text_and_has_no_number() -> None:
    huge = 123456789012345678901234567890
    assert value_text(huge) == "123456789012345678901234567890"
    assert value_number(huge) is None and value_number(str(huge)) is None
    assert value_number(2**53 + 1) is None and value_number(-(2**70 + 1)) is None
    assert value_number(2**53) == 2.0**53 and value_number(10**22) == 1e22
    assert value_number("9007199254740993") is None and value_number("-42") == -42.0
