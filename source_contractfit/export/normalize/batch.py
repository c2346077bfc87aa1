"""Rows -> Arrow record batches of the declared schemas, and the buffering `Normalizer`.

The Normalizer is the one entry point of the exporter: records in (any JSON value), full
record batches out. Each input is normalized completely before any of its rows enter
the buffers, so a document lands in every table or in none (then as one reject).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from source_contractfit.export.normalize import fast
from source_contractfit.export.normalize.arrow_schemas import TABLES
from source_contractfit.export.normalize.columns import ColumnBuffer
from source_contractfit.export.normalize.documents import Normalized, Row, normalize_document
from source_contractfit.export.normalize.lazy import materialize
from source_contractfit.export.normalize.native import AVAILABLE, NativeBuffer
from source_contractfit.export.normalize.records import normalize_record
from source_contractfit.export.normalize.rejects import reject_row
from source_contractfit.export.normalize.schemas import PRIMARY_KEYS, STREAM_TABLE_COLUMNS
from source_contractfit.export.normalize.values import NormalizationError

DOCUMENTS_STREAM = "documents"
# Document tables and the column naming the document each row belongs to.
DOCUMENT_KEYS = {
    "documents": "id",
    "document_versions": "document_id",
    "fields": "document_id",
    "line_items": "document_id",
    "sections": "document_id",
}


def to_batch(table: str, rows: list[Row]) -> pa.RecordBatch:
    """A record batch with exactly `TABLES[table]`; a row missing a column has null there."""
    buffer = ColumnBuffer(table)
    buffer.extend(rows)
    return buffer.take(len(rows))


class Normalizer:
    """Accumulates rows per table and hands out record batches of `batch_rows` rows.

    `add_document` / `add_record` never raise: an input that cannot be normalized becomes
    one `rejects` row. `drift` counts unknown keys ("<table>.<key path>") of committed
    inputs, `rejected` the rejects, `rows` the rows handed out or still buffered per table.

    Among buffered rows the latest input wins, so one flush never holds a key twice (the
    sinks insert a commit's batches as they are): a document added again replaces its
    buffered rows in all five document tables, and a stream row replaces the buffered row
    with the same primary key in place. Rows already handed out are not recalled.
    """

    def __init__(
        self,
        batch_rows: int = 10_000,
        inbox_projects: Mapping[str, str] | None = None,
        fast: bool = True,
        native: bool | None = None,
    ) -> None:
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        self.batch_rows = batch_rows
        self.inbox_projects: dict[str, str] = dict(inbox_projects or {})
        self.drift: Counter[str] = Counter()
        self.rejected = 0
        self.rows: Counter[str] = Counter()
        self.fast = fast
        self.fallbacks = 0  # documents the fast path could not take and the spec did
        # The document tables in C (native.py) when built; `native=False` forces Python.
        self.native = fast and (AVAILABLE if native is None else native)
        native_tables = set(DOCUMENT_KEYS) if self.native else set()  # the 5 document tables
        self._buffers: dict[str, ColumnBuffer | NativeBuffer] = {
            name: NativeBuffer(name) if name in native_tables else ColumnBuffer(name)
            for name in TABLES
        }
        self._documents: set[str] = set()  # ids whose rows may still be buffered
        # Stream tables: primary key -> position counted from the first row ever buffered.
        self._positions: dict[str, dict[tuple[Any, ...], int]] = {
            name: {} for name in STREAM_TABLE_COLUMNS
        }
        self._taken: Counter[str] = Counter()  # rows handed out since the positions began

    def add_document(self, document: Any) -> bool:
        """A Document -> documents, document_versions, fields, line_items, sections rows."""
        if self.fast and self._add_fast(document):
            return True
        document = materialize(document)  # the specification reads Python objects only
        try:
            result = normalize_document(document, self.inbox_projects)
        except NormalizationError as error:
            return self._reject(DOCUMENTS_STREAM, document, error.message)
        except Exception as error:  # a bug must cost one record, not the run
            return self._reject(DOCUMENTS_STREAM, document, _internal(error))
        if self.fast:
            self.fallbacks += 1
        self._commit(result)
        return True

    def _add_fast(self, document: Any) -> bool:
        """The fast path (fast.py); False, with the buffers as they were, when the
        document must go through the specification instead (a reject, or an odd shape)."""
        marks = {table: self._buffers[table].mark() for table in DOCUMENT_KEYS}
        drift: Counter[str] = Counter()
        try:
            doc_id = fast.add_document(document, self.inbox_projects, self._buffers, drift)
        except Exception:  # noqa: BLE001 - the specification decides, and says why
            for table, mark in marks.items():
                self._buffers[table].rollback(mark)
            return False
        for table, mark in marks.items():
            if len(self._buffers[table]) > mark:
                self.rows[table] += len(self._buffers[table]) - mark
        if doc_id in self._documents:
            self._forget(doc_id, marks)
        self._documents.add(doc_id)
        self.drift.update(drift)
        return True

    def add_record(self, stream: str, record: Any) -> bool:
        """A record of a plain stream -> one row of the table named as the stream."""
        if stream == DOCUMENTS_STREAM:
            return self.add_document(record)
        try:
            result = normalize_record(stream, record)
        except NormalizationError as error:
            return self._reject(stream, record, error.message)
        except Exception as error:
            return self._reject(stream, record, _internal(error))
        self._commit(result)
        return True

    def buffered_rows(self) -> int:
        """Rows waiting in all buffers: lets the caller bound memory between commits."""
        return sum(len(buffer) for buffer in self._buffers.values())

    def pending(self) -> dict[str, int]:
        """Buffered rows per table (tables with none left out)."""
        return {name: len(buffer) for name, buffer in self._buffers.items() if len(buffer)}

    def ready(self) -> Iterator[tuple[str, pa.RecordBatch]]:
        """Full batches (exactly batch_rows rows) to hand to the sinks now."""
        for table, buffer in self._buffers.items():
            while len(buffer) >= self.batch_rows:
                yield table, self._take(table, self.batch_rows)

    def flush(self) -> Iterator[tuple[str, pa.RecordBatch]]:
        """Everything buffered, per table in batches of at most batch_rows rows."""
        for table, buffer in self._buffers.items():
            while buffer:
                yield table, self._take(table, min(len(buffer), self.batch_rows))

    def _take(self, table: str, count: int) -> pa.RecordBatch:
        buffer = self._buffers[table]
        batch = buffer.take(count)
        self._taken[table] += count
        if not len(buffer) and table in self._positions:
            self._positions[table].clear()
            self._taken[table] = 0
        if table in DOCUMENT_KEYS and not any(len(self._buffers[t]) for t in DOCUMENT_KEYS):
            self._documents.clear()
        return batch

    def _commit(self, result: Normalized) -> None:
        documents = result.rows.get("documents")
        if documents:
            doc_id = documents[0]["id"]
            if doc_id in self._documents:
                self._forget(doc_id)
            self._documents.add(doc_id)
        for table, rows in result.rows.items():
            if table in self._positions:
                for row in rows:
                    self._put_keyed(table, row)
            elif rows:
                self._buffers[table].extend(rows)
                self.rows[table] += len(rows)
        self.drift.update(result.drift)

    def _forget(self, doc_id: str, before: Mapping[str, int] | None = None) -> None:
        """Drop the still-buffered rows of a document that is being added again (those
        before `before[table]` only, when its new rows are already appended)."""
        for table, key in DOCUMENT_KEYS.items():
            buffer = self._buffers[table]
            end = before[table] if before is not None else len(buffer)
            column = buffer.values(key)
            keep = [index >= end or value != doc_id for index, value in enumerate(column)]
            self.rows[table] -= buffer.keep(keep)

    def _put_keyed(self, table: str, row: Row) -> None:
        buffer, positions = self._buffers[table], self._positions[table]
        assert isinstance(buffer, ColumnBuffer)  # stream tables are never native
        key = tuple(row[k] for k in PRIMARY_KEYS[table])
        position = positions.get(key)
        if position is not None and position >= self._taken[table]:
            buffer.replace(position - self._taken[table], row)
            return
        positions[key] = self._taken[table] + len(buffer)
        buffer.append(row)
        self.rows[table] += 1

    def _reject(self, stream: Any, record: Any, reason: str) -> bool:
        try:
            row = reject_row(stream, record, reason)
        except Exception:  # odd stream objects: keep the count, lose the detail
            row = reject_row("?", None, reason)
        self._buffers["rejects"].append(row)
        self.rows["rejects"] += 1
        self.rejected += 1
        return False


def _internal(error: Exception) -> str:
    try:
        return f"internal error: {type(error).__name__}: {error}"
    except Exception:
        return f"internal error: {type(error).__name__}"
