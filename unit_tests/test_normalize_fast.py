"""The fast path gives exactly the specification's rows: a differential test.

`Normalizer(fast=True)` (fast.py, column buffers) and `Normalizer(fast=False)` (the
specification in documents.py, row dicts) get the same inputs; every table they flush
must be equal row for row and in order, rejects and their reasons included (all but the
`rejected_at` clock), and so must drift, reject and row counts. Inputs: emulator
documents in every data variant, hypothesis-mutated documents (the mutations of
`test_normalize_properties.py`: deletions, replacements, type swaps anywhere), arbitrary
JSON values, and sequences that re-add a document inside one commit.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_normalize_properties import SETTINGS, json_values, real_document, real_documents

from contractfit_emulator import Emulator
from source_contractfit.export.normalize import Normalizer

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "empty_evaluated_lists": {"empty_evaluated_lists": True},
    "future_document": {"future_document": True},
}


@cache
def variant_documents(name: str) -> tuple[dict[str, Any], ...]:
    with Emulator(seed=9, inboxes=2, documents=60, now="2026-01-01T00:00:00Z") as emu:
        emu.control.variants(**VARIANTS[name])
        return tuple(emu.control.documents())


def outputs(inputs: Iterable[Any], fast: bool) -> dict[str, Any]:
    normalizer = Normalizer(batch_rows=64, inbox_projects={"p": "q"}, fast=fast)
    accepted = [normalizer.add_document(copy.deepcopy(value)) for value in inputs]
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, batch in normalizer.flush():
        rows = batch.to_pylist()
        for row in rows:
            row.pop("rejected_at", None)
        tables.setdefault(name, []).extend(rows)
    return {
        "accepted": accepted,
        "tables": tables,
        "drift": dict(normalizer.drift),
        "rejected": normalizer.rejected,
        "rows": dict(normalizer.rows),
    }


def assert_same(inputs: list[Any]) -> Normalizer:
    fast, spec = outputs(inputs, fast=True), outputs(inputs, fast=False)
    assert fast["tables"].keys() == spec["tables"].keys()
    for table, rows in spec["tables"].items():
        assert fast["tables"][table] == rows, table
    assert fast == spec
    normalizer = Normalizer(fast=True)
    for value in inputs:
        normalizer.add_document(copy.deepcopy(value))
    return normalizer


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_emulator_documents_in_every_variant(variant: str) -> None:
    documents = list(variant_documents(variant))
    normalizer = assert_same(documents)
    # The emulator's documents are plain: none needs the specification's path.
    assert normalizer.fallbacks == 0 and normalizer.rejected == 0
    assert normalizer.rows["fields"] > 20 * len(documents)


def test_a_document_added_again_in_one_commit_keeps_its_latest_rows() -> None:
    docs = list(real_documents())
    shorter = {**copy.deepcopy(docs[0]), "versions": docs[0]["versions"][:1]}
    broken = {**copy.deepcopy(docs[1]), "versions": "not a list"}
    assert_same([docs[0], docs[1], shorter, docs[2], broken, docs[0], docs[1]])


@SETTINGS
@given(st.lists(real_document(), min_size=1, max_size=4))
def test_mutated_emulator_documents(documents: list[Any]) -> None:
    assert_same(documents)


@SETTINGS
@given(st.lists(json_values, min_size=1, max_size=3))
def test_arbitrary_json_values_as_documents(values: list[Any]) -> None:
    assert_same(values)


EDGE_ATOMS: list[Any] = [
    None,
    {},
    {"value": 7, "gold": True, "correct": False, "confidence": 3},
    {"value": 1210.0, "gold": 0.1, "confidence": 99.5, "flagged": True},
    {"value": True, "gold": 10**30, "text": "é\ud800x"},
    {"value": 10**30, "gold": {"a": [1, None]}, "upper_left": [0, 2**63 - 1, -(2**63)]},
    {"value": "12.50", "gold": "2024-02-29", "lower_right": [3, 4, 5]},
    {"value": "2024-02-30", "upper_left": [0, 1, 2**63]},
    {"value": [1, "a"], "textual_coord": [1, 2, 3, 4, 5, 6]},
    {"value": "x", "upper_left": [1, 2, 3], "textual_coord": [1, 2, 3, 4, 5, 6]},
    {"value": "x", "ocr_engine": "v2", "textual_coord": None},
    {"value": "x", "upper_left": [1, 2], "lower_right": [True, 1, 2]},
    {"value": "x", "confidence": True},
    {"value": "x", "confidence": 2**70},
    {"value": "x", "text": 5},
    {"value": float("nan"), "gold": float("inf")},
]


@pytest.mark.parametrize("index", range(len(EDGE_ATOMS)))
def test_edge_atoms_in_fields_and_line_items(index: int) -> None:
    """Each odd atom alone, as a field, a line-item cell and next to a plain atom; also
    `[]`, null lists and null line rows, in an evaluated and an unevaluated version."""
    base = real_documents()[0]
    atom = EDGE_ATOMS[index]
    plain = {"value": "p", "confidence": 50, "upper_left": [0, 1, 2]}
    documents = []
    for evaluated in (True, False):
        doc = copy.deepcopy(base)
        version = doc["versions"][0]
        version["is_evaluated"] = evaluated
        version["annotations"] = {"odd": [atom], "pair": [plain, atom], "none": None, "e": []}
        version["lines"] = {"t": [{"c": atom, "d": plain}, None, {}], "u": None}
        documents.append(doc)
    assert_same(documents)
