"""The native buffers of the document tables: rows written by C into Arrow buffers.

`fields` and `line_items` hold ~95% of a document's rows. `_native.c` reads a version's
`annotations` / `lines` (a dict, or a `Subtree` of a page parsed by `lazy.loads`) and
appends their rows without a Python object per value;
`NativeBuffer` gives that C table the interface of `ColumnBuffer` (mark, rollback, keep,
take), so the Normalizer buffers both kinds alike. A version the C code does not call
plain (an unknown key, an odd type) raises `NotPlain`, and the document goes through the
Python specification, whose rows `extend` appends here too.

The other document tables (documents, document_versions, sections) are C tables too:
`plain_document_rows` writes a plain document's rows of them in C (`_documents.h`), and
`append_row` the specification's rows of any other document. Their Arrow arrays are made
from buffers, never by `pa.array` over Python lists, whose first call imports pandas
(pyarrow looks for pandas objects in every list): 0.2 s of every export's start.

`AVAILABLE` is false where the extension was not built (no C compiler at install time);
the Normalizer then uses the Python fast path (fast.py) for these tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import Any

import pyarrow as pa

from source_contractfit.export.normalize.arrow_schemas import TABLES
from source_contractfit.export.normalize.drift import extra_json
from source_contractfit.export.normalize.known import (
    ATOM_KEYS,
    DOCUMENT_KEYS,
    DOCUMENT_NESTED,
    EVALUATION_KEYS,
    PREDICTION_KEYS,
    SECTION_KEYS,
    VERSION_KEYS,
)
from source_contractfit.export.normalize.values import value_number, value_text

try:
    import source_contractfit.export.normalize._native as _native
except ImportError:  # built without a C compiler: the Python fast path takes over
    _native = None

AVAILABLE = _native is not None
NATIVE_TABLES = ("fields", "line_items")  # whose rows C reads from the document itself
# The letter of each column kind in a C table's layout (`_native.c`: kind_of_letter).
KIND_LETTERS = {
    pa.string(): "s",
    pa.int64(): "i",
    pa.float64(): "f",
    pa.bool_(): "b",
    pa.date32(): "d",
    pa.timestamp("us", tz="UTC"): "t",
}
# Rows after which the C table is finished into a batch, at the next document's start:
# its string columns have 32-bit offsets (2 GiB of text), and one document is at most a
# response (`max_response_mb`), so a C table never comes near that limit.
FINISH_ROWS = 65_536


class NotPlain(Exception):
    """A version the native path leaves to the specification (nothing was appended)."""


def _textual_extra(textual: Any) -> str | None:
    """`extra` of an atom with coordinates and a textual_coord too (atoms.atom_values)."""
    return extra_json({"textual_coord": textual})


def layout(schema: pa.Schema) -> str:
    """The C table layout of `schema`: one letter per column (KIND_LETTERS)."""
    return "".join(KIND_LETTERS[field.type] for field in schema)


if _native is not None:
    _native.configure(value_number, value_text, _textual_extra, ATOM_KEYS)
    _native.configure_documents(
        extra_json,
        tuple(TABLES[name].names for name in ("documents", "document_versions", "sections")),
        tuple(layout(TABLES[name]) for name in ("documents", "document_versions", "sections")),
        (DOCUMENT_KEYS, PREDICTION_KEYS, VERSION_KEYS, EVALUATION_KEYS, SECTION_KEYS),
        tuple(
            (name, part.columns, part.extra, part.ignored, part.open_keys)
            for name, part in DOCUMENT_NESTED.items()
        ),
    )


def plain_document_rows(
    document: Any,
    inbox_projects: Mapping[str, str] | None,
    documents: NativeBuffer,
    versions: NativeBuffer,
    sections: NativeBuffer,
) -> str | None:
    """The documents, document_versions and sections rows of a plain document, written in
    C (`_documents.h`); its id, or None when the specification decides (nothing added).
    (Not documents.document_rows, the specification's rows of one document.)"""
    assert _native is not None
    doc_id: str | None = _native.document_rows(
        document, inbox_projects, documents.table, versions.table, sections.table
    )
    return doc_id


class NativeBuffer:
    """The buffered rows of a document table: a C table of not yet finished rows, then
    record batches finished from it (the C table is emptied into a batch whenever a batch
    is needed, so `take` and `keep` work on Arrow arrays). Only the `fields` and
    `line_items` buffers `add` a version's atoms; every buffer appends rows."""

    def __init__(self, table: str) -> None:
        if _native is None:
            raise RuntimeError("the native normalizer is not built")
        self.schema = TABLES[table]
        self.names = self.schema.names
        self._row = itemgetter(*self.names)
        if table in NATIVE_TABLES:
            self._table = _native.AtomTable(table == "line_items")
        else:
            self._table = _native.AtomTable(layout(self.schema))
        self._batches: list[pa.RecordBatch] = []
        self._finished = 0  # rows in self._batches

    def __len__(self) -> int:
        return self._finished + len(self._table)

    @property
    def table(self) -> Any:
        """The C table itself (for `plain_document_rows`)."""
        return self._table

    def add(self, base: tuple[Any, ...], obj: Any) -> None:
        """The rows of one version's `annotations` (fields) or `lines` (line_items)."""
        if self._table.add(base, obj) < 0:
            raise NotPlain

    def append(self, row: Mapping[str, Any]) -> None:
        """One row of the specification (a dict; a missing column is null)."""
        try:
            values = self._row(row)
        except KeyError:
            get = row.get
            values = tuple(get(name) for name in self.names)
        self._table.append_row(values)

    def extend(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.append(row)

    def mark(self) -> int:
        """Where a document starts (the Normalizer marks before each one)."""
        if len(self._table) >= FINISH_ROWS:
            self._finish()
        return len(self)

    def rollback(self, mark: int) -> None:
        """Drop what was appended since `mark` (taken while only the C table grew)."""
        self._table.rollback(mark - self._finished)

    def values(self, name: str) -> list[Any]:
        """Every buffered value of column `name`, in order (for the rare re-added document)."""
        self._finish()
        return [value for batch in self._batches for value in batch.column(name).to_pylist()]

    def keep(self, keep: list[bool]) -> int:
        """Keep the rows whose flag is true; returns how many went."""
        self._finish()
        before = len(self)
        mask = pa.array(keep, pa.bool_())
        merged = pa.Table.from_batches(self._batches, schema=self.schema).combine_chunks()
        kept = merged.filter(mask)
        self._batches = kept.to_batches()
        self._finished = kept.num_rows
        return before - len(self)

    def take(self, count: int) -> pa.RecordBatch:
        """The first `count` rows as one record batch of exactly the table's schema."""
        self._finish()
        taken: list[pa.RecordBatch] = []
        need = count
        while need:
            batch = self._batches[0]
            if batch.num_rows <= need:
                taken.append(self._batches.pop(0))
                need -= batch.num_rows
            else:
                taken.append(batch.slice(0, need))
                self._batches[0] = batch.slice(need)
                need = 0
        self._finished -= count
        if len(taken) == 1:
            return taken[0]
        return pa.Table.from_batches(taken, schema=self.schema).combine_chunks().to_batches()[0]

    def _finish(self) -> None:
        rows = len(self._table)
        if not rows:
            return
        arrays = []
        for field, (nulls, valid, values, chars) in zip(
            self.schema, self._table.finish(), strict=True
        ):
            validity = None if valid is None else pa.py_buffer(valid)
            buffers = [validity, pa.py_buffer(values)]
            if chars is not None:
                buffers.append(pa.py_buffer(chars))
            arrays.append(pa.Array.from_buffers(field.type, rows, buffers, null_count=nulls))
        self._batches.append(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self._finished += rows
