"""The CPU budget: how close to the floor can any export get on this machine?

Usage: python benchmarks/budget.py [--documents 10000] [--runs 3] [--inboxes 4]

Issue 15 asks each export for 0.70 of the floor's documents/s (`floor.py`), so for a wall
time of at most floor / 0.70. On a machine of N cores a run can take no less than the
CPU it and the server need, divided by N. This script measures, in interleaved rounds,
the CPU that every export into a sink must spend whatever its code, and so the best
ratio to the floor that such an export could reach:

- `fetch`: `floor.py --fetch-only`, the same pages over HTTP (httpx, the project's client
  and the floor's) with nothing parsed: the child's CPU, plus the emulator's CPU while it
  served them (`/proc`), which shares the machine's cores;
- `imports-<sink>`: a child that imports only the libraries the sink needs (`duckdb` or
  `pyarrow.parquet`, and `pyarrow`, `httpx`, `orjson`): what a process storing into that
  sink pays before its first request;
- `sink-<sink>`: `DuckDBSink.apply` / `ParquetSink.apply` of the five document tables of
  one export (`sink_ceiling.py`'s child), in one commit, the cheapest way measured; the CPU
  of every thread of the child around the commits only, not its loading.

Parsing the JSON and normalizing count as free. The bound for a sink is then
wall >= (fetch + emulator + imports + sink) / cores, and the best ratio to the floor is
floor wall / that bound, per round; the table prints the medians. A best ratio under
0.70 means no export into that sink can meet the target on this machine with today's
tables, however its reading and normalizing are written: it would need fewer cores'
worth of work than storing the rows and fetching the pages take.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf import (  # noqa: E402 - the harness next to this file
    RunFailed,
    ceiling_parser,
    ceiling_setup,
    command_for,
    parse_floor,
    prefilled_emulator,
    process_cpu_seconds,
    run_child,
)
from sink_ceiling import export_rows, parse_sink, sink_command  # noqa: E402

TARGET = 0.70
IMPORTS = {
    "duckdb": "import duckdb, pyarrow, httpx, orjson",
    "parquet": "import pyarrow, pyarrow.parquet, httpx, orjson",
}
SINKS = tuple(IMPORTS)


def main() -> int:
    args = ceiling_parser(__doc__).parse_args()
    cores = os.cpu_count() or 1
    measured: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        measured.setdefault(name, []).append(value)

    with prefilled_emulator(args) as emulator, tempfile.TemporaryDirectory() as name:
        work = Path(name)
        setup = ceiling_setup(args, work, emulator.base_url)
        rows = export_rows(setup, work)
        contenders = ["floor", "fetch"]
        contenders += [f"{part}-{sink}" for part in ("imports", "sink") for sink in SINKS]
        for round_ in range(args.runs):
            start = round_ % len(contenders)
            for contender in contenders[start:] + contenders[:start]:
                with tempfile.TemporaryDirectory(prefix=f"cf-budget-{contender}-") as child:
                    folder = Path(child)
                    served_before = process_cpu_seconds(emulator.pid)
                    if contender in ("floor", "fetch"):
                        cmd, stdout = command_for("floor", setup, folder)
                        assert stdout is not None
                        if contender == "fetch":
                            cmd.append("--fetch-only")
                        wall, cpu, _ = run_child(cmd, stdout, folder / "stderr", setup.env)
                        if parse_floor(stdout) != args.documents:
                            raise RunFailed(f"{contender}: not every document")
                        served = process_cpu_seconds(emulator.pid) - served_before
                        note(f"{contender}-wall", wall)
                        note(f"{contender}-cpu", cpu)
                        note(f"{contender}-server", served)
                    elif contender.startswith("imports-"):
                        cmd = [sys.executable, "-c", IMPORTS[contender.removeprefix("imports-")]]
                        wall, cpu, _ = run_child(cmd, None, folder / "stderr", setup.env)
                        note(f"{contender}-cpu", cpu)
                    else:
                        kind = contender.removeprefix("sink-")
                        target = folder / ("out.duckdb" if kind == "duckdb" else "parquet")
                        cmd = sink_command(kind, rows, target, args.documents)
                        stdout = folder / "stdout"
                        run_child(cmd, stdout, folder / "stderr", setup.env)
                        wall, stored, cpu = parse_sink(stdout)
                        if stored != args.documents:
                            raise RunFailed(f"{contender}: stored {stored} documents")
                        note(f"{contender}-cpu", cpu)
                    print(f"  round {round_ + 1} {contender:16} {wall:6.2f} s", file=sys.stderr)

    def median(name: str) -> float:
        return statistics.median(measured[name])

    print(f"{args.documents:,} documents, {args.inboxes} inboxes, {args.runs} rounds, "
          f"{cores} cores; medians\n")  # fmt: skip
    print("| measured | seconds |")
    print("|---|---:|")
    print(f"| floor: wall | {median('floor-wall'):.2f} |")
    print(f"| floor: CPU of the child / of the emulator | {median('floor-cpu'):.2f} / "
          f"{median('floor-server'):.2f} |")  # fmt: skip
    print(f"| fetch only: CPU of the child / of the emulator | {median('fetch-cpu'):.2f} / "
          f"{median('fetch-server'):.2f} |")  # fmt: skip
    for sink in SINKS:
        imports, storing = median(f"imports-{sink}-cpu"), median(f"sink-{sink}-cpu")
        print(
            f"| {sink}: imports CPU / storing CPU (all threads) | {imports:.2f} / {storing:.2f} |"
        )
    print()
    print("| sink | least CPU an export needs (s) | least wall on "
          f"{cores} cores (s) | floor / 0.70 (s) | best ratio to the floor |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    verdicts = []
    for sink in SINKS:
        needs, best = [], []
        for round_ in range(args.runs):
            cpu = (
                measured["fetch-cpu"][round_] + measured["fetch-server"][round_]
                + measured[f"imports-{sink}-cpu"][round_] + measured[f"sink-{sink}-cpu"][round_]
            )  # fmt: skip
            needs.append(cpu)
            best.append(measured["floor-wall"][round_] / (cpu / cores))
        need, ratio = statistics.median(needs), statistics.median(best)
        print(f"| {sink} | {need:.2f} | {need / cores:.2f} | {median('floor-wall') / TARGET:.2f} "
              f"| {ratio:.2f} |")  # fmt: skip
        verdicts.append(
            f"- {sink}: at best {ratio:.2f} x the floor with parsing and normalizing free "
            f"({'under' if ratio < TARGET else 'not under'} the {TARGET:.2f} target)"
        )
    print()
    print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
