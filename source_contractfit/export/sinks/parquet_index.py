"""Which documents each file of a Parquet partition holds: replacement and repair use it.

One document table partition (`<table>/inbox_id=…/month=…`) is read once per run (its key
column only) and then kept up to date as files are written, so a commit knows without a
scan which re-emitted documents are stored already and which documents more than one
file holds (left by two exports that once raced into one folder).

Ids are kept as Arrow string arrays, one per file (about 40 bytes an id). The former
frozenset and Counter of Python strings took about 180 bytes an id in each of the five
document tables, and made a 100k-document export's peak RSS 1.31x a 10k one's.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from source_contractfit.export.arrays import strings


def parquet_file(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One Parquet file, read as `pq.read_table(path, partitioning=None)` reads it, without
    `pq.read_table`: it goes through pyarrow.dataset, whose import imports pandas."""
    with pq.ParquetFile(path) as file:
        return file.read(columns=columns)


def file_order(path: Path) -> tuple[int, str]:
    """Newest last: modification time, then name (for two files of the same instant)."""
    return (path.stat().st_mtime_ns, path.name)


def unique_ids(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The distinct non-null ids of a key column, as one string array. A foreign file's
    binary key that is not UTF-8 matches no document id: it is left out."""
    ids = pc.drop_null(pc.unique(column))
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    try:
        return ids.cast(pa.string())
    except pa.ArrowInvalid:
        texts = []
        for value in ids.to_pylist():
            with contextlib.suppress(UnicodeDecodeError):
                texts.append(value.decode() if isinstance(value, bytes) else str(value))
        return pa.array(texts, pa.string())


def _held(ids: pa.Array | pa.ChunkedArray, candidates: pa.Array) -> pa.Array:
    """The ids (of a file, or of every file as chunks) among `candidates`; the hash table
    is built on the candidates, the smaller side, so a probe costs a scan of the ids."""
    held = ids.filter(pc.is_in(ids, value_set=candidates))
    if not isinstance(held, pa.ChunkedArray):
        return held
    # combine_chunks of no chunks calls pa.array([]), which imports pandas (arrays.py).
    return held.combine_chunks() if held.num_chunks else candidates.slice(0, 0)


@dataclass
class _Partition:
    files: dict[Path, pa.Array] = field(default_factory=dict)
    order: dict[Path, tuple[int, str]] = field(default_factory=dict)
    duplicated: set[str] = field(default_factory=set)

    def ids(self) -> pa.Array:
        """Every id of every file (an id twice if two files hold it)."""
        return pa.concat_arrays([*self.files.values(), strings([])])

    def among(self, candidates: pa.Array) -> pa.Array:
        """The candidates some file of the partition holds, once each."""
        if not self.files or not len(candidates):
            return candidates.slice(0, 0)
        # One probe over every file's ids as chunks (no copy).
        every = pa.chunked_array(list(self.files.values()), pa.string())
        return unique_ids(_held(every, candidates))

    def load(self, files: dict[Path, pa.Array]) -> None:
        """The files found on disk, indexed in one pass over their ids."""
        for path, ids in files.items():
            self.files[path] = ids
            self.order[path] = file_order(path)
        self._count_duplicates()

    def add(self, path: Path, ids: pa.Array) -> None:
        self.remove(path)
        self.duplicated.update(self.among(ids).to_pylist())
        self.files[path] = ids
        self.order[path] = file_order(path)

    def remove(self, path: Path) -> None:
        self.order.pop(path, None)
        if self.files.pop(path, None) is not None and self.duplicated:
            self._count_duplicates()

    def _count_duplicates(self) -> None:
        self.duplicated = set()
        if len(self.files) > 1:
            counts = pc.value_counts(self.ids())
            twice = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
            self.duplicated = set(twice.to_pylist())


class PartitionIndex:
    """Document ids per file, per partition folder, for the document tables."""

    def __init__(self) -> None:
        self._partitions: dict[Path, _Partition] = {}

    def _get(self, directory: Path, key: str) -> _Partition:
        if directory not in self._partitions:
            partition = _Partition()
            found = {}
            for path in sorted(directory.glob("*.parquet")) if directory.is_dir() else []:
                column = parquet_file(path, [key]).column(key)
                found[path] = unique_ids(column)
            partition.load(found)
            self._partitions[directory] = partition
        return self._partitions[directory]

    def stored_among(self, directory: Path, key: str, ids: set[str]) -> set[str]:
        """The ones of `ids` some file of the partition holds."""
        known = sorted(i for i in ids if i is not None)
        if not known:
            return set()
        candidates = strings(known)
        return set(self._get(directory, key).among(candidates).to_pylist())

    def stored(self, directory: Path, key: str) -> pa.Array:
        """Every id the partition holds, once."""
        return unique_ids(self._get(directory, key).ids())

    def duplicated(self, directory: Path, key: str) -> set[str]:
        """Ids more than one file holds."""
        return self._get(directory, key).duplicated

    def files(self, directory: Path, key: str) -> list[Path]:
        return sorted(self._get(directory, key).files)

    def owners(self, directory: Path, key: str, ids: set[str]) -> dict[str, Path]:
        """id -> the newest file holding it (modification time, then name), for `ids`."""
        partition = self._get(directory, key)
        candidates = strings(sorted(ids))
        out: dict[str, Path] = {}
        for path in sorted(partition.files, key=partition.order.__getitem__):
            out.update(dict.fromkeys(_held(partition.files[path], candidates).to_pylist(), path))
        return out

    def written(self, directory: Path, key: str, path: Path, ids: pa.Array) -> None:
        self._get(directory, key).add(path, ids)

    def replaced(self, directory: Path, old: list[Path]) -> None:
        partition = self._partitions.get(directory)
        if partition is not None:
            for path in old:
                partition.remove(path)

    def clear(self) -> None:
        self._partitions.clear()
