"""`contractfit export`: the engine's streams straight into DuckDB and/or Parquet.

The same config file and the same engine as the Airbyte source; the state stored with
the data is the Airbyte state blob. Between two checkpoints the rows are normalized to
Arrow and buffered; at a checkpoint they are committed to every sink together with the
state that covers them (once enough rows or time have gathered: CHECKPOINT_COMMIT_*) and
made durable at least every DURABLE_COMMIT_SECONDS, so a crash anywhere resumes exactly
where the durable data ends. Commits are stored by a
background thread (committer.py) while the next rows are read.
"""

from __future__ import annotations

from source_contractfit.extras import require

# Before the imports of pyarrow and DuckDB below: one line naming the extra if missing.
require("source_contractfit.export.exporter", "export")

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

from source_contractfit.api.client import ContractfitClient
from source_contractfit.api.errors import ConfigError, ContractfitError, FailureKind, failed_streams
from source_contractfit.api.redact import RedactingFilter, Redactor
from source_contractfit.cli.output import say
from source_contractfit.cli.progress import Progress
from source_contractfit.config import (
    NOT_AN_OBJECT,
    ConnectorConfig,
    FileMessages,
    load_config_file,
)
from source_contractfit.export.committer import Committer
from source_contractfit.export.normalize import (
    SCHEMA_VERSION,
    TABLES,
    Normalizer,
    lazy,
    primary_keys,
)
from source_contractfit.export.normalize.schemas import SNAPSHOT_TABLES
from source_contractfit.export.sinks import Commit, Sink, StoredState
from source_contractfit.export.sinks.parquet_files import refuse_a_file
from source_contractfit.read.context import ReadContext
from source_contractfit.read.engine import plan, read_unit
from source_contractfit.read.events import Checkpoint, Record
from source_contractfit.read.gc_tuning import CollectEvery, tune_gc
from source_contractfit.streams.base import StreamDef
from source_contractfit.streams.catalog import select_streams

logger = logging.getLogger("source_contractfit.export.exporter")
INTERRUPTED = "contractfit export: interrupted; the last committed state is kept."
EXIT_CODES = {FailureKind.CONFIG: 2, FailureKind.TRANSIENT: 3, FailureKind.SYSTEM: 1}
# Rows buffered before a data-only commit: bounds memory between two checkpoints (about
# 2,500 documents; fields and line_items rows are Arrow buffers, ~100 bytes a row). Fewer,
# larger commits store faster (perf.py: 50k rows cost ~10% more time at 10k documents).
MAX_BUFFERED_ROWS = 200_000
# ... asked every this many records: the sum over some twenty buffers, asked after every
# document, was 4% of the main thread's calls (cProfile, 10k export); a bound overshot by
# 32 documents (~3k rows) bounds memory as well.
BUFFER_CHECK_RECORDS = 32
# A checkpoint is committed once this many rows wait, or this long after the last commit;
# until then its state rides in the pending commit (a later state covers the earlier ones).
# Each commit costs the sinks a file per table and partition (Parquet) or a transaction
# (DuckDB): the engine checkpoints every 1,000 documents, a commit then held ~80k rows.
CHECKPOINT_COMMIT_ROWS = 100_000
CHECKPOINT_COMMIT_SECONDS = 10.0
# A commit is durable (DuckDB: its transaction COMMITs) once this long after the last
# durable one, and at the end of a unit; the commits between ride in its transaction.
# A crash loses at most this much reading; COMMIT (which, before the DuckDB sink's small
# row groups, checkpointed every table it touched) then costs once per this interval.
DURABLE_COMMIT_SECONDS = 10.0
# ... and once the commits it would hold reach this many rows: DuckDB keeps a transaction's
# appended rows in memory until COMMIT. With only the time bound, a 10k-document export
# rode in one transaction and peaked at 515-537 MB (445-460 MB with a COMMIT per commit),
# a 100k one at 973 MB (479 MB); a bound of 300k rows still gave 520 MB at 100k. So a commit
# of CHECKPOINT_COMMIT_ROWS is durable at once and only smaller ones (slow streams,
# commits due by time) share a transaction.
DURABLE_COMMIT_ROWS = 100_000


@dataclass
class ExportResult:
    records: dict[str, int] = field(default_factory=dict)
    documents: int = 0
    document_seconds: float = 0.0
    commits: int = 0
    seconds: float = 0.0
    requests: int = 0
    drift: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    # Documents the fast path left to the Python specification (same rows, slower).
    fallbacks: int = 0
    # Streams that failed while the others were exported; the run then exits non-zero.
    failed: ContractfitError | None = None


# The exporter's words for a config file it cannot use; the loader is `load_config_file`.
CONFIG_FILE_MESSAGES = FileMessages(
    missing="Config file {path} does not exist.",
    unreadable="Config file {path} is not readable JSON: {error}.",
    not_an_object=NOT_AN_OBJECT,
)


def export_streams(names: Sequence[str] | None) -> list[StreamDef]:
    """The streams `--streams` names (default: all), as `catalog.select_streams` selects
    them; a derived document stream means `documents`, whose Documents the normalizer
    turns into every document table."""
    requested = [(name, False) for name in names] if names else None
    return select_streams(requested, derived_via_source=True)[0]


def check_sink_paths(duckdb_path: str | None, parquet_dir: str | None) -> None:
    """The checks a path fails without creating anything, made before the first request:
    a run refused for its paths touches neither the network nor the disk."""
    if not duckdb_path and not parquet_dir:
        raise ConfigError("Give at least one sink: --duckdb FILE and/or --parquet DIR.")
    if duckdb_path:
        path = Path(duckdb_path)
        if path.is_dir():
            raise ConfigError(f"--duckdb {path} is a directory, not a DuckDB file.")
        if not path.parent.is_dir():
            raise ConfigError(f"--duckdb {path}: the folder {path.parent} does not exist.")
    if parquet_dir:
        refuse_a_file(Path(parquet_dir))


def open_sinks(duckdb_path: str | None, parquet_dir: str | None) -> list[Sink]:
    """The sinks asked for. Each one's module is imported here, only when it is used: a
    DuckDB export needs neither pyarrow.compute nor pyarrow.parquet, a Parquet export not
    duckdb (about 60 ms of a process's start each)."""
    check_sink_paths(duckdb_path, parquet_dir)
    if parquet_dir:
        from source_contractfit.export.sinks.parquet_sink import ParquetSink
    keys = primary_keys()
    # The Parquet folder is checked (a file, not writable: exit 2) before the DuckDB file
    # is opened; whatever was opened is closed again when the other cannot be.
    parquet = ParquetSink(parquet_dir, TABLES, keys, SCHEMA_VERSION) if parquet_dir else None
    sinks: list[Sink] = []
    try:
        if duckdb_path:
            from source_contractfit.analytics.views import install_in_file
            from source_contractfit.export.sinks.duckdb_sink import DuckDBSink

            duck = DuckDBSink(duckdb_path, TABLES, keys, SCHEMA_VERSION)
            sinks.append(duck)
            # The views live in the file beside the data: dashboards and `contractfit sql`
            # read them.
            install_in_file(duck.con)
    except BaseException:
        for sink in [*sinks, *([parquet] if parquet else [])]:
            sink.close()
        raise
    if parquet is not None:
        sinks.append(parquet)
    return sinks


class Exporter:
    def __init__(
        self,
        config: ConnectorConfig,
        open_sinks: Callable[[], list[Sink]],
        streams: list[StreamDef],
        progress: Progress,
        full_refresh: bool = False,
        redactor: Redactor | None = None,
    ) -> None:
        self.config = config
        self.redactor = redactor
        self.open_sinks = open_sinks
        # Opened once the API has answered: a run refused at login (a wrong password)
        # leaves no new DuckDB file or Parquet folder behind.
        self.sinks: list[Sink] = []
        # Stores commits while the next ones are read; drained at the end of each unit.
        self.committer: Committer[tuple[Commit, int]] | None = None
        self._pending: Commit | None = None  # states and rows not committed yet
        self._sequence = 0  # the last commit's sequence (a failed unit's commits count)
        self._staged = False  # a commit not durable yet was submitted since the last durable
        self._staged_rows = 0  # rows of the commits submitted since the last durable one
        self._last_durable = time.monotonic()
        self.collector = CollectEvery()  # automatic GC off while run() reads
        self.streams = streams
        self.progress = progress
        self.full_refresh = full_refresh
        self.result = ExportResult()

    def _starting_state(self) -> tuple[int, dict[str, Any]]:
        """The state every sink holds the data for, made every sink's state before the
        first read (`agreed_state`).

        Sinks disagree after a crash between two sinks' commits, or when DuckDB loses the
        commits its open transaction held. Reading on from the older state without telling
        the other sink let the two drift apart for good: Parquet missed the documents
        commit, the next run committed only metadata before it was killed too, both then
        stood at the same sequence, and the run after took DuckDB's state, so Parquet
        never received the documents (kill -9 test, 2 runs in 5)."""
        stored = [sink.load_state() for sink in self.sinks]
        sequence = max(s.sequence for s in stored)
        first = stored[0].streams
        if all(s.streams == first for s in stored[1:]):
            return sequence, dict(first)
        states = agreed_state(stored)
        sequence += 1
        # The sinks behind last: should this be cut short, one that was ahead and is not
        # rewritten yet must not become the lowest and lend the next run its newer state.
        order = sorted(range(len(stored)), key=lambda i: stored[i].sequence, reverse=True)
        for i in order:
            self.sinks[i].replace_state(states, sequence)
        return sequence, states

    def run(self) -> ExportResult:
        started = time.monotonic()
        failures: dict[str, ContractfitError] = {}
        drift: Counter[str] = Counter()
        with ContractfitClient(self.config, redactor=self.redactor) as client, self.collector:
            context = ReadContext(self.config, client, decode_pages=lazy.decoder())
            try:
                projects = {
                    i["id"]: str(i["project"]) for i in context.inboxes() if i.get("project")
                }
                self.sinks = self.open_sinks()
                self.committer = Committer(self._apply)
                if self.full_refresh:
                    for sink in self.sinks:
                        sink.reset(set(TABLES))
                sequence, states = self._starting_state()
                for unit in plan(self.streams):
                    # One normalizer per unit: a failed unit's buffered rows are dropped
                    # with it, never committed as if the stream were complete.
                    normalizer = Normalizer(inbox_projects=projects)
                    try:
                        read = partial(self._read_unit, unit, context, normalizer, states, sequence)
                        sequence = self._stored(unit, read)
                    except ContractfitError as error:
                        if error.stops_run:
                            raise
                        names = ", ".join(s.name for s in unit)
                        logger.warning("Stream(s) %s failed: %s", names, error.message)
                        failures.update(dict.fromkeys((s.name for s in unit), error))
                    drift.update(normalizer.drift)
                    self.result.rejected += normalizer.rejected
                    self.result.fallbacks += normalizer.fallbacks
            except BaseException as error:
                if self.committer is not None:  # queued commits are stored unless interrupted
                    self.committer.close(apply_queued=not interrupted(error))
                raise
            finally:
                if self.committer is not None:
                    self.committer.close()
                context.close()
            self.result.requests = client.stats.requests
        for sink in self.sinks:
            compact = getattr(sink, "compact", None)  # Parquet's many small files
            if compact is not None:
                compact()
        self.result.seconds = time.monotonic() - started
        self.result.drift = dict(drift)
        if failures:
            self.result.failed = failed_streams(failures, len(self.streams))
        return self.result

    def _stored(self, unit: list[StreamDef], read: Callable[[], int]) -> int:
        """Run `read` (one unit's `_read_unit`) and wait until what it committed is
        stored; returns the last commit's sequence number."""
        committer = self.committer
        assert committer is not None
        unit_started = time.monotonic()
        try:
            sequence = read()
        except BaseException as error:
            if not interrupted(error):
                self._settle(committer)  # commits made before the failure are stored
            raise
        committer.drain()  # raises the unit's failure if its data could not be stored
        if any(not stream.has_table for stream in unit):
            self.result.document_seconds += time.monotonic() - unit_started
        return sequence

    def _read_unit(
        self,
        unit: list[StreamDef],
        context: ReadContext,
        normalizer: Normalizer,
        states: dict[str, Any],
        sequence: int,
    ) -> int:
        # A unit of document streams knows, once every inbox's walk started, how many
        # documents it reads in all (their first pages' totals): the line shows an ETA.
        documents = any(not stream.has_table for stream in unit)
        expected = context.expected_documents if documents else None
        self.progress.stream(", ".join(s.name for s in unit), expected)
        try:
            sequence, commit = self._read_items(unit, context, normalizer, states, sequence)
        except ContractfitError:
            # The states gathered since the last commit cover rows in the buffers: store
            # them (with every row buffered, which no state claims yet, as a data-only
            # commit does), durably, so a failed stream keeps each checkpoint it reached.
            if self._pending is not None and (self._pending.states or self._staged):
                self._commit(self._pending, normalizer, sequence)
            raise
        for stream in unit:
            if stream.name in SNAPSHOT_TABLES:
                commit.snapshots.add(stream.name)
        return self._commit(commit, normalizer, sequence)

    def _read_items(
        self,
        unit: list[StreamDef],
        context: ReadContext,
        normalizer: Normalizer,
        states: dict[str, Any],
        sequence: int,
    ) -> tuple[int, Commit]:
        """Read the unit's items into `normalizer`, committing at checkpoints as they fall
        due; returns the sequence and the commit still pending (`self._pending` too)."""
        # Streams without a table of their own carry whole Documents (the selection reads
        # `documents`, never the streams derived from it): they feed the document tables.
        documents = {stream.name for stream in unit if not stream.has_table}
        commit = self._pending = Commit()
        last_commit = time.monotonic()
        unchecked = 0  # records added since the buffers' size was last asked
        for item in read_unit(unit, context, states):
            if isinstance(item, Record):
                self.result.records[item.stream] = self.result.records.get(item.stream, 0) + 1
                if item.stream in documents:
                    normalizer.add_document(item.data)
                    commit.document_ids.add(str(item.data.get("id")))
                    self.result.documents += 1
                else:
                    normalizer.add_record(item.stream, item.data)
                self.progress.advance(sum(self.result.records.values()), self.result.documents)
                unchecked += 1
                if unchecked < BUFFER_CHECK_RECORDS:
                    continue
                unchecked = 0
                if normalizer.buffered_rows() >= MAX_BUFFERED_ROWS:
                    sequence = self._commit(
                        commit, normalizer, sequence, self._durable_due(normalizer.buffered_rows())
                    )
                    commit = self._pending = Commit()
                    last_commit = time.monotonic()
            elif isinstance(item, Checkpoint):
                commit.states[item.stream] = item.state
                states[item.stream] = item.state
                waited = time.monotonic() - last_commit
                if (
                    normalizer.buffered_rows() >= CHECKPOINT_COMMIT_ROWS
                    or waited >= CHECKPOINT_COMMIT_SECONDS
                ):
                    sequence = self._commit(
                        commit, normalizer, sequence, self._durable_due(normalizer.buffered_rows())
                    )
                    commit = self._pending = Commit()
                    last_commit = time.monotonic()
        return sequence, commit

    def _durable_due(self, rows: int) -> bool:
        """Whether the commit about to be made, of `rows` rows, is to be durable."""
        return (
            time.monotonic() - self._last_durable >= DURABLE_COMMIT_SECONDS
            or self._staged_rows + rows >= DURABLE_COMMIT_ROWS
        )

    def _commit(
        self, commit: Commit, normalizer: Normalizer, sequence: int, durable: bool = True
    ) -> int:
        for table, batch in normalizer.flush():
            commit.add(table, batch)
        self._pending = None
        commit.durable = durable
        # An empty durable commit still ends the transaction of the ones staged before it.
        if commit.empty() and not (durable and self._staged):
            return sequence
        sequence = max(sequence, self._sequence) + 1
        self._sequence = sequence
        self._staged = not durable
        self._staged_rows = 0 if durable else self._staged_rows + commit.rows()
        if durable:
            self._last_durable = time.monotonic()
        assert self.committer is not None
        self.committer.submit((commit, sequence))
        self.collector.committed(len(commit.document_ids))
        return sequence

    @staticmethod
    def _settle(committer: Committer[tuple[Commit, int]]) -> None:
        """Store what a failed unit committed before its failure; a storage failure
        among those is logged (the unit's own failure is the one reported)."""
        try:
            committer.drain()
        except Exception as error:  # noqa: BLE001 - the first failure is reported
            logger.warning("Storing the last commits failed too: %s", error)

    def _apply(self, item: tuple[Commit, int]) -> None:
        """One commit into every sink (in the committer's thread)."""
        commit, sequence = item
        for sink in self.sinks:
            sink.apply(commit, sequence)
        self.result.commits += 1


def use_jemalloc() -> None:
    """Arrow's buffers from jemalloc rather than pyarrow's default (mimalloc), unless the
    user chose a pool (ARROW_DEFAULT_MEMORY_POOL). A 100k-document Parquet export peaked
    at 471-484 MB with mimalloc and 421-422 MB with jemalloc, at the same speed (two runs
    each, interleaved): mimalloc keeps more freed memory of the per-commit tables."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    # A pyarrow built without jemalloc raises NotImplementedError: it keeps its default.
    with contextlib.suppress(NotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())


def run_export(
    config_path: str,
    duckdb_path: str | None,
    parquet_dir: str | None,
    streams: Sequence[str] | None,
    full_refresh: bool,
    quiet: bool = False,
    verbose: bool = False,
) -> int:
    tune_gc()
    use_jemalloc()
    # The one redactor of the run: the client adds what it derives (the Basic token, JWTs),
    # and the logs, the error line and the summary are masked with it.
    redactor = Redactor()
    _configure_logging(redactor, quiet, verbose)
    exporter: Exporter | None = None
    sigint = SigintSeen()
    try:
        sigint.install()
        config = load_config_file(config_path, CONFIG_FILE_MESSAGES)
        redactor.add(*config.credentials.secrets())
        selected = export_streams(streams)
        check_sink_paths(duckdb_path, parquet_dir)
        with Progress(enabled=not quiet) as progress:
            exporter = Exporter(
                config,
                lambda: open_sinks(duckdb_path, parquet_dir),
                selected,
                progress,
                full_refresh,
                redactor,
            )
            result = exporter.run()
    except ContractfitError as error:
        if sigint.seen:  # a library's error made of the KeyboardInterrupt
            print(INTERRUPTED, file=sys.stderr)
            return 130
        print(f"contractfit export: {redactor.mask(error.message)}", file=sys.stderr)
        return EXIT_CODES[error.kind]
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - one readable line, never a bare traceback
        if sigint.seen or interrupted(error):  # SIGINT inside DuckDB: DuckDB's own exception
            print(INTERRUPTED, file=sys.stderr)
            return 130
        logger.debug("unexpected error", exc_info=True)
        message = redactor.mask(f"{type(error).__name__}: {error}")
        print(f"contractfit export: unexpected error ({message}).", file=sys.stderr)
        return 1
    finally:
        for sink in exporter.sinks if exporter is not None else []:
            sink.close()
        sigint.restore()
    # Everything is committed and the sinks are closed: a closed stdout (`| head`) can only
    # cut the summary short, never change the exit code or hide the failure line below.
    if not quiet:
        print_summary(result)
    if result.failed is not None:
        print(f"contractfit export: {redactor.mask(result.failed.message)}", file=sys.stderr)
        return EXIT_CODES[result.failed.kind]
    return 0


def agreed_state(stored: Sequence[StoredState]) -> dict[str, Any]:
    """Per stream, the state every sink holds the data for, when the sinks disagree.

    The sink with the lowest sequence missed the newest commits (every commit goes to
    every sink, in order), so its state of each stream is the older one. A stream some
    sink holds no state for is read anew, and so is one that sinks at the lowest sequence
    disagree on (possible only for sinks written before starts agreed their states): the
    sinks replace the rows read again, so reading anew costs time, never data."""
    lowest = min(s.sequence for s in stored)
    behind = [s.streams for s in stored if s.sequence == lowest]
    return {
        stream: blob
        for stream, blob in behind[0].items()
        if all(stream in s.streams for s in stored)
        and all(other[stream] == blob for other in behind[1:])
    }


def interrupted(error: BaseException) -> bool:
    """Whether `error` is SIGINT arriving inside a DuckDB statement: DuckDB turns the
    KeyboardInterrupt into its InterruptException, a RuntimeError "Query interrupted"
    (DuckDB 2.0), or, inside an Arrow scan, an InvalidInputException whose text names the
    KeyboardInterrupt; possibly wrapped by our own errors."""
    # Without duckdb imported (a Parquet export), no error can be one of its own.
    duckdb = sys.modules.get("duckdb")
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, KeyboardInterrupt):
            return True
        if duckdb is not None and isinstance(current, duckdb.InterruptException):
            return True
        if isinstance(current, RuntimeError) and str(current).startswith("Query interrupted"):
            return True
        if (
            duckdb is not None
            and isinstance(current, duckdb.Error)
            and ("KeyboardInterrupt" in str(current))
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


class SigintSeen:
    """The default SIGINT behaviour (KeyboardInterrupt), remembering that it happened:
    whatever an interrupted library makes of the KeyboardInterrupt, the run then ends
    with the "interrupted" line and exit 130."""

    def __init__(self) -> None:
        self.seen = False
        self._previous: Any = None

    def install(self) -> None:
        """Handle SIGINT from now on (only the main thread may set a handler)."""
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def restore(self) -> None:
        """Put back the handler `install` replaced."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def summary_lines(result: ExportResult) -> list[str]:
    rate = result.documents / result.document_seconds if result.document_seconds else 0.0
    lines = [
        f"Exported {sum(result.records.values()):,} records in {result.seconds:.1f}s with "
        f"{result.requests:,} requests and {result.commits} commits; documents: "
        f"{result.documents:,} at {rate:,.0f}/s."
    ]
    lines += [f"  {stream:<28} {count:>9,}" for stream, count in sorted(result.records.items())]
    if result.rejected:
        lines.append(f"{result.rejected} record(s) could not be normalized: see the rejects table.")
    if result.fallbacks:
        lines.append(
            f"{result.fallbacks:,} document(s) of a shape the fast path leaves to the Python "
            "normalizer (unknown keys, unexpected types): same rows, slower."
        )
    if result.drift:
        lines.append("Schema drift: keys the declared schemas do not know (kept in `extra`):")
        lines += [f"  {key:<40} {count:>9,}" for key, count in sorted(result.drift.items())]
    return lines


def print_summary(result: ExportResult) -> bool:
    """Print the summary on stdout; False when its reader closed stdout (`| head`)."""
    return all(say(line) for line in summary_lines(result))


def _configure_logging(redactor: Redactor, quiet: bool, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(redactor))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("source_contractfit")
    root.handlers[:] = [handler]
    root.propagate = False
    # --quiet is errors only: retry warnings are noise when the run ends well, and when it
    # does not, the one error line says why.
    root.setLevel(logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO)
