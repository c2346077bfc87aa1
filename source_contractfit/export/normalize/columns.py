"""Buffered rows of one table, held column by column until they become a record batch.

Row dicts cost a dict per row and a transposition per batch; the fast path appends values
straight to per-column lists instead (`fast.py`), and rows of the specification's dicts
are appended the same way. `mark()` / `rollback()` make a document all-or-nothing: what
it appended is cut off again when it turns out to be a reject.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import Any

import pyarrow as pa

from source_contractfit.export.normalize.arrow_schemas import TABLES


class ColumnBuffer:
    """The buffered rows of `table`: one Python list per column of `TABLES[table]`."""

    def __init__(self, table: str) -> None:
        self.schema = TABLES[table]
        self.names = self.schema.names
        self.columns: dict[str, list[Any]] = {name: [] for name in self.names}
        self._first = self.columns[self.names[0]]
        # Every table has at least two columns, so the getter returns a tuple.
        self._getter = itemgetter(*self.names)

    def __len__(self) -> int:
        return len(self._first)

    def append(self, row: Mapping[str, Any]) -> None:
        """One row of the specification (a dict; a missing column is null)."""
        get = row.get
        for name, column in self.columns.items():
            column.append(get(name))

    def extend(self, rows: list[dict[str, Any]]) -> None:
        """Rows of the specification, transposed in C (itemgetter + zip: about twice as
        fast as a loop per column); rows missing a column take the per-row way."""
        if not rows:
            return
        try:
            transposed = list(zip(*map(self._getter, rows), strict=True))
        except KeyError:
            for row in rows:
                self.append(row)
            return
        for column, values in zip(self.columns.values(), transposed, strict=True):
            column.extend(values)

    def replace(self, index: int, row: Mapping[str, Any]) -> None:
        for name, column in self.columns.items():
            column[index] = row.get(name)

    def mark(self) -> int:
        return len(self)

    def rollback(self, mark: int) -> None:
        for column in self.columns.values():
            del column[mark:]

    def values(self, name: str) -> list[Any]:
        """Every buffered value of column `name`, in order."""
        return self.columns[name]

    def keep(self, keep: list[bool]) -> int:
        """Keep the rows whose flag is true; returns how many went."""
        before = len(self)
        for name, column in self.columns.items():
            self.columns[name] = [value for value, kept in zip(column, keep, strict=True) if kept]
        self._first = self.columns[self.names[0]]
        return before - len(self)

    def take(self, count: int) -> pa.RecordBatch:
        """The first `count` rows as a record batch of exactly the table's schema."""
        arrays = []
        for field in self.schema:
            column = self.columns[field.name]
            arrays.append(pa.array(column[:count], type=field.type))
            del column[:count]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)
