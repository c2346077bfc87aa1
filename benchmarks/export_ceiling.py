"""The ceiling of the export's read path: the export with normalization taken out.

Usage: python benchmarks/export_ceiling.py [--documents 10000] [--runs 3] [--inboxes 4]

Issue 15 asks the exports for 0.70 of the floor (`floor.py`). This measures how close the
export could come if normalizing and storing the document tables cost nothing, with
today's read path (the engine's walk, its records and checkpoints, the exporter's loop,
the start-up). Contenders, each a child process measured as `perf.py` does, in
interleaved rounds on one prefilled emulator:

- `floor`: `floor.py`;
- `export-duckdb`, `export-parquet`: `contractfit export --streams documents --quiet`;
- `bare-duckdb`, `bare-parquet`: the same command with `Normalizer.add_document`
  replaced by a counter (no rows, so commits carry only the state), which prints
  `DOCUMENTS n` at exit; n must equal the size.

Prints per contender the median wall time, docs/s, the median over rounds of its ratio to
that round's floor, and CPU seconds per 1,000 documents.
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
    documents_written,
    parse_floor,
    prefilled_emulator,
    print_ratio_table,
    run_child,
)

CONTENDERS = ("floor", "export-duckdb", "export-parquet", "bare-duckdb", "bare-parquet")
BARE = """
import atexit, sys
from source_contractfit.export.normalize.batch import Normalizer
seen = [0]
def add_document(self, document):
    seen[0] += 1
    return True
Normalizer.add_document = add_document
Normalizer.buffered_rows = lambda self: 0
atexit.register(lambda: print("DOCUMENTS", seen[0], flush=True))
from source_contractfit.cli.main import main
sys.argv = ["contractfit", *sys.argv[1:]]
main()
"""


def command(contender: str, setup: Setup, work: Path) -> tuple[list[str], Path]:
    """perf.py's command of `contender`; a `bare-` one is its export run through BARE."""
    if not contender.startswith("bare-"):
        cmd, _ = command_for(contender, setup, work)
        return cmd, work / "stdout"
    export, _ = command_for("export-" + contender.removeprefix("bare-"), setup, work)
    assert export[1:3] == ["-m", "source_contractfit.cli.main"], export
    return [export[0], "-c", BARE, *export[3:]], work / "stdout"


def delivered(contender: str, setup: Setup, work: Path) -> int:
    if contender.startswith("bare-"):
        return parse_floor(work / "stdout")  # BARE prints `DOCUMENTS n`, as the floor does
    return documents_written(contender, setup, work)


def main() -> int:
    args = ceiling_parser(__doc__).parse_args()
    runs: list[Run] = []
    with prefilled_emulator(args) as emulator, tempfile.TemporaryDirectory() as work:
        setup = ceiling_setup(args, Path(work), emulator.base_url)
        for round_ in range(-1, args.runs):  # round -1 warms the emulator's cache up
            start = max(round_, 0) % len(CONTENDERS)
            for contender in CONTENDERS[start:] + CONTENDERS[:start]:
                with tempfile.TemporaryDirectory(prefix=f"cf-ceiling-{contender}-") as name:
                    folder = Path(name)
                    cmd, stdout = command(contender, setup, folder)
                    wall, cpu, rss = run_child(cmd, stdout, folder / "stderr", setup.env)
                    if delivered(contender, setup, folder) != args.documents:
                        raise RunFailed(f"{contender}: not {args.documents} documents")
                if round_ >= 0:
                    runs.append(Run(contender, args.documents, round_, wall, cpu, rss))
                    print(f"  round {round_ + 1} {contender:15} {wall:6.2f} s", file=sys.stderr)
    print(f"{args.documents:,} documents, {args.inboxes} inboxes, {args.runs} rounds\n")
    print_ratio_table(runs, list(CONTENDERS), args.documents)
    return 0


if __name__ == "__main__":
    sys.exit(main())
