"""Performance harness: the connector's two read paths against the I/O floor, interleaved.

Usage (from the repository root, with the package importable, e.g. the project venv):

    python benchmarks/perf.py [--sizes 10000,100000] [--runs 3] [--inboxes 4] [--seed 42]
                              [--output FILE.md] [--check]

For each size the emulator starts in its own process with a fixed seed and clock and
`--prefill` (every document serialized into its byte cache, which is sized to hold them
all), so every run reads the same bytes from memory. The connector config has only the
base URL and the admin API key: page size 100 and concurrency 4 are the defaults of
`source_contractfit/config.py`. Four contenders read all documents of the tenant:

- floor: `benchmarks/floor.py`, plain httpx + orjson fetching the same pages with the same
  page size, concurrency and API key, and doing nothing else. It is the I/O floor of this
  machine (emulator serving + HTTP + JSON parsing); no connector can beat it, so the other
  contenders are reported as a ratio of it, which cancels most of the machine's speed.
- export-duckdb / export-parquet: `contractfit export --streams documents` (the document
  family) into a fresh DuckDB file / a fresh Parquet folder.
- protocol: `source-contractfit read` of the `documents` stream (full refresh), stdout to
  /dev/null (what Airbyte's platform would consume is not this harness's cost).

Method:

- One floor run is a discarded warm-up (it also renders anything the prefill has not yet
  cached), then one untimed protocol read writes its output to a file so the RECORD lines
  can be counted; then the harness waits until the emulator is idle.
- `--runs` rounds follow. Each round runs the four contenders once, in an order rotated by
  one each round (round r starts with contender r mod 4), so slow drift of the machine
  (thermal, other tenants, page cache) hits all contenders alike instead of one of them.
- Each contender is a child process started with `subprocess.Popen` and reaped with
  `os.wait4`, which returns that child's own resource usage: peak RSS (`ru_maxrss`, KiB on
  Linux) and user + system CPU seconds. `RUSAGE_CHILDREN` would mix up all children (and
  keep the maximum RSS of any of them); the emulator is a separate process and never
  counted. Wall time is measured around the child, interpreter start-up included (for the
  floor too).
- Each run is verified: exit code 0; the floor prints `DOCUMENTS n` with n = size; the
  exports hold `size` rows in their `documents` table (counted after the clock stopped).
- Reported per size and contender: median documents/s (size / wall), min-max, the ratio
  of the median to the floor's median and the median of the per-round ratios, peak RSS
  (max over the runs) and CPU seconds per 1,000 documents (median). Then the targets as
  PASS/FAIL lines: exports >= 0.70 x floor and >= 0.70 x protocol, protocol >= 0.50 x
  floor, and, with two sizes
  or more, peak RSS at the largest size <= 1.2 x the smallest and < 500 MB.

The Markdown report goes to stdout (progress goes to stderr); `--output` also writes it,
with the machine, the command line, the git revision and every run, to a file. The report
warns when the package sources changed during the run. `--check` exits 1 if a target
fails; a failed run (non-zero exit, wrong count) stops the harness with exit code 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from contractfit_emulator import ADMIN_API_KEY, EmulatorProcess
from source_contractfit.cli.demo import configured_catalog

REPO = Path(__file__).resolve().parents[1]
FLOOR_SCRIPT = REPO / "benchmarks" / "floor.py"
FIXED_NOW = "2026-01-01T00:00:00Z"
PAGE_SIZE = 100  # the connector's default page_size
CONCURRENCY = 4  # the connector's default max_concurrency
CONTENDERS: tuple[str, ...] = ("floor", "export-duckdb", "export-parquet", "protocol")
CONNECTORS = CONTENDERS[1:]
RATIO_TARGETS = {"export-duckdb": 0.70, "export-parquet": 0.70, "protocol": 0.50}
PROTOCOL_RATIO_TARGET = 0.70  # the exports against the protocol read too (issue 15)
RSS_GROWTH_LIMIT = 1.2
RSS_LIMIT_MB = 500.0
CACHE_BYTES_PER_DOCUMENT = 20 * 1024  # documents serialize to ~13 KB; 50% headroom
DEFAULT_CACHE_MB = 1536
RECORD_PREFIX = b'{"type":"RECORD"'


@dataclass(frozen=True)
class Run:
    """One timed (or untimed) child process."""

    contender: str
    size: int
    round: int
    wall: float
    cpu: float
    rss_kb: int

    @property
    def docs_per_s(self) -> float:
        return self.size / self.wall

    @property
    def rss_mb(self) -> float:
        return self.rss_kb / 1024


@dataclass(frozen=True)
class Setup:
    """What every contender of one size needs."""

    size: int
    base_url: str
    config: Path
    catalog: Path
    env: dict[str, str]


class RunFailed(RuntimeError):
    pass


# ------------------------------------------------------------------ child processes


def run_child(
    command: list[str], stdout: Path | None, stderr: Path, env: dict[str, str]
) -> tuple[float, float, int]:
    """Run `command` to completion; (wall seconds, user+sys CPU seconds, peak RSS KiB).

    `stdout=None` sends the child's stdout to /dev/null. Raises `RunFailed` on a non-zero
    exit, with the tail of the child's stderr.
    """
    out_target = str(stdout) if stdout is not None else os.devnull
    with open(out_target, "wb") as out, open(stderr, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=REPO, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4: tell Popen so it never waits again
    if code != 0:
        tail = stderr.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RunFailed(f"{shlex.join(command)} exited with {code}:\n{tail}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def floor_command(setup: Setup) -> list[str]:
    return [
        sys.executable, str(FLOOR_SCRIPT), setup.base_url,
        "--page-size", str(PAGE_SIZE), "--concurrency", str(CONCURRENCY),
    ]  # fmt: skip


def export_command(setup: Setup, sink: str, target: Path) -> list[str]:
    return [
        sys.executable, "-m", "source_contractfit.cli.main", "export",
        "--config", str(setup.config), f"--{sink}", str(target),
        "--streams", "documents", "--quiet",
    ]  # fmt: skip


def protocol_command(setup: Setup) -> list[str]:
    return [
        sys.executable, "-m", "source_contractfit.airbyte.run", "read",
        "--config", str(setup.config), "--catalog", str(setup.catalog),
    ]  # fmt: skip


def expect(contender: str, counted: int, size: int) -> None:
    if counted != size:
        raise RunFailed(f"{contender}: expected {size} documents, counted {counted}")


def count_duckdb(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM documents").fetchone()
    return int(row[0]) if row else 0


def count_parquet(folder: Path) -> int:
    pattern = str(folder / "documents" / "**" / "*.parquet").replace("'", "''")
    with duckdb.connect() as con:
        row = con.execute(
            f"SELECT count(*) FROM read_parquet('{pattern}', hive_partitioning = true)"
        ).fetchone()
    return int(row[0]) if row else 0


def count_protocol_records(path: Path) -> int:
    """RECORD lines of stream `documents` in a `read` output."""
    records = 0
    with open(path, "rb") as handle:
        for line in handle:
            if line.startswith(RECORD_PREFIX) and b'"stream":"documents"' in line[:200]:
                records += 1
    return records


def command_for(contender: str, setup: Setup, work: Path) -> tuple[list[str], Path | None]:
    """The command of `contender` writing into `work`, and where its stdout goes."""
    if contender == "floor":
        return floor_command(setup), work / "stdout"
    if contender == "export-duckdb":
        return export_command(setup, "duckdb", work / "out.duckdb"), None
    if contender == "export-parquet":
        return export_command(setup, "parquet", work / "parquet"), None
    if contender == "protocol":
        return protocol_command(setup), None  # stdout to /dev/null
    raise ValueError(contender)


def documents_written(contender: str, setup: Setup, work: Path) -> int:
    """What a finished run of `contender` delivered, counted after the clock stopped."""
    if contender == "floor":
        return parse_floor(work / "stdout")
    if contender == "export-duckdb":
        return count_duckdb(work / "out.duckdb")
    if contender == "export-parquet":
        return count_parquet(work / "parquet")
    return setup.size  # protocol: its output is counted once per size by verify_protocol()


def run_contender(contender: str, setup: Setup, round_: int) -> Run:
    """One timed, verified run of `contender` in a fresh temporary folder."""
    with tempfile.TemporaryDirectory(prefix=f"cf-perf-{contender}-") as folder:
        work = Path(folder)
        command, stdout = command_for(contender, setup, work)
        wall, cpu, rss_kb = run_child(command, stdout, work / "stderr", setup.env)
        try:
            expect(contender, documents_written(contender, setup, work), setup.size)
        except (RunFailed, duckdb.Error) as error:
            tail = (work / "stderr").read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RunFailed(f"{error}\n{shlex.join(command)} wrote to stderr:\n{tail}") from error
    return Run(contender, setup.size, round_, wall, cpu, rss_kb)


def parse_floor(stdout: Path) -> int:
    for line in stdout.read_text(encoding="utf-8").splitlines():
        if line.startswith("DOCUMENTS "):
            return int(line.split()[1])
    raise RunFailed(f"floor printed no DOCUMENTS line: {stdout.read_text()[-500:]!r}")


def verify_protocol(setup: Setup) -> Run:
    """An untimed protocol read whose output is kept and its document RECORDs counted."""
    with tempfile.TemporaryDirectory(prefix="cf-perf-protocol-check-") as folder:
        work = Path(folder)
        command = protocol_command(setup)
        wall, cpu, rss_kb = run_child(command, work / "stdout", work / "stderr", setup.env)
        expect("protocol (verification)", count_protocol_records(work / "stdout"), setup.size)
    return Run("protocol", setup.size, -1, wall, cpu, rss_kb)


# ------------------------------------------------------------------ emulator


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, timeout: float = 600.0) -> None:
    """Wait until the emulator (its prefill thread included) uses < 5% CPU for 1 s."""
    deadline = time.monotonic() + timeout
    before = process_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        after = process_cpu_seconds(pid)
        if after - before < 0.05:
            return
        before = after
    log(f"  emulator still busy after {timeout:.0f} s; measuring anyway")


# ------------------------------------------------------------------ orchestration


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def describe(run: Run, label: str) -> str:
    return (
        f"  {label:<12} {run.contender:<15} {run.wall:7.2f} s  {run.docs_per_s:9,.0f} docs/s  "
        f"CPU {run.cpu:6.2f} s  RSS {run.rss_mb:6.0f} MB"
    )


def select(chosen: list[str]) -> None:
    """Run only these contenders (in their usual order)."""
    global CONTENDERS, CONNECTORS
    CONTENDERS = tuple(chosen)
    CONNECTORS = CONTENDERS[1:]


def rotation(round_: int) -> list[str]:
    start = round_ % len(CONTENDERS)
    return list(CONTENDERS[start:] + CONTENDERS[:start])


def ceiling_parser(doc: str) -> argparse.ArgumentParser:
    """The options the ceiling scripts share (export_ceiling.py, sink_ceiling.py)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--inboxes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    return parser


def ceiling_setup(args: argparse.Namespace, work: Path, base_url: str) -> Setup:
    """A config of the emulator at `base_url` in `work`, for the ceiling scripts."""
    config = work / "config.json"
    credentials = {"auth_type": "api_key", "api_key": ADMIN_API_KEY}
    config.write_text(json.dumps({"base_url": base_url, "credentials": credentials}))
    return Setup(args.documents, base_url, config, work / "unused", child_env())


def prefilled_emulator(args: argparse.Namespace) -> EmulatorProcess:
    return EmulatorProcess(
        seed=args.seed, inboxes=args.inboxes, documents=args.documents, now=FIXED_NOW,
        cache_mb=DEFAULT_CACHE_MB, prefill=True, startup_timeout=600.0,
    )  # fmt: skip


def print_ratio_table(runs: list[Run], contenders: list[str], documents: int) -> None:
    """Per contender: median seconds, docs/s, median ratio to its round's floor, CPU."""
    floor = {r.round: r.wall for r in runs if r.contender == "floor"}
    print("| contender | seconds (median) | docs/s | × floor (per round) | CPU s / 1k docs |")
    print("|---|---:|---:|---:|---:|")
    for contender in contenders:
        mine = [r for r in runs if r.contender == contender]
        wall = statistics.median(r.wall for r in mine)
        ratio = statistics.median(floor[r.round] / r.wall for r in mine)
        cpu = statistics.median(r.cpu for r in mine) / documents * 1000
        print(f"| {contender} | {wall:.2f} | {documents / wall:,.0f} | {ratio:.2f} "
              f"| {cpu:.3f} |")  # fmt: skip


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def measure_size(size: int, args: argparse.Namespace) -> list[Run]:
    cache_mb = max(DEFAULT_CACHE_MB, math.ceil(size * CACHE_BYTES_PER_DOCUMENT / 2**20))
    log(f"{size:,} documents: emulator (seed {args.seed}, {args.inboxes} inboxes, "
        f"cache {cache_mb} MB, prefill)")  # fmt: skip
    emulator = EmulatorProcess(
        seed=args.seed,
        inboxes=args.inboxes,
        documents=size,
        now=FIXED_NOW,
        cache_mb=cache_mb,
        prefill=True,
        startup_timeout=600.0,
    )
    runs: list[Run] = []
    with emulator, tempfile.TemporaryDirectory(prefix="cf-perf-") as folder:
        config = Path(folder) / "config.json"
        catalog = Path(folder) / "catalog.json"
        config.write_text(
            json.dumps(
                {
                    "base_url": emulator.base_url,
                    "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY},
                }
            )
        )
        catalog.write_text(json.dumps(configured_catalog(["documents"])))
        setup = Setup(size, emulator.base_url, config, catalog, child_env())
        log(describe(run_contender("floor", setup, -1), "warm-up"))
        log(describe(verify_protocol(setup), "verification"))
        wait_idle(emulator.pid)
        for round_ in range(args.runs):
            for contender in rotation(round_):
                run = run_contender(contender, setup, round_)
                runs.append(run)
                log(describe(run, f"round {round_ + 1}"))
    return runs


# ------------------------------------------------------------------ report


@dataclass(frozen=True)
class Summary:
    contender: str
    size: int
    median: float
    low: float
    high: float
    ratio: float  # median docs/s / floor's median docs/s
    round_ratio: float  # median over rounds of (docs/s / that round's floor docs/s)
    rss_mb: float
    cpu_per_1k: float


def summarize(runs: list[Run]) -> list[Summary]:
    summaries = []
    for size in sorted({r.size for r in runs}):
        of_size = [r for r in runs if r.size == size]
        floor_by_round = {r.round: r.docs_per_s for r in of_size if r.contender == "floor"}
        floor_median = statistics.median(floor_by_round.values())
        for contender in CONTENDERS:
            mine = [r for r in of_size if r.contender == contender]
            rates = [r.docs_per_s for r in mine]
            median = statistics.median(rates)
            summaries.append(
                Summary(
                    contender=contender,
                    size=size,
                    median=median,
                    low=min(rates),
                    high=max(rates),
                    ratio=median / floor_median,
                    round_ratio=statistics.median(
                        r.docs_per_s / floor_by_round[r.round] for r in mine
                    ),
                    rss_mb=max(r.rss_mb for r in mine),
                    cpu_per_1k=statistics.median(1000 * r.cpu / r.size for r in mine),
                )
            )
    return summaries


def results_table(summaries: list[Summary]) -> list[str]:
    lines = [
        "| documents | contender | docs/s (median) | min–max | × floor | × floor (per round) "
        "| peak RSS MB | CPU s / 1k docs |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        lines.append(
            f"| {s.size:,} | {s.contender} | {s.median:,.0f} | {s.low:,.0f}–{s.high:,.0f} "
            f"| {s.ratio:.2f} | {s.round_ratio:.2f} | {s.rss_mb:,.0f} | {s.cpu_per_1k:.3f} |"
        )
    return lines


def targets(summaries: list[Summary]) -> list[tuple[bool, str]]:
    """(passed, description) for every checkable target."""
    by_key = {(s.contender, s.size): s for s in summaries}
    sizes = sorted({s.size for s in summaries})
    checks: list[tuple[bool, str]] = []
    for size in sizes:
        for contender, minimum in RATIO_TARGETS.items():
            if (contender, size) not in by_key:  # not among --contenders
                continue
            ratio = by_key[(contender, size)].ratio
            checks.append(
                (ratio >= minimum, f"{contender} at {size:,}: {ratio:.2f} × floor >= {minimum:.2f}")
            )
        protocol = by_key.get(("protocol", size))
        for contender in ("export-duckdb", "export-parquet"):
            export = by_key.get((contender, size))
            if protocol is None or export is None:
                continue
            ratio = export.median / protocol.median
            checks.append(
                (
                    ratio >= PROTOCOL_RATIO_TARGET,
                    f"{contender} at {size:,}: {ratio:.2f} × protocol "
                    f">= {PROTOCOL_RATIO_TARGET:.2f}",
                )
            )
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        for contender in CONNECTORS:
            if (contender, small) not in by_key:
                continue
            rss_small = by_key[(contender, small)].rss_mb
            rss_large = by_key[(contender, large)].rss_mb
            growth = rss_large / rss_small
            checks.append(
                (
                    growth <= RSS_GROWTH_LIMIT,
                    f"{contender} peak RSS {large:,} / {small:,}: {rss_large:,.0f} / "
                    f"{rss_small:,.0f} MB = {growth:.2f} <= {RSS_GROWTH_LIMIT:.1f}",
                )
            )
            checks.append(
                (
                    rss_large < RSS_LIMIT_MB,
                    f"{contender} peak RSS at {large:,}: {rss_large:,.0f} MB "
                    f"< {RSS_LIMIT_MB:.0f} MB",
                )
            )
    return checks


def runs_table(runs: list[Run]) -> list[str]:
    lines = [
        "| documents | round | contender | seconds | docs/s | CPU s | peak RSS MB |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r.size:,} | {r.round + 1} | {r.contender} | {r.wall:.2f} | {r.docs_per_s:,.0f} "
            f"| {r.cpu:.2f} | {r.rss_mb:,.0f} |"
        )
    return lines


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def code_fingerprint() -> str:
    """Digest of the package sources, to notice code that changed during a run."""
    digest = hashlib.sha256()
    sources = [
        *(REPO / "source_contractfit").rglob("*.py"),
        *(REPO / "source_contractfit").rglob("*.c"),
    ]
    for path in sorted(sources):
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def git_revision() -> str:
    """`<commit>` or `<commit> + uncommitted changes`, or `unknown` outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "source_contractfit", "benchmarks"],
            cwd=REPO, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} + uncommitted changes" if dirty else commit


def environment(args: argparse.Namespace, elapsed: float, fingerprint: str) -> list[str]:
    uname = platform.uname()
    command = shlex.join(["python", *sys.argv])
    return [
        f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')}",
        f"- machine: {uname.system} {uname.release} {uname.machine}; CPU {cpu_model()}, "
        f"{os.cpu_count()} cores",
        f"- Python {platform.python_version()} ({sys.executable})",
        f"- command: `{command}` ({elapsed / 60:.1f} minutes)",
        f"- code: {git_revision()}; sources sha256 {fingerprint}",
        f"- emulator: seed {args.seed}, {args.inboxes} inboxes, now {FIXED_NOW}, prefilled; "
        f"page size {PAGE_SIZE}, concurrency {CONCURRENCY}; {args.runs} interleaved rounds",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated totals")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds (>= 1)")
    parser.add_argument("--inboxes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", metavar="FILE.md", help="also write the report here")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target fails")
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help="comma-separated subset to run (the floor always runs: it is the baseline)",
    )
    args = parser.parse_args()
    chosen = [c for c in CONTENDERS if c == "floor" or c in args.contenders.split(",")]
    select(chosen)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not sizes or min(sizes) < 1 or args.runs < 1:
        parser.error("--sizes needs positive integers and --runs must be >= 1")

    started = time.perf_counter()
    fingerprint = code_fingerprint()
    runs: list[Run] = []
    try:
        for size in sizes:
            runs += measure_size(size, args)
    except RunFailed as error:
        log(f"FAILED: {error}")
        return 2
    elapsed = time.perf_counter() - started
    changed = code_fingerprint() != fingerprint

    summaries = summarize(runs)
    checks = targets(summaries)
    report = ["## Results", "", *results_table(summaries), "", "## Targets", ""]
    report += [f"- {'PASS' if ok else 'FAIL'} {text}" for ok, text in checks]
    if changed:
        report += ["", "**Warning:** `source_contractfit/` changed during the run; rerun."]
    print("\n".join(report))
    log(f"done in {elapsed:.0f} s")
    if args.output:
        document = [
            "# Contract.fit connector performance",
            "",
            *environment(args, elapsed, fingerprint),
            "",
            *report,
            "",
            "## Runs",
            "",
            *runs_table(runs),
            "",
        ]
        Path(args.output).write_text("\n".join(document), encoding="utf-8")
        log(f"wrote {args.output}")
    return 1 if args.check and not all(ok for ok, _ in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
