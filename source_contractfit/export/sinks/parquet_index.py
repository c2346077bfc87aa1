"""Which documents each file of a Parquet partition holds: replacement and repair use it.

One document table partition (`<table>/inbox_id=…/month=…`) is read once per run (its key
column only) and then kept up to date as files are written, so a commit knows without a
scan which re-emitted documents are stored already and which documents more than one
file holds (left by two exports that once raced into one folder).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq


def file_order(path: Path) -> tuple[int, str]:
    """Newest last: modification time, then name (for two files of the same instant)."""
    return (path.stat().st_mtime_ns, path.name)


@dataclass
class _Partition:
    files: dict[Path, frozenset[str]] = field(default_factory=dict)
    order: dict[Path, tuple[int, str]] = field(default_factory=dict)
    count: Counter[str] = field(default_factory=Counter)
    duplicated: set[str] = field(default_factory=set)

    def add(self, path: Path, ids: frozenset[str]) -> None:
        self.remove(path)
        self.files[path] = ids
        self.order[path] = file_order(path)
        for doc_id in ids:
            self.count[doc_id] += 1
            if self.count[doc_id] == 2:
                self.duplicated.add(doc_id)

    def remove(self, path: Path) -> None:
        self.order.pop(path, None)
        for doc_id in self.files.pop(path, frozenset()):
            self.count[doc_id] -= 1
            if self.count[doc_id] == 1:
                self.duplicated.discard(doc_id)
            elif not self.count[doc_id]:
                del self.count[doc_id]


class PartitionIndex:
    """Document ids per file, per partition folder, for the document tables."""

    def __init__(self) -> None:
        self._partitions: dict[Path, _Partition] = {}

    def _get(self, directory: Path, key: str) -> _Partition:
        if directory not in self._partitions:
            partition = _Partition()
            for path in sorted(directory.glob("*.parquet")) if directory.is_dir() else []:
                column = pq.read_table(path, columns=[key], partitioning=None).column(key)
                partition.add(path, frozenset(column.to_pylist()))
            self._partitions[directory] = partition
        return self._partitions[directory]

    def stored(self, directory: Path, key: str) -> Counter[str]:
        """id -> how many files hold it (an id absent is stored nowhere)."""
        return self._get(directory, key).count

    def duplicated(self, directory: Path, key: str) -> set[str]:
        return self._get(directory, key).duplicated

    def files(self, directory: Path, key: str) -> list[Path]:
        return sorted(self._get(directory, key).files)

    def owners(self, directory: Path, key: str) -> dict[str, Path]:
        """id -> the newest file holding it (modification time, then name)."""
        partition = self._get(directory, key)
        out: dict[str, Path] = {}
        for path in sorted(partition.files, key=partition.order.__getitem__):
            out.update(dict.fromkeys(partition.files[path], path))
        return out

    def written(self, directory: Path, key: str, path: Path, ids: frozenset[str]) -> None:
        self._get(directory, key).add(path, ids)

    def replaced(self, directory: Path, old: list[Path]) -> None:
        partition = self._partitions.get(directory)
        if partition is not None:
            for path in old:
                partition.remove(path)

    def clear(self) -> None:
        self._partitions.clear()
