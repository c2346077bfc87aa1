"""What every sink does with a checkpoint's worth of Arrow batches, and how tables replace.

A `Commit` is everything between two checkpoints: record batches per table plus the
Airbyte state blobs that become true once those rows are stored. A sink applies a commit
all-or-nothing (DuckDB: one transaction) or data-first-state-last (Parquet). A commit that
is not `durable` may be held by a sink that can (DuckDB keeps its transaction open) and
made durable with a later one: a crash then falls back to the last durable commit, still
whole. How a table's old rows give way to new ones depends on its kind:

- DOCUMENT: rows belong to a document (`id` / `document_id`); a re-emitted document
  replaces every row it had, in every document table, including rows that disappeared;
- KEYED: rows replace rows with the same primary key (stats per day);
- SNAPSHOT: full-refresh metadata, replaced whole when its stream is read;
- APPEND: rejects, a log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

import pyarrow as pa

from source_contractfit.export.normalize.schemas import SNAPSHOT_TABLES


class TableKind(str, Enum):
    DOCUMENT = "document"
    KEYED = "keyed"
    SNAPSHOT = "snapshot"
    APPEND = "append"


DOCUMENT_TABLES: dict[str, str] = {
    "documents": "id",
    "document_versions": "document_id",
    "fields": "document_id",
    "line_items": "document_id",
    "sections": "document_id",
}
APPEND_TABLES = frozenset({"rejects"})


def table_kind(table: str) -> TableKind:
    if table in DOCUMENT_TABLES:
        return TableKind.DOCUMENT
    if table in SNAPSHOT_TABLES:
        return TableKind.SNAPSHOT
    if table in APPEND_TABLES:
        return TableKind.APPEND
    return TableKind.KEYED


@dataclass
class Commit:
    """Rows to store and the state they make true. `snapshots` are tables whose stream
    was read completely in this commit and so replace their old content whole.
    `durable=False`: the sink may wait for a later commit before making it durable."""

    batches: dict[str, list[pa.RecordBatch]] = field(default_factory=dict)
    states: dict[str, Any] = field(default_factory=dict)
    snapshots: set[str] = field(default_factory=set)
    document_ids: set[str] = field(default_factory=set)
    durable: bool = True

    def add(self, table: str, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self.batches.setdefault(table, []).append(batch)

    def rows(self) -> int:
        return sum(batch.num_rows for batches in self.batches.values() for batch in batches)

    def empty(self) -> bool:
        return not self.batches and not self.states and not self.snapshots


@dataclass(frozen=True)
class StoredState:
    """The state a sink holds: `sequence` counts its commits, so with two sinks the one
    that is behind (a crash between their commits) decides where the next run resumes."""

    sequence: int
    streams: Mapping[str, Any]


class Sink(Protocol):
    name: str

    def load_state(self) -> StoredState: ...

    def apply(self, commit: Commit, sequence: int) -> None: ...

    def reset(self, tables: set[str]) -> None: ...

    def replace_state(self, streams: Mapping[str, Any], sequence: int) -> None:
        """The stored state becomes exactly `streams` (any other stream's is forgotten),
        at `sequence`, in one atomic write; the data stays."""
        ...

    def close(self) -> None: ...
