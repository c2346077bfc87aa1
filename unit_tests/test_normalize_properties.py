"""Properties: any JSON-shaped input gives rows or exactly one reject, never an exception.

Inputs are arbitrary JSON values (with keys the normalizer knows mixed in, so some of
them look like documents), and real emulator documents and stream records with random
key deletions, value replacements and type swaps. Whatever happens, the flushed batches
must carry exactly the declared schemas, primary keys must be present and unique, and a
rejected input must leave no row outside `rejects`.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import Any

import orjson
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contractfit_emulator import Emulator
from source_contractfit.export.normalize import (
    COLUMNS,
    PRIMARY_KEYS,
    STREAM_TABLE_COLUMNS,
    TABLES,
    NormalizationError,
    Normalizer,
    document_rows,
    json_row,
    record_rows,
)
from source_contractfit.export.normalize.known import ATOM_KEYS, DOCUMENT_KEYS, VERSION_KEYS
from source_contractfit.export.normalize.values import clean

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEYS = sorted(DOCUMENT_KEYS | VERSION_KEYS | ATOM_KEYS | {"receive_time", "line_items"})

# Text with the odd characters a JSON parser may let through (lone surrogates included).
odd_text = st.text(st.characters(codec=None, categories=["Cs", "Lu", "Nd", "Zs"]), max_size=6)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | odd_text
    | st.sampled_from(["2024-03-01", "2024-03-01T09:00:00Z", "12.5", "", "true"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)


@cache
def real_documents() -> tuple[dict[str, Any], ...]:
    with Emulator(seed=5, inboxes=1, documents=25, now="2026-01-01T00:00:00Z") as emu:
        return tuple(emu.control.documents())


def template(stream: str) -> dict[str, Any]:
    """A valid record of a stream, built from its declared column kinds."""
    sample = {
        "string": "x",
        "int": 3,
        "float": 0.5,
        "bool": True,
        "date": "2024-03-01",
        "timestamp": "2024-03-01T09:00:00Z",
        "json": {"a": [1]},
    }
    return {name: sample[kind] for name, kind in COLUMNS[stream] if name != "extra"}


def swap_type(value: Any) -> Any:
    """The same information in another JSON type: the typical contract break."""
    if isinstance(value, bool):
        return "true" if value else 0
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return [value] if not value.isdigit() else int(value)
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return ""


def keys_of(node: dict[str, Any] | list[Any]) -> list[Any]:
    return list(node) if isinstance(node, dict) else list(range(len(node)))


def containers(root: Any) -> list[Any]:
    """Every non-empty dict or list inside root, root included."""
    out: list[Any] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, (dict, list)) and node:
            out.append(node)
            stack.extend(node.values() if isinstance(node, dict) else node)
    return out


@st.composite
def mutated(draw: st.DrawFn, original: Any) -> Any:
    """A deep copy of `original` after 1-4 random deletions, replacements or type swaps."""
    root = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 4))):
        # Either any non-empty container (mostly atoms and cells: most of a document),
        # or a random walk from the top (where the document-level keys live).
        if draw(st.booleans()):
            found = containers(root)
            if not found:
                continue
            parent = draw(st.sampled_from(found))
        else:
            parent = root
            while isinstance(parent, (dict, list)) and parent and draw(st.integers(0, 3)) < 3:
                child = parent[draw(st.sampled_from(keys_of(parent)))]
                if not isinstance(child, (dict, list)) or not child:
                    break
                parent = child
        if not isinstance(parent, (dict, list)) or not parent:
            continue
        key = draw(st.sampled_from(keys_of(parent)))
        node = parent[key]
        action = draw(st.sampled_from(["delete", "replace", "swap"]))
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(json_values)
        else:
            parent[key] = swap_type(node)
    return root


@st.composite
def real_document(draw: st.DrawFn) -> Any:
    docs = real_documents()
    return draw(mutated(docs[draw(st.integers(0, len(docs) - 1))]))


def flushed(normalizer: Normalizer) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, batch in normalizer.flush():
        assert isinstance(batch, pa.RecordBatch)
        assert batch.schema == TABLES[name]
        batch.validate(full=True)
        tables.setdefault(name, []).extend(batch.to_pylist())
    return tables


def check(add: Callable[[Normalizer], bool], stream: str, expect: str | None) -> None:
    """`add` one input: rows (with a row in `expect`) or one reject; consistent either way."""
    normalizer = Normalizer(batch_rows=64)
    accepted = add(normalizer)
    tables = flushed(normalizer)
    if accepted:
        assert normalizer.rejected == 0 and "rejects" not in tables
        if expect is not None:
            assert len(tables[expect]) == 1
    else:
        assert normalizer.rejected == 1 and list(tables) == ["rejects"]
        (reject,) = tables["rejects"]
        assert reject["stream"] == stream and reject["reason"]
        # A reject must come from a readable NormalizationError, not from a bug.
        assert not reject["reason"].startswith("internal error"), reject["reason"]
    for name, rows in tables.items():
        keys = PRIMARY_KEYS[name]
        values = [tuple(row[k] for k in keys) for row in rows]
        assert all(None not in v for v in values), name
        if keys:
            assert len(set(values)) == len(values), name
        for row in rows:
            record = json_row(row)
            assert not any(isinstance(v, (datetime, date)) for v in record.values())
            if row.get("extra") is not None:
                assert isinstance(orjson.loads(row["extra"]), dict)


@SETTINGS
@given(json_values)
def test_any_json_value_as_a_document(value: Any) -> None:
    check(lambda n: n.add_document(value), "documents", "documents")


@SETTINGS
@given(real_document())
def test_mutated_real_documents(document: Any) -> None:
    check(lambda n: n.add_document(document), "documents", "documents")
    try:
        rows = document_rows(document)
    except NormalizationError:
        return
    assert len(rows["documents"]) == 1


@SETTINGS
@given(
    st.sampled_from([*sorted(STREAM_TABLE_COLUMNS), "documents", "no_such_stream"]),
    st.data(),
)
def test_any_record_of_any_stream(stream: str, data: st.DataObject) -> None:
    if stream in STREAM_TABLE_COLUMNS and data.draw(st.booleans()):
        record = data.draw(mutated({**template(stream), "unknown_key": [1]}))
    else:
        record = data.draw(json_values)
    expect = stream if stream in STREAM_TABLE_COLUMNS else "documents"
    check(lambda n: n.add_record(stream, record), stream, expect)
    if stream in STREAM_TABLE_COLUMNS:
        with contextlib.suppress(NormalizationError):
            assert len(record_rows(stream, record)) == 1


def test_templates_are_valid_records() -> None:
    for stream in STREAM_TABLE_COLUMNS:
        (row,) = record_rows(stream, template(stream))
        assert set(row) == set(TABLES[stream].names)


@settings(max_examples=25, deadline=None)
@given(st.lists(real_document() | json_values, min_size=1, max_size=12))
def test_many_inputs_batched(inputs: list[Any]) -> None:
    """Across inputs and batch boundaries no row is lost, duplicated or mistyped."""
    normalizer = Normalizer(batch_rows=37)
    seen = 0
    for value in inputs:
        normalizer.add_document(value)
        for name, batch in normalizer.ready():
            assert batch.num_rows == 37 and batch.schema == TABLES[name]
            seen += batch.num_rows
    seen += sum(len(rows) for rows in flushed(normalizer).values())
    assert seen == sum(normalizer.rows.values())
    assert normalizer.rows["rejects"] == normalizer.rejected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 24), min_size=1, max_size=10), st.data())
def test_a_flush_never_holds_a_key_twice(picks: list[int], data: st.DataObject) -> None:
    """The same documents and stats rows added again (changed or not): the latest wins."""
    docs = real_documents()
    normalizer = Normalizer(batch_rows=50)
    accepted: dict[str, Any] = {}
    for pick in picks:
        doc = data.draw(mutated(docs[pick])) if data.draw(st.booleans()) else docs[pick]
        if normalizer.add_document(doc):
            # Rows hold the id as stored: a lone surrogate is cleaned like any text.
            accepted[clean(doc["id"])] = doc
        record = {**template("stats_volume"), "count": pick, "status": str(pick % 3)}
        normalizer.add_record("stats_volume", record)
    tables = flushed(normalizer)
    for name, rows in tables.items():
        keys = [tuple(row[k] for k in PRIMARY_KEYS[name]) for row in rows]
        assert not PRIMARY_KEYS[name] or len(set(keys)) == len(keys), name
    assert {row["id"] for row in tables.get("documents", [])} == set(accepted)
    for doc_id, doc in accepted.items():  # the rows are those of the last accepted copy
        expected = document_rows(doc)["fields"]
        assert [r for r in tables.get("fields", []) if r["document_id"] == doc_id] == expected
    last = {str(p % 3): p for p in picks}
    assert {r["status"]: r["count"] for r in tables["stats_volume"]} == last


atoms = st.none() | st.fixed_dictionaries(
    {"value": scalars, "gold": st.none() | st.text(max_size=4), "correct": st.booleans()}
)


@SETTINGS
@given(
    st.dictionaries(st.text(max_size=6), st.none() | st.lists(atoms, max_size=3), max_size=6),
    st.sampled_from([True, False, None]),
)
def test_each_field_list_is_its_atoms_or_one_empty_row(
    annotations: dict[str, Any], is_evaluated: bool | None
) -> None:
    """A list of n atoms gives occurrences 0..n-1; `[]` gives one row at -1; null none."""
    version = {"name": "predicted", "is_evaluated": is_evaluated, "annotations": annotations}
    rows = document_rows({"id": "d", "versions": [version]})["fields"]
    by_field: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_field.setdefault(row["field_name"], []).append(row)
    assert set(by_field) == {name for name, items in annotations.items() if items is not None}
    value_columns = TABLES["fields"].names[TABLES["fields"].names.index("occurrence") + 1 :]
    for name, items in by_field.items():
        listed = annotations[name]
        if listed:
            assert [r["occurrence"] for r in items] == list(range(len(listed)))
            continue
        [row] = items
        assert row["occurrence"] == -1 and row["is_evaluated"] is is_evaluated
        assert row["correct"] is (True if is_evaluated is True else None)
        assert all(row[c] is None for c in value_columns if c != "correct")
