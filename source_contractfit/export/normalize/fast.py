"""The fast path: one Document's rows appended straight to column buffers.

`documents.py` is the specification; this module must give exactly its rows (the
differential tests in `unit_tests/test_normalize_fast.py` hold it to that). The cost of
the specification is in the ~80 field atoms and line-item cells of a document: a dict per
row, a merge of the version's columns into each, then a transposition per batch. Here a
plain atom (only known keys, coordinates of three 64-bit integers, values of the expected
JSON types) is written value by value into the column lists; anything else about an atom
goes through the specification's own `atom_values`, and the document, version and section
rows (a handful per document) are the specification's functions themselves. Where the C
extension is built, a plain document's rows of every table are written in C instead
(native.py), and this module's Python is what it falls back to.

`add_document` raises whatever the specification would refuse (or anything unexpected);
the caller then rolls the buffers back and asks the specification, which decides between
rows and a reject, so odd inputs keep exactly today's all-or-nothing semantics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from source_contractfit.export.normalize.atoms import atom_values
from source_contractfit.export.normalize.columns import ColumnBuffer
from source_contractfit.export.normalize.documents import (
    EMPTY_LIST_OCCURRENCE,
    Row,
    document_row,
    identity,
    prediction_sections,
    version_row,
    version_sections,
)
from source_contractfit.export.normalize.known import ATOM_KEYS
from source_contractfit.export.normalize.native import NativeBuffer, plain_document_rows
from source_contractfit.export.normalize.schemas import VALUE_COLUMNS
from source_contractfit.export.normalize.values import (
    INT64_MAX,
    INT64_MIN,
    NormalizationError,
    clean,
    key_text,
    mapping,
    sequence,
    value_date,
    value_number,
    value_text,
)

# `textual_coord` fills or joins the coordinates in ways the specification decides.
PLAIN_ATOM_KEYS = ATOM_KEYS - {"textual_coord"}
VALUE_NAMES = (*(name for name, _ in VALUE_COLUMNS), "extra")
BASE_NAMES = ("document_id", "version_index", "inbox_id", "version_name", "is_evaluated")


def add_document(
    document: Any,
    inbox_projects: Mapping[str, str] | None,
    buffers: Mapping[str, ColumnBuffer | NativeBuffer],
    drift: Counter[str],
) -> str:
    """Append every row of `document` to `buffers`; returns its id. Raises on anything
    the specification refuses, leaving partial rows the caller must roll back."""
    # The Normalizer makes the five document buffers native together or not at all.
    if isinstance(buffers["documents"], NativeBuffer):
        small = buffers["documents"], buffers["document_versions"], buffers["sections"]
        doc_id = plain_document_rows(document, inbox_projects, *small)  # type: ignore[arg-type]
        if doc_id is not None:
            _native_children(document, doc_id, buffers["fields"], buffers["line_items"])
            return doc_id
    doc_id, inbox = identity(document)
    versions: list[Row] = []
    sections: list[Row] = []
    for index, version in enumerate(sequence(document.get("versions"), "versions")):
        row, base = version_row(doc_id, inbox, index, version, drift)
        if base is not None:
            _children(buffers["fields"], buffers["line_items"], base, version, drift)
            sections += version_sections(doc_id, inbox, index, version, drift)
        versions.append(row)
    prediction, predicted = prediction_sections(doc_id, inbox, document, drift)
    sections += predicted
    row = document_row(
        doc_id, inbox, document, prediction, predicted, versions, drift, inbox_projects
    )
    buffers["document_versions"].extend(versions)
    buffers["sections"].extend(sections)
    buffers["documents"].append(row)
    return doc_id


def _native_children(
    document: dict[str, Any],
    doc_id: str,
    fields: ColumnBuffer | NativeBuffer,
    line_items: ColumnBuffer | NativeBuffer,
) -> None:
    """The fields and line_items rows of a document `plain_document_rows` took: it checked the
    versions, so the base columns are the values themselves (NotPlain still leaves the
    document to the specification)."""
    assert isinstance(fields, NativeBuffer) and isinstance(line_items, NativeBuffer)
    inbox = document.get("inbox")
    for index, version in enumerate(document.get("versions") or ()):
        if version is not None:
            key = (doc_id, index, inbox, version.get("name"), version.get("is_evaluated"))
            fields.add(key, version.get("annotations"))
            line_items.add(key, version.get("lines"))


def _children(
    fields: ColumnBuffer | NativeBuffer,
    line_items: ColumnBuffer | NativeBuffer,
    base: Row,
    version: dict[str, Any],
    drift: Counter[str],
) -> None:
    """The fields and line_items rows of one version: natively where the C extension is
    built (it raises NotPlain for what it leaves to the specification), else in Python."""
    if isinstance(fields, NativeBuffer) and isinstance(line_items, NativeBuffer):
        key = tuple(base[name] for name in BASE_NAMES)
        fields.add(key, version.get("annotations"))
        line_items.add(key, version.get("lines"))
    elif isinstance(fields, ColumnBuffer) and isinstance(line_items, ColumnBuffer):
        _fields(fields, base, version, drift)
        _line_items(line_items, base, version, drift)
    else:
        raise TypeError("fields and line_items must be buffers of one kind")


def _fields(buffer: ColumnBuffer, base: Row, version: dict[str, Any], drift: Counter[str]) -> None:
    annotations = mapping(version.get("annotations"), "annotations")
    if not annotations:
        return
    columns = buffer.columns
    names, occurrences = columns["field_name"], columns["occurrence"]
    values = [columns[name] for name in VALUE_NAMES]
    empty_correct = True if base["is_evaluated"] is True else None
    rows = 0
    for name, atoms in _named_lists(annotations):
        if not atoms:  # `[]`: one observation, both sides empty (documents.py)
            for column in values:
                column.append(None)
            columns["correct"][-1] = empty_correct
            names.append(name)
            occurrences.append(EMPTY_LIST_OCCURRENCE)
            rows += 1
            continue
        for occurrence, atom in enumerate(atoms):
            _atom(values, atom, "fields", drift)
            names.append(name)
            occurrences.append(occurrence)
        rows += len(atoms)
    _extend_base(columns, base, rows)


def _line_items(
    buffer: ColumnBuffer, base: Row, version: dict[str, Any], drift: Counter[str]
) -> None:
    lines = mapping(version.get("lines"), "lines")
    if not lines:
        return
    columns = buffer.columns
    tables, row_indexes, names = columns["table_name"], columns["row_index"], columns["column_name"]
    values = [columns[name] for name in VALUE_NAMES]
    rows = 0
    for table, table_rows in _named_lists(lines):
        for row_index, cells in enumerate(table_rows):
            if cells is None:
                continue
            if type(cells) is not dict:
                raise NormalizationError("expected a row object or null")
            for column_name, cell in cells.items():
                _atom(values, cell, "line_items", drift)
                tables.append(table)
                row_indexes.append(row_index)
                names.append(_key(column_name))
            rows += len(cells)
    _extend_base(columns, base, rows)


def _named_lists(obj: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    """(name, list) of an object of name -> array or null; a null has no rows."""
    for key, items in obj.items():
        if items is None:
            continue
        if type(items) is not list:
            raise NormalizationError("expected an array or null")
        yield _key(key), items


def _extend_base(columns: dict[str, list[Any]], base: Row, rows: int) -> None:
    if rows:
        for name in BASE_NAMES:
            columns[name].extend([base[name]] * rows)


def _key(key: Any) -> str:
    return key if type(key) is str and key.isascii() else key_text(key)


def _coordinate(value: Any) -> bool:
    """Whether `value` is null or [page, line, char] of 64-bit integers (the common case)."""
    return value is None or (
        type(value) is list
        and len(value) == 3
        and type(value[0]) is int
        and type(value[1]) is int
        and type(value[2]) is int
        and INT64_MIN <= value[0] <= INT64_MAX
        and INT64_MIN <= value[1] <= INT64_MAX
        and INT64_MIN <= value[2] <= INT64_MAX
    )


def _atom(values: list[list[Any]], atom: Any, table: str, drift: Counter[str]) -> None:
    """The value columns of one atom, in VALUE_NAMES order: a plain atom directly, any
    other through the specification's `atom_values`."""
    if type(atom) is dict and atom.keys() <= PLAIN_ATOM_KEYS:
        upper, lower = atom.get("upper_left"), atom.get("lower_right")
        text, confidence = atom.get("text"), atom.get("confidence")
        flagged, correct = atom.get("flagged"), atom.get("correct")
        if (
            _coordinate(upper)
            and _coordinate(lower)
            and (text is None or type(text) is str)
            and (
                confidence is None
                or type(confidence) is float
                or (type(confidence) is int and INT64_MIN <= confidence <= INT64_MAX)
            )
            and (flagged is None or type(flagged) is bool)
            and (correct is None or type(correct) is bool)
        ):
            value = atom.get("value")
            gold = value_text(atom.get("gold"), "gold")
            values[0].append(value_text(value, "value"))
            values[1].append(value_number(value))
            values[2].append(value_date(value))
            values[3].append(value if type(value) is bool else None)
            values[4].append(text if text is None or text.isascii() else clean(text))
            values[5].append(None if confidence is None else float(confidence))
            if upper is not None:
                values[6].append(upper[0])
                values[7].append(upper[1])
                values[8].append(upper[2])
            else:
                values[6].append(lower[0] if lower is not None else None)
                values[7].append(None)
                values[8].append(None)
            if lower is not None:
                values[9].append(lower[1])
                values[10].append(lower[2])
            else:
                values[9].append(None)
                values[10].append(None)
            values[11].append(flagged)
            values[12].append(gold)
            values[13].append(correct)
            values[14].append(None)
            return
    spec = atom_values(atom, table, drift)
    for name, column in zip(VALUE_NAMES, values, strict=True):
        column.append(spec[name])
