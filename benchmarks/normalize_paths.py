"""Documents/s of the ways to turn Documents into the five document tables, in-process.

Usage: python benchmarks/normalize_paths.py [--documents 6000] [--rounds 5]

The same emulator documents (fixed seed, full shape) go through each contender, in
interleaved rounds (the order rotates each round), and the median per contender is
printed with its ratio to the specification. Timed: from the parsed documents (or, for
the SQL contender, their JSON text) to Arrow tables; parsing and sinks are left out, as
they are the same for all. Cyclic GC is tuned as the exporter tunes it.

- `spec`: `Normalizer(fast=False)`, the specification (row dicts, then batches);
- `fast`: `Normalizer(fast=True, native=False)`, the columnar fast path in Python,
  identical output (see unit_tests/test_normalize_fast.py);
- `native`: `Normalizer(fast=True)`, the exporter's path: fields and line_items written
  by the C extension (`_native.c`) into Arrow buffers, identical output too;
- `duckdb-fields`: a lower bound for normalizing in DuckDB SQL: `from_json` with a typed
  structure, then `unnest` of versions, fields and atoms into a few `fields` columns only
  (no line items, no checks, no reject or drift logic). Its output is NOT the tables; it
  only says how fast the direction could be at best (threads as given).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import duckdb
import orjson
import pyarrow as pa

from contractfit_emulator import Emulator
from source_contractfit.export.normalize import Normalizer
from source_contractfit.read.gc_tuning import tune_gc

STRUCTURE = (
    '{"id": "VARCHAR", "inbox": "VARCHAR", "versions": [{"name": "VARCHAR", '
    '"annotations": "MAP(VARCHAR, JSON)"}]}'
)
FIELDS_SQL = f"""
WITH d AS (SELECT from_json(doc, '{STRUCTURE}') AS j FROM docs),
v AS (
    SELECT j.id AS document_id, j.inbox AS inbox_id, u.i - 1 AS version_index, u.v AS version
    FROM d, LATERAL (SELECT unnest(j.versions) AS v, generate_subscripts(j.versions, 1) AS i) u
),
f AS (
    SELECT document_id, inbox_id, version_index, version.name AS version_name,
        e.key AS field_name, CAST(e.value AS JSON[]) AS atoms
    FROM v, LATERAL (SELECT unnest(map_entries(version.annotations)) AS e)
)
SELECT document_id, version_index, inbox_id, version_name, field_name, a.i - 1 AS occurrence,
    a.atom->>'$.value' AS value, TRY_CAST(a.atom->>'$.value' AS DOUBLE) AS value_number,
    a.atom->>'$.text' AS text, TRY_CAST(a.atom->>'$.confidence' AS DOUBLE) AS confidence,
    TRY_CAST(a.atom->>'$.upper_left[0]' AS BIGINT) AS page
FROM f, LATERAL (SELECT unnest(atoms) AS atom, generate_subscripts(atoms, 1) AS i) a
"""


def python_path(fast: bool, native: bool = False) -> Callable[[list[bytes]], float]:
    def run(raw: list[bytes]) -> float:
        documents = [orjson.loads(body) for body in raw]
        started = time.perf_counter()
        normalizer = Normalizer(fast=fast, native=native)
        assert normalizer.native is native
        for document in documents:
            normalizer.add_document(document)
        tables = [pa.Table.from_batches([b]) for _, b in normalizer.flush()]
        assert tables and normalizer.rejected == 0
        return time.perf_counter() - started

    return run


def duckdb_fields(threads: int) -> Callable[[list[bytes]], float]:
    def run(raw: list[bytes]) -> float:
        column = pa.array([body.decode() for body in raw], pa.string())
        # Batches of 256 documents: DuckDB scans an Arrow table's batches in parallel.
        whole = pa.RecordBatch.from_arrays([column], names=["doc"])
        texts = pa.Table.from_batches(
            [whole.slice(start, 256) for start in range(0, len(raw), 256)]
        )
        con = duckdb.connect(config={"threads": threads})
        con.register("docs", texts)
        started = time.perf_counter()
        table = con.sql(FIELDS_SQL).to_arrow_table()
        seconds = time.perf_counter() - started
        assert table.num_rows > 10 * len(raw)
        con.close()
        return seconds

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with Emulator(seed=42, inboxes=4, documents=args.documents, now="2026-01-01T00:00:00Z") as emu:
        store = emu.core.store
        raw = [orjson.dumps(store.document(record)) for record in store.records.values()]
    tune_gc()
    contenders: dict[str, Callable[[list[bytes]], float]] = {
        "spec": python_path(fast=False),
        "fast": python_path(fast=True),
        "native": python_path(fast=True, native=True),
        "duckdb-fields (1 thread)": duckdb_fields(1),
        "duckdb-fields (2 threads)": duckdb_fields(2),
    }
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            times[name].append(contenders[name](raw))
    spec = statistics.median(times["spec"])
    print(f"{len(raw):,} documents, {args.rounds} interleaved rounds, median seconds:")
    print("| contender | seconds | docs/s | x spec | ms / document |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        median = statistics.median(times[name])
        rate = len(raw) / median
        print(f"| {name} | {median:.2f} | {rate:,.0f} | {spec / median:.2f} | "
              f"{1000 * median / len(raw):.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
