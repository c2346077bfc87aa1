"""The ceiling the sinks set: storing the five document tables alone, next to the floor.

Usage: python benchmarks/sink_ceiling.py [--documents 10000] [--runs 3] [--inboxes 4]

Issue 15 asks the exports for 0.70 of the floor (`floor.py`: fetching and parsing every
page, nothing else). The export reads, normalizes and stores; this measures the storing
alone. One export to Parquet (not timed) gives the rows of the five document tables; each
round then runs, interleaved: the floor (a child process, as perf.py runs it), and, in a
child process each, `DuckDBSink.apply` and `ParquetSink.apply` of those rows in commits
of `--commit-documents` documents (the export commits about 1,250 at a time: its
CHECKPOINT_COMMIT_ROWS of 100,000 rows), plus the DuckDB sink at one commit of all.
Each child only imports, loads the rows from the Parquet files untimed, then times its
commits. Prints per contender the median seconds, the median over rounds of its ratio to
that round's floor (the floor's time over its time), and CPU seconds (the child's, its
untimed loading included) per 1,000 documents.

If a sink alone takes longer than the floor divided by 0.70, no export through it can meet
the target, however fast its reading and normalizing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf import (  # noqa: E402 - the harness next to this file
    Run,
    RunFailed,
    Setup,
    ceiling_parser,
    ceiling_setup,
    command_for,
    parse_floor,
    prefilled_emulator,
    print_ratio_table,
    run_child,
)

SINK_CHILD = r"""
import resource, sys, time
import pyarrow.compute as pc
import pyarrow.dataset as ds
from source_contractfit.export.normalize import SCHEMA_VERSION, TABLES, primary_keys
from source_contractfit.export.sinks import Commit, DuckDBSink, ParquetSink
kind, source, target, per_commit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tables = {}
for name in ("documents", "document_versions", "fields", "line_items", "sections"):
    found = ds.dataset(f"{source}/{name}", format="parquet", partitioning="hive").to_table()
    key = "id" if name == "documents" else "document_id"
    tables[name] = found.select(TABLES[name].names).cast(TABLES[name]).sort_by(key)
ids = tables["documents"].column("id")
commits = []
for start in range(0, len(ids), per_commit):
    chunk = ids.slice(start, per_commit)
    commit = Commit(document_ids=set(chunk.to_pylist()), states={"documents": {"at": start}})
    for name, table in tables.items():
        key = "id" if name == "documents" else "document_id"
        for batch in table.filter(pc.is_in(table.column(key), chunk)).to_batches(10_000):
            commit.add(name, batch)
    commits.append(commit)
if kind == "duckdb":
    sink = DuckDBSink(target, TABLES, primary_keys(), SCHEMA_VERSION)
else:
    sink = ParquetSink(target, TABLES, primary_keys(), SCHEMA_VERSION)
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime
started, cpu_started = time.perf_counter(), cpu()
for sequence, commit in enumerate(commits, 1):
    sink.apply(commit, sequence)
if kind == "parquet":
    sink.compact()
sink.close()
print("SECONDS", time.perf_counter() - started, "DOCUMENTS", len(ids),
      "CPU", cpu() - cpu_started, flush=True)
"""


def sink_command(kind: str, source: Path, target: Path, per_commit: int) -> list[str]:
    return [sys.executable, "-c", SINK_CHILD, kind, str(source), str(target), str(per_commit)]


def export_rows(setup: Setup, work: Path) -> Path:
    """One export to Parquet into `work/rows` (untimed; a warm-up): the rows the sink
    children store."""
    rows = work / "rows"
    export, _ = command_for("export-parquet", setup, work)
    export[export.index("--parquet") + 1] = str(rows)
    run_child(export, None, work / "export.stderr", setup.env)
    return rows


def parse_sink(stdout: Path) -> tuple[float, int, float]:
    """(seconds, documents, CPU seconds of every thread) of the timed commits."""
    words = stdout.read_text().split()
    keys = ("SECONDS", "DOCUMENTS", "CPU")
    seconds, documents, cpu = (words[words.index(key) + 1] for key in keys)
    return float(seconds), int(documents), float(cpu)


def main() -> int:
    parser = ceiling_parser(__doc__)
    parser.add_argument("--commit-documents", type=int, default=1_250)
    args = parser.parse_args()
    contenders = {
        "duckdb": ("duckdb", args.commit_documents),
        "duckdb-one-commit": ("duckdb", args.documents),
        "parquet": ("parquet", args.commit_documents),
    }
    runs: list[Run] = []
    with prefilled_emulator(args) as emulator, tempfile.TemporaryDirectory() as name:
        work = Path(name)
        setup = ceiling_setup(args, work, emulator.base_url)
        source = export_rows(setup, work)
        for round_ in range(args.runs):
            order = ["floor", *contenders]
            start = round_ % len(order)
            for contender in order[start:] + order[:start]:
                with tempfile.TemporaryDirectory(prefix=f"cf-sinks-{contender}-") as child:
                    folder = Path(child)
                    if contender == "floor":
                        cmd, stdout = command_for("floor", setup, folder)
                        assert stdout is not None
                        wall, cpu, rss = run_child(cmd, stdout, folder / "stderr", setup.env)
                        if parse_floor(stdout) != args.documents:
                            raise RunFailed("floor: not every document")
                    else:
                        kind, per_commit = contenders[contender]
                        target = folder / ("out.duckdb" if kind == "duckdb" else "parquet")
                        cmd = sink_command(kind, source, target, per_commit)
                        stdout = folder / "stdout"
                        _, cpu, rss = run_child(cmd, stdout, folder / "stderr", setup.env)
                        wall, stored, _ = parse_sink(stdout)
                        if stored != args.documents:
                            raise RunFailed(f"{contender}: stored {stored} documents")
                runs.append(Run(contender, args.documents, round_, wall, cpu, rss))
                print(f"  round {round_ + 1} {contender:18} {wall:6.2f} s", file=sys.stderr)
    print(f"{args.documents:,} documents, {args.inboxes} inboxes, {args.runs} rounds, "
          f"commits of {args.commit_documents:,} documents\n")  # fmt: skip
    print_ratio_table(runs, ["floor", *contenders], args.documents)
    return 0


if __name__ == "__main__":
    sys.exit(main())
