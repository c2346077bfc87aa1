"""The fast paths give exactly the specification's rows: a differential test.

`Normalizer(fast=False)` (the specification in documents.py, row dicts),
`Normalizer(fast=True, native=False)` (fast.py, Python column buffers) and
`Normalizer(fast=True)` (fields and line_items in C, native.py, where it is built: CI
builds it) get the same inputs; every table they flush must be equal row for row and in
order, rejects and their reasons included (all but the `rejected_at` clock), and so must
drift, reject and row counts. Inputs: emulator
documents in every data variant, hypothesis-mutated documents (the mutations of
`test_normalize_properties.py`: deletions, replacements, type swaps anywhere), arbitrary
JSON values, and sequences that re-add a document inside one commit.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import sysconfig
from collections.abc import Iterable
from functools import cache
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_normalize_properties import SETTINGS, json_values, real_document, real_documents

from contractfit_emulator import Emulator
from source_contractfit.api import jsonbody
from source_contractfit.export.normalize import Normalizer, lazy
from source_contractfit.export.normalize.arrow_schemas import TABLES
from source_contractfit.export.normalize.known import ATOM_KEYS
from source_contractfit.export.normalize.native import AVAILABLE

# The paths under test besides the specification: the native one wherever it is built,
# and it is built wherever a C compiler is (test_the_native_extension_is_built...).
PATHS = {"python": {"native": False}, **({"native": {"native": True}} if AVAILABLE else {})}

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


def test_the_native_extension_is_built_wherever_a_c_compiler_is() -> None:
    """The install builds `_native.c` when it can; without a compiler it goes on, and the
    exporter then runs the Python fast path (never a half-built module)."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler):
        assert AVAILABLE, "source_contractfit/export/normalize/_native.c was not compiled"
        assert Normalizer().native
    else:
        assert not Normalizer().native


def outputs(
    inputs: Iterable[Any], fast: bool, native: bool = False, copy_inputs: bool = True
) -> dict[str, Any]:
    normalizer = Normalizer(batch_rows=64, inbox_projects={"p": "q"}, fast=fast, native=native)
    assert normalizer.native is native
    accepted = [
        normalizer.add_document(copy.deepcopy(value) if copy_inputs else value) for value in inputs
    ]
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
    spec = outputs(inputs, fast=False)
    for path, options in PATHS.items():
        fast = outputs(inputs, fast=True, **options)
        assert fast["tables"].keys() == spec["tables"].keys(), path
        for table, rows in spec["tables"].items():
            assert fast["tables"][table] == rows, (path, table)
        assert fast == spec, path
    if lazy.AVAILABLE:
        assert_same_from_pages(inputs)
    normalizer = Normalizer(fast=True)
    for value in inputs:
        normalizer.add_document(copy.deepcopy(value))
    return normalizer


def page_bodies(value: Any) -> list[bytes]:
    """`value` as the only result of a page, as a server may write it: escaped to ASCII
    (every string through the parser's escape path), and as raw UTF-8 where it can be."""
    page = {"page": 1, "results": [value]}
    bodies = [json.dumps(page, ensure_ascii=True).encode()]
    with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate has no raw UTF-8
        bodies.append(json.dumps(page, ensure_ascii=False).encode())
    return bodies


def assert_same_from_pages(inputs: list[Any]) -> dict[str, Any]:
    """The exporter's way, pages through `lazy.loads` and the tape readers, gives the
    specification's rows of the value today's decoder (jsonbody.loads) makes of the same
    bodies; a body jsonbody refuses, lazy.loads refuses too."""
    for variant in (0, 1):
        bodies = [page_bodies(value)[variant % len(page_bodies(value))] for value in inputs]
        decoded, kept = [], []
        for body in bodies:
            try:
                decoded.append(jsonbody.loads(body)["results"][0])
            except orjson.JSONDecodeError:
                with pytest.raises(orjson.JSONDecodeError):
                    lazy.loads(body)
                continue
            kept.append(body)
        spec = outputs(decoded, fast=False)
        pages = [lazy.loads(body)["results"][0] for body in kept]
        out = outputs(pages, fast=True, native=True, copy_inputs=False)
        for table, rows in spec["tables"].items():
            assert out["tables"].get(table) == rows, ("lazy", table)
        assert out == spec, "lazy"
    return out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_emulator_documents_in_every_variant(variant: str) -> None:
    documents = list(variant_documents(variant))
    normalizer = assert_same(documents)
    # The emulator's documents are plain: none needs the specification's path.
    assert normalizer.fallbacks == 0 and normalizer.rejected == 0
    assert normalizer.rows["fields"] > 20 * len(documents)
    if lazy.AVAILABLE:  # ... and their pages are read from the tape, not from Python objects
        page = lazy.loads(orjson.dumps({"results": documents}))
        assert all(type(v["annotations"]) is lazy.Subtree for d in page["results"]
                   for v in d["versions"] if v and v.get("annotations"))  # fmt: skip
        # ... whose rows the parsing thread wrote (add only copies them)
        held = [v.get(key) for d in page["results"] for v in d["versions"] if v
                for key in ("annotations", "lines")]  # fmt: skip
        subtrees = [value for value in held if type(value) is lazy.Subtree]
        assert subtrees and {subtree.prewritten for subtree in subtrees} == {1}
        normalizer = Normalizer()
        for document in page["results"]:
            normalizer.add_document(document)
        assert normalizer.fallbacks == 0 and normalizer.rejected == 0


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
    # The native path's own rules: float repr, exact integers, dates, numeric strings.
    {"value": 1e16, "gold": 1e-05, "confidence": -0.0},
    {"value": 5e-324, "gold": 1.7976931348623157e308, "confidence": 2**63 - 1},
    {"value": 2**53 + 1, "gold": -(2**63), "confidence": -(2**63)},
    {"value": 2**63 - 1, "gold": 2**53},
    {"value": 2**63, "gold": -(2**63) - 1},
    {"value": "0000-01-01", "gold": "2023-02-29"},
    {"value": "9999-12-31", "gold": "2024-1-01"},
    {"value": "1970-01-01", "gold": "1969-12-31", "text": "1969-12-31"},
    {"value": "2024-02-29 ", "gold": "２０２４-02-29"},
    {"value": ".5", "gold": "+1"},
    {"value": "1e5", "gold": "-1.", "text": ""},
    {"value": "1_000", "gold": " 1", "confidence": 1.5},
    {"value": "9007199254740993", "gold": "1" * 400},
    {"value": "", "gold": "-", "text": "Köln → Gent"},
    {"value": {"a": 1}, "gold": [], "flagged": None, "correct": None},
    {"value": "x", "textual_coord": [1, 2, 3, 4, 5]},
    {"value": "x", "textual_coord": [1, 2, 3, 4, 5, 2**63]},
    {"value": "x", "lower_right": [1, 2, 3], "textual_coord": "p1"},
    {"value": "x", "lower_right": [7, 8, 9]},
    {"value": "x", "flagged": 1},
    {"value": "x", "correct": "true"},
    {"value": "x", "upper_left": (1, 2, 3)},
    {"value": "x", 5: "non-string key"},
    {"value": "1e999", "gold": "-1e-999", "text": "NaN"},
    {"value": "123456789012345678", "gold": "-1234567890123456789"},
    {"value": "+0", "gold": "-0", "confidence": 0},
    {"value": "1.5E+3", "gold": "e5"},
    {"value": "1e", "gold": "0x10"},
    {"value": "١٢", "gold": "inf"},
    {"value": "1.0e-5", "gold": "5.", "text": "1.0e-5"},
    {"value": 0.1, "gold": 123456789.123, "upper_left": [1, 2, 3], "textual_coord": [1]},
    {"value": 1e-4, "lower_right": [1, 2, 3], "textual_coord": [-(2**63), 2**63 - 1, 0, 1, 2, 3]},
    {"value": 1e22, "lower_right": [1, 2, 3], "textual_coord": [2**63]},
    {"value": -1e-7, "lower_right": [1, 2, 3], "textual_coord": []},
    {"value": 2.5, "lower_right": [1, 2, 3], "textual_coord": [1, 2, 3, 4, 5, 6, 7]},
    *(
        {"value": text, "text": text}
        for text in (
            "5.",
            "-1.",
            ".5",
            "+1",
            "-0",
            "+0.0e+0",
            "e5",
            "1e",
            "1e+",
            ".",
            "+",
            "-.e1",
            "0x10",
            "inf",
            "NaN",
            "-1e-999",
            "1e999",
            " 1",
            "1 ",
            "1_000",
            "1,5",
            "١٢",
            "123456789012345678",
            "-123456789012345678",
            "1234567890123456789",
            "9007199254740993",
            "-9223372036854775808",
            "18446744073709551617",
            "1" * 399,
        )
    ),  # numeric strings in `value`, where value_number reads them
    {"\ud800": 1},
    {"value": "\udcff"},
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
        version["annotations"] = {
            "odd": [atom], "pair": [plain, atom], "none": None, "e": [], "fé": [plain],
        }  # fmt: skip
        version["lines"] = {"t": [{"c": atom, "d": plain}, None, {}], "u": None, "é": [{"ü": atom}]}
        documents.append(doc)
    assert_same(documents)


def _set(path: str, value: Any) -> Any:
    """A mutation of a document: `path` (dotted; a number is a list index) set to `value`."""

    def apply(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for part in parents:
            target = target[int(part)] if part.lstrip("-").isdigit() else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return apply


# The boundaries of what `_documents.h` writes itself (documents, document_versions and
# sections) and what it leaves to the specification, each on its own.
EDGE_DOCUMENTS: list[Any] = [
    _set("timings.receive_time", "2024-03-01T09:00:07.123456+01:00"),
    _set("timings.receive_time", "2024-03-01t09:00:07.123456z"),
    _set("timings.receive_time", "2024-03-01T09:00:07,123456Z"),
    _set("timings.receive_time", "2024-02-30T09:00:07.123456Z"),
    _set("timings.receive_time", "2023-02-29T09:00:07.123456Z"),
    _set("timings.receive_time", "2024-02-29T23:59:59.999999Z"),
    _set("timings.receive_time", "0000-01-01T00:00:00.000000Z"),
    _set("timings.receive_time", "0001-01-01T00:00:00.000000Z"),
    _set("timings.receive_time", "9999-12-31T23:59:60.000000Z"),
    _set("timings.receive_time", " 2024-03-01T09:00:07.123456Z"),
    _set("timings.receive_time", "2024-03-01T09:00:07Z"),
    _set("timings.receive_time", "２０24-03-01T09:00:07.123456Z"),
    _set("timings.receive_time", None),
    _set("timings.feedback_time", "9999-12-31T23:59:59.999999Z"),
    _set("timings.feedback_time", "1969-12-31T23:59:59.999999Z"),
    _set("timings.processing_period", 2**70),
    _set("timings.processing_period", 7),
    _set("timings.processing_period", True),
    _set("page_count", 2.0),
    _set("page_count", 2**63),
    _set("page_count", -(2**63)),
    _set("page_count", False),
    _set("flag_for_review", None),
    _set("flag_for_review", 0),
    _set("id", ""),
    _set("id", "\ud800x"),
    _set("id", 7),
    _set("inbox", "\udcff"),
    _set("inbox", None),
    _set("original_filename", "naïve ✓.pdf"),
    _set("original_filename", "\ud800.pdf"),
    _set("last_version", ["submitted"]),
    _set("new_top_key", 1),
    _set("status_data", None),
    _set("status_data", []),
    _set("status_data.sampling", "yes"),
    _set("status_data.new_flag", True),
    _set("usage_data", {}),
    _set("usage_data.ocr_pages", None),
    _set("usage_data.pages", 1.5),
    _set("submitted", {"value": True, "by": None, "since": None}),
    _set("lock", {"value": None, "by": "u", "since": "2024-01-01T00:00:00.000000Z"}),
    _set("meta_information", {"source": "api", "é": 1, "n": None, "t": True, "o": {"x": [1]}}),
    _set("meta_information", {"\ud800": 1}),
    _set("meta_information.source", 3),
    _set("prediction", None),
    _set("prediction", {}),
    _set("prediction.sections", None),
    _set("prediction.sections", []),
    _set("prediction.sections", [None, {"page": 0}]),
    _set("prediction.sections", "x"),
    _set("prediction.extra_key", 1),
    _set("prediction.sections.0.confidence", 2**64),
    _set("prediction.sections.0.confidence", "97"),
    _set("prediction.sections.0.format", None),
    _set("prediction.sections.0.new", None),
    _set("versions", None),
    _set("versions", []),
    _set("versions.0", None),
    _set("versions.0", 1),
    _set("versions.0.evaluation", {}),
    _set("versions.0.evaluation", {"fields_total": 1.0}),
    _set("versions.0.evaluation", {"document_correct": True, "x": 1}),
    _set("versions.0.evaluation", [1]),
    _set("versions.0.name", None),
    _set("versions.0.is_evaluated", True),
    _set("versions.0.timestamp", "2024-03-01 09:00:07.123456Z"),
    _set("versions.0.sections", None),
    _set("versions.0.sections", [None]),
    _set("versions.0.sections", [{"page": "1"}]),
    _set("versions.0.ocr", "v2"),
]


@pytest.mark.parametrize("index", range(len(EDGE_DOCUMENTS)))
def test_edge_documents_in_the_document_tables(index: int) -> None:
    """Each mutation alone on a document, and on a second one evaluated as `predicted`
    (document_correct and evaluated come from the versions), beside an unchanged one."""
    base = real_documents()
    documents = [copy.deepcopy(base[0]), copy.deepcopy(base[1]), copy.deepcopy(base[2])]
    judged = documents[1]["versions"]
    judged.append({**copy.deepcopy(judged[0]), "is_evaluated": True, "name": "predicted",
                   "evaluation": {"fields_total": 3, "fields_correct": 2,
                                  "document_correct": False}})  # fmt: skip
    for document in documents[:2]:
        with contextlib.suppress(KeyError, IndexError, TypeError):
            EDGE_DOCUMENTS[index](document)
    assert_same(documents)


def test_a_project_id_that_is_not_valid_utf8_is_cleaned_on_every_path() -> None:
    """`project_id` comes from GET /inboxes: a lone surrogate there is cleaned like any
    other text (it ended the run with a UnicodeEncodeError before)."""
    from source_contractfit.export.normalize import Normalizer

    document = copy.deepcopy(real_documents()[0])
    tables = []
    for options in ({"fast": False}, {"fast": True, "native": False}, {"fast": True}):
        normalizer = Normalizer(inbox_projects={document["inbox"]: "proj\ud800"}, **options)
        normalizer.add_document(copy.deepcopy(document))
        batches = dict(normalizer.flush())
        tables.append(batches["documents"].column("project_id").to_pylist())
    assert tables[0] == tables[1] == tables[2] == ["proj\ufffd"]


@pytest.mark.skipif(not AVAILABLE, reason="exercises the C table itself")
def test_document_rows_refuse_tables_of_another_layout() -> None:
    from source_contractfit.export.normalize import native

    wrong = [native._native.AtomTable("s" * n) for n in (30, 13, 9)]
    with pytest.raises(TypeError, match="another layout"):
        native._native.document_rows(real_documents()[0], {}, *wrong)
    names = ("documents", "document_versions", "sections")
    with pytest.raises(ValueError, match="column types"):
        native._native.configure_documents(
            None, tuple(TABLES[n].names for n in names), ("s", "s", "s"), (), ()
        )
    assert len(real_documents()) and native.plain_document_rows(  # still configured
        copy.deepcopy(real_documents()[0]), {}, *(native.NativeBuffer(n) for n in names)
    )


def test_the_emulator_documents_take_the_c_document_rows() -> None:
    """Not a differential: that the path under test is the one taken (`plain_document_rows`
    answers None for a document it leaves to the specification)."""
    from source_contractfit.export.normalize import native

    if not AVAILABLE:
        pytest.skip("the C extension is not built here (test_the_native_extension_is_built)")
    buffers = [native.NativeBuffer(t) for t in ("documents", "document_versions", "sections")]
    documents = list(variant_documents("default"))
    taken = [native.plain_document_rows(copy.deepcopy(d), {}, *buffers) for d in documents]
    assert taken == [d["id"] for d in documents]
    odd = {**copy.deepcopy(documents[0]), "new_top_key": 1}
    assert native.plain_document_rows(odd, {}, *buffers) is None
    assert [len(b) for b in buffers][0] == len(documents)  # nothing of the odd one


def test_a_document_the_fast_path_leaves_to_the_specification_is_counted() -> None:
    documents = [copy.deepcopy(d) for d in real_documents()[:3]]
    version = documents[1]["versions"][0]
    version["annotations"] = {"odd": [{"value": "x", "ocr_engine": "v2"}]}  # drift
    normalizer = Normalizer(fast=True)
    for document in documents:
        normalizer.add_document(document)
    assert (normalizer.fallbacks, normalizer.rejected) == (1, 0)
    assert normalizer.drift == {"fields.ocr_engine": 1}


def test_the_export_summary_counts_those_documents() -> None:
    from source_contractfit.export.exporter import ExportResult, summary_lines

    lines = summary_lines(ExportResult(documents=5, fallbacks=2))
    assert lines[-1] == (
        "2 document(s) of a shape the fast path leaves to the Python normalizer (unknown "
        "keys, unexpected types): same rows, slower."
    )
    assert not any("fast path" in line for line in summary_lines(ExportResult(documents=5)))


@pytest.mark.skipif(not AVAILABLE, reason="exercises the C table itself")
def test_the_c_table_refuses_misuse_instead_of_crashing() -> None:
    from source_contractfit.export.normalize import native

    table = native._native.AtomTable.__new__(native._native.AtomTable)
    with pytest.raises(RuntimeError, match="__init__"):
        table.add(("d", 0, None, None, None), {"f": [None]})
    with pytest.raises(RuntimeError, match="__init__"):
        table.append_row(())
    fresh = native._native.AtomTable(False)
    assert fresh.add(("d", 0, None, None, None), {"f": [{"value": ""}]}) == 1
    (nulls, valid, values, chars), *_ = fresh.finish()
    assert (nulls, valid, bytes(chars)) == (0, None, b"d")


def test_a_long_buffer_is_finished_into_batches_at_document_starts() -> None:
    from source_contractfit.export.normalize import native

    documents = [copy.deepcopy(d) for d in real_documents()]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "FINISH_ROWS", 50)
        assert_same(documents)


@pytest.mark.skipif(not AVAILABLE, reason="exercises the C table itself")
def test_a_ctrl_c_inside_a_python_rule_is_raised_not_swallowed() -> None:
    from source_contractfit.export.normalize import native, values

    def interrupted(value: Any) -> Any:
        raise KeyboardInterrupt

    table = native._native.AtomTable(False)
    base = ("d", 0, None, None, None)
    long_digits = {"f": [{"value": "1" * 30}]}  # value_number: the Python rule
    native._native.configure(interrupted, values.value_text, native._textual_extra, ATOM_KEYS)
    try:
        with pytest.raises(KeyboardInterrupt):
            table.add(base, long_digits)
        assert len(table) == 0  # nothing half-written
    finally:
        native._native.configure(
            values.value_number, values.value_text, native._textual_extra, ATOM_KEYS
        )
    assert table.add(base, long_digits) == 1


@pytest.mark.skipif(not AVAILABLE, reason="exercises the C table itself")
def test_a_c_table_of_any_layout_holds_rows_as_pa_array_would() -> None:
    """The documents, document_versions and sections buffers: C tables of the schema's
    layout, filled by append_row (timestamps are UTC datetimes, as the specification
    makes them), finished into the same arrays as pa.array gives."""
    from datetime import date, datetime, timedelta, timezone

    import pyarrow as pa

    from source_contractfit.export.normalize import native

    schema = pa.schema(
        [("s", pa.string()), ("i", pa.int64()), ("f", pa.float64()), ("b", pa.bool_()),
         ("d", pa.date32()), ("t", pa.timestamp("us", tz="UTC"))]
    )  # fmt: skip
    assert native.layout(schema) == "sifbdt"
    utc = timezone.utc
    last = datetime(9999, 12, 31, 23, 59, 59, 999999, utc)
    rows = [
        ("x", 1, 0.5, True, date(2024, 2, 29), datetime(2024, 3, 1, 9, 0, 7, 123456, utc)),
        (None, None, None, None, None, None),
        ("é", -(2**63), -0.0, False, date(1, 1, 1), datetime(1, 1, 1, tzinfo=utc)),
        ("", 2**63 - 1, 1e308, None, date(9999, 12, 31), last),
        ("y", 0, float("inf"), True, date(1969, 12, 31), datetime(1969, 12, 31, 23, tzinfo=utc)),
    ]  # fmt: skip
    table = native._native.AtomTable(native.layout(schema))
    for row in rows:
        table.append_row(row)
    assert len(table) == len(rows)
    arrays = []
    for field, (nulls, valid, values, chars) in zip(schema, table.finish(), strict=True):
        buffers = [None if valid is None else pa.py_buffer(valid), pa.py_buffer(values)]
        if chars is not None:
            buffers.append(pa.py_buffer(chars))
        arrays.append(pa.Array.from_buffers(field.type, len(rows), buffers, null_count=nulls))
    expected = pa.Table.from_pylist(
        [dict(zip(schema.names, row, strict=True)) for row in rows], schema=schema
    )
    assert pa.Table.from_arrays(arrays, schema=schema).equals(expected)
    assert len(table) == 0

    with pytest.raises(TypeError, match="column 5"):  # not UTC: the specification never
        table.append_row(
            ("x", 1, 0.5, True, None, datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=1))))
        )
    with pytest.raises(TypeError, match="column 5"):  # naive
        table.append_row(("x", 1, 0.5, True, None, datetime(2024, 1, 1)))
    assert len(table) == 0  # a refused row leaves nothing behind
    with pytest.raises(TypeError, match="fields and line_items"):
        table.add(("d", 0, None, None, None), {})
    for bad in ("", "sx", "s" * 33):
        with pytest.raises(ValueError):
            native._native.AtomTable(bad)


@pytest.mark.skipif(not lazy.AVAILABLE, reason="exercises the C extension's page parser")
def test_the_parsing_thread_writes_a_pages_rows_and_add_gives_the_specifications() -> None:
    """parse_page writes every version's atom rows without the GIL (1); `add` copies them
    with the version's own base columns, and an empty field list's row is `correct` only
    when the version is judged. What needs Python (a float's repr) is left to the tape
    (0), what is not plain is known as such (2); every way gives the specification's rows."""

    def version(annotations: dict[str, Any], judged: bool | None) -> dict[str, Any]:
        lines = {"t": [{"c": {"value": "2.50", "confidence": 0.5}}, None]}
        return {"name": "v", "is_evaluated": judged, "annotations": annotations, "lines": lines}

    documents = [
        {"id": "a", "inbox": "i", "versions": [
            version({"f": [], "g": [{"value": "1.5e3", "text": "1.5e3"}], "h": None}, True),
            version({"f": [], "g": [{"value": "-.25", "correct": False}]}, False),
            version({"f": []}, None),
        ]},
        {"id": "b", "inbox": "i", "versions": [version({"f": [{"value": 12.50}]}, True)]},
        {"id": "c", "inbox": "i", "versions": [version({"f": [{"value": 1, "new": 2}]}, True)]},
    ]  # fmt: skip
    body = b'{"page": 1, "results": ' + json.dumps(documents).replace("12.5", "12.50").encode()
    page = lazy.loads(body + b"}")
    states = [[v["annotations"].prewritten for v in d["versions"]] for d in page["results"]]
    assert states == [[1, 1, 1], [0], [2]]
    assert page["results"][0]["versions"][0]["lines"].prewritten == 1
    spec = outputs([jsonbody.loads(body + b"}")["results"]][0], fast=False)
    out = outputs(page["results"], fast=True, native=True, copy_inputs=False)
    assert out == spec
    correct = [(r["version_index"], r["correct"]) for r in out["tables"]["fields"]
               if r["document_id"] == "a" and r["field_name"] == "f"]  # fmt: skip
    assert correct == [(0, True), (1, None), (2, None)]


@pytest.mark.skipif(not lazy.AVAILABLE, reason="exercises the C extension's page parser")
def test_the_parsing_thread_leaves_a_subtree_past_its_bounds_to_the_tape() -> None:
    """A page's own tables are bounded (rows, and text per column): a body can make far
    more of both than it has bytes. A Subtree past a bound is read from the tape by `add`,
    whose rows are the same; the Subtrees within the bounds are still written."""
    name = "n" * (1 << 20)  # written on each of its 70 rows: 70 MiB of text
    many = {"f": [None] * ((1 << 18) + 1)}  # one row more than a page's tables hold
    versions = [{"annotations": {name: [None] * 70}}, {"annotations": many},
                {"annotations": {"g": [{"value": "1.5"}]}}]  # fmt: skip
    page = lazy.loads(orjson.dumps({"results": [{"id": "d", "versions": versions}]}))
    subtrees = [v["annotations"] for v in page["results"][0]["versions"]]
    assert [subtree.prewritten for subtree in subtrees] == [0, 0, 1]
    normalizer = Normalizer()
    assert normalizer.add_document(page["results"][0])
    assert normalizer.fallbacks == 0
    assert normalizer.rows["fields"] == 70 + (1 << 18) + 1 + 1
