"""Parallel windows behind a slow server: the export against the parallel page floor.

Usage: python benchmarks/windows.py [--runs 3] [--latency-ms 100] [--latency-per-doc-ms 2]
                                    [--documents 10000] [--seed 42]

Issue 16's target. The emulator adds `--latency-ms` to every answer and
`--latency-per-doc-ms` per Document served (300 ms for a page of 100 at the defaults), each
answer in its own thread. Two tenants, each a prefilled emulator process with a fixed seed
and clock:

- one inbox of `--documents` documents: `contractfit export --duckdb --streams documents`
  with `max_concurrency` 4 and 8, each against the parallel page floor at the same
  concurrency (`floor.py --all-pages`: page 1 for the `total`, then every page of a static
  snapshot that many at a time, parsed and dropped); and the serial walk of today
  (`parallel_windows` off) at concurrency 4 for reference;
- 4 inboxes of `--documents / 4`: the export at concurrency 4 with and without parallel
  windows (the target: no slower than today);
- a burst-heavy inbox of `--documents` (90% of them uploaded in batches sharing one
  receive time, `--burst-share 0.9`): the export at concurrency 8 with and without
  parallel windows, for the documents served per document emitted.

Rounds are interleaved (each round runs every contender once, the order rotated). Each
run's documents served and requests come from the emulator's counters (reset before the
run): served per document emitted, and probes (the requests of one document,
`per_page=1`) against the pages read. Each export's `documents` table must hold every
document of the tenant once. Prints a Markdown table of medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from contractfit_emulator import ADMIN_API_KEY, EmulatorProcess

REPO = Path(__file__).resolve().parents[1]
FLOOR = REPO / "benchmarks" / "floor.py"
FIXED_NOW = "2026-01-01T00:00:00Z"
PAGE_SIZE = 100
BURST_HEAVY = 0.9  # the emulator's default is 0.3 (`--burst-share`)


@dataclass(frozen=True)
class Contender:
    name: str
    kind: str  # "floor" or "export"
    concurrency: int
    parallel_windows: bool = True


@dataclass(frozen=True)
class Run:
    contender: str
    wall: float
    documents: int
    served: int
    pages: int
    probes: int


def run(contender: Contender, emulator: EmulatorProcess, work: Path) -> Run:
    emulator.control.reset_requests()
    if contender.kind == "floor":
        command = [
            sys.executable, str(FLOOR), emulator.base_url, "--all-pages",
            "--page-size", str(PAGE_SIZE), "--concurrency", str(contender.concurrency),
        ]  # fmt: skip
    else:
        config = work / f"{contender.name}.json"
        config.write_text(
            json.dumps(
                {
                    "base_url": emulator.base_url,
                    "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY},
                    "max_concurrency": contender.concurrency,
                    "parallel_windows": contender.parallel_windows,
                }
            )
        )
        target = work / f"{contender.name}.duckdb"
        target.unlink(missing_ok=True)
        command = [
            sys.executable, "-m", "source_contractfit.cli.main", "export", "--config",
            str(config), "--duckdb", str(target), "--streams", "documents", "--quiet",
        ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{contender.name} failed ({done.returncode}): {done.stderr[-2000:]}")
    if contender.kind == "floor":
        documents = int(done.stdout.split("DOCUMENTS", 1)[1].split()[0])
    else:
        with duckdb.connect(str(target), read_only=True) as con:
            row = con.execute("SELECT count(*), count(DISTINCT id) FROM documents").fetchone()
        assert row is not None
        if row[0] != row[1]:
            raise SystemExit(f"{contender.name}: {row[0]} rows for {row[1]} documents")
        documents = int(row[0])
    counters = emulator.control.requests()
    pages = sum(
        n
        for key, statuses in counters["requests"].items()
        if key.endswith("/paginated")
        for n in statuses.values()
    )
    probes = int(counters["paginated_per_page"].get("1", 0))
    return Run(contender.name, wall, documents, int(counters["documents_served"]), pages, probes)


def measure(
    label: str,
    contenders: list[Contender],
    args: argparse.Namespace,
    inboxes: int,
    burst_share: float | None = None,
) -> list[str]:
    emulator = EmulatorProcess(
        seed=args.seed, inboxes=inboxes, documents=args.documents, now=FIXED_NOW,
        cache_mb=2048, prefill=True, latency_ms=args.latency_ms,
        latency_per_doc_ms=args.latency_per_doc_ms, burst_share=burst_share,
        startup_timeout=600.0,
    )  # fmt: skip
    runs: list[Run] = []
    with emulator, tempfile.TemporaryDirectory(prefix="cf-windows-") as folder:
        time.sleep(2.0)  # let the prefill finish rendering
        run(contenders[0], emulator, Path(folder))  # warm-up, discarded
        for round_ in range(args.runs):
            shift = round_ % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                result = run(contender, emulator, Path(folder))
                if result.documents != args.documents:
                    raise SystemExit(f"{contender.name}: {result.documents} documents")
                runs.append(result)
                print(f"  {label} round {round_ + 1} {contender.name:<28} {result.wall:6.2f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
    return table(label, contenders, runs)


def table(label: str, contenders: list[Contender], runs: list[Run]) -> list[str]:
    lines = [
        f"**{label}**",
        "",
        "| contender | wall s (median) | min–max | × its floor | served / emitted "
        "| requests | probes |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    walls = {
        c.name: statistics.median(r.wall for r in runs if r.contender == c.name) for c in contenders
    }
    for contender in contenders:
        mine = [r for r in runs if r.contender == contender.name]
        floor = f"floor c={contender.concurrency}"
        ratio = f"{walls[floor] / walls[contender.name]:.2f}" if floor in walls else "–"
        served = statistics.median(r.served / r.documents for r in mine)
        lines.append(
            f"| {contender.name} | {walls[contender.name]:.2f} | "
            f"{min(r.wall for r in mine):.2f}–{max(r.wall for r in mine):.2f} | {ratio} | "
            f"{served:.3f} | {statistics.median(r.pages for r in mine):.0f} | "
            f"{statistics.median(r.probes for r in mine):.0f} |"
        )
    return [*lines, ""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--latency-per-doc-ms", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    one = [
        Contender("floor c=4", "floor", 4),
        Contender("export c=4", "export", 4),
        Contender("floor c=8", "floor", 8),
        Contender("export c=8", "export", 8),
        Contender("export c=4, serial walk", "export", 4, parallel_windows=False),
    ]
    four = [
        Contender("export c=4", "export", 4),
        Contender("export c=4, serial walk", "export", 4, parallel_windows=False),
    ]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out = [
        f"`python benchmarks/windows.py --runs {args.runs} --documents {args.documents}` "
        f"({started}; latency {args.latency_ms:g} ms + {args.latency_per_doc_ms:g} ms a "
        f"document; medians of {args.runs} interleaved rounds)",
        "",
    ]
    out += measure(f"1 inbox × {args.documents:,}", one, args, 1)
    out += measure(f"4 inboxes × {args.documents // 4:,}", four, args, 4)
    bursts = [
        Contender("export c=8", "export", 8),
        Contender("export c=8, serial walk", "export", 8, parallel_windows=False),
    ]
    label = f"1 inbox × {args.documents:,}, {BURST_HEAVY:.0%} of them in bursts sharing one instant"
    out += measure(label, bursts, args, 1, burst_share=BURST_HEAVY)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
