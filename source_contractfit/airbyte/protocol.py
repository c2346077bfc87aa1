"""`source-contractfit read` without the CDK: the same Airbyte messages, written by orjson.

The CDK's entrypoint builds a dataclass per message and serializes it through two layers,
and importing it takes about 3 s; at thousands of records a second that was most of a
read's cost. So the console script reads through here, while spec, check and discover
(and reads the CDK drives in-process: its standard tests, embedded use) go through
`source.SourceContractfit`. Both iterate `read_events`, so they emit the same messages:
stream status traces, records, per-stream states with `sourceStats`, LOG lines and one
ERROR trace (with the failure type) when the read fails.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

import orjson

from source_contractfit.api.client import ContractfitClient
from source_contractfit.api.errors import ConfigError, ContractfitError, FailureKind, failed_streams
from source_contractfit.api.redact import RedactingFilter, Redactor
from source_contractfit.config import ConnectorConfig, load_config_file, read_json_file
from source_contractfit.read.context import ReadContext
from source_contractfit.read.engine import plan, read_unit
from source_contractfit.read.events import (
    COMPLETE,
    INCOMPLETE,
    RUNNING,
    STARTED,
    Checkpoint,
    Event,
    Record,
    StreamStatus,
)
from source_contractfit.streams.base import StreamDef
from source_contractfit.streams.catalog import (
    STREAMS_BY_NAME,
    NotIncremental,
    UnknownStreams,
    select_streams,
)

FAILURE_TYPES = {
    FailureKind.CONFIG: "config_error",
    FailureKind.TRANSIENT: "transient_error",
    FailureKind.SYSTEM: "system_error",
}


# ------------------------------------------------------------------ shared by both paths


def configured_streams(
    configured: Iterable[tuple[str, str]],
) -> tuple[list[StreamDef], set[str]]:
    """(stream name, sync mode) pairs of a catalog -> our streams in order, the incremental
    (`catalog.select_streams`, its errors in the words of a configured catalog)."""
    try:
        return select_streams((name, mode == "incremental") for name, mode in configured)
    except UnknownStreams as error:
        known = ", ".join(sorted(STREAMS_BY_NAME))
        raise ConfigError(
            f"The configured catalog names the stream {error.names[0]!r}, which this source "
            f"does not have. Known streams: {known}. Run discover again and refresh the catalog."
        ) from None
    except NotIncremental as error:
        raise ConfigError(
            f"The configured catalog asks for stream {error.stream!r} in incremental mode, "
            "which it does not support; use full_refresh."
        ) from None


def read_events(
    config: ConnectorConfig,
    selected: list[StreamDef],
    blobs: Mapping[str, Any],
    logger: logging.Logger,
) -> Iterator[Event]:
    """The whole read as events.

    A stream's own error marks it INCOMPLETE and the next streams are still read; at the
    end one `StreamsFailed` names every failed stream. An error that concerns the whole
    run (credentials, base URL: `stops_run`) propagates at once.
    """
    failures: dict[str, ContractfitError] = {}
    with ContractfitClient(config) as client:
        context = ReadContext(config, client)
        try:
            for unit in plan(selected):
                try:
                    yield from _unit_events(unit, context, blobs, logger)
                except ContractfitError as error:
                    if error.stops_run:
                        raise
                    logger.warning("Stream(s) %s failed: %s", _names(unit), error.message)
                    failures.update(dict.fromkeys((s.name for s in unit), error))
        finally:
            context.close()
        logger.info(
            "Sync done: %d HTTP requests, %d retries, %d logins.",
            client.stats.requests,
            client.stats.retries,
            client.stats.logins,
        )
    if failures:
        raise failed_streams(failures, len(selected))


def _names(unit: list[StreamDef]) -> str:
    return ", ".join(stream.name for stream in unit)


def _unit_events(
    unit: list[StreamDef], context: ReadContext, blobs: Mapping[str, Any], logger: logging.Logger
) -> Iterator[Event]:
    names = [stream.name for stream in unit]
    for name in names:
        yield StreamStatus(name, STARTED)
    counts = dict.fromkeys(names, 0)
    started = time.monotonic()
    try:
        for item in read_unit(unit, context, blobs):
            if isinstance(item, Record):
                if counts[item.stream] == 0:
                    yield StreamStatus(item.stream, RUNNING)
                counts[item.stream] += 1
            yield item
    except ContractfitError:
        for name in names:
            yield StreamStatus(name, INCOMPLETE)
        raise
    elapsed = time.monotonic() - started
    for name, count in counts.items():
        rate = count / elapsed if elapsed else 0.0
        logger.info("Read %d %s records in %.1fs (%.0f/s).", count, name, elapsed, rate)
    for name in names:
        yield StreamStatus(name, COMPLETE)


def state_blobs(messages: Any) -> dict[str, Any]:
    """Per-stream state blobs of an input state (a JSON list of STREAM state messages)."""
    if not isinstance(messages, list):
        raise ConfigError(
            f"The state file could not be read: expected a JSON list of per-stream state "
            f"messages as this connector emits them, got {type(messages).__name__}."
        )
    blobs: dict[str, Any] = {}
    for message in messages:
        kind = message.get("type") if isinstance(message, dict) else None
        stream = message.get("stream") if isinstance(message, dict) else None
        if kind != "STREAM" or not isinstance(stream, dict):
            raise ConfigError(
                f"The input state has a {kind or type(message).__name__} state message; this "
                "connector reads per-stream (STREAM) state only."
            )
        descriptor = stream.get("stream_descriptor")
        name = descriptor.get("name") if isinstance(descriptor, dict) else None
        if not isinstance(name, str):
            raise ConfigError("The input state has a STREAM message without a stream name.")
        blob = stream.get("stream_state")
        blobs[name] = dict(blob) if isinstance(blob, dict) else blob
    return blobs


# ------------------------------------------------------------------ the CDK-free writer


def _now_ms() -> float:
    return time.time() * 1000


class MessageWriter:
    """Airbyte messages as JSON lines on one buffered stream, in order, thread-safe."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.since_state: Counter[str] = Counter()

    def write(self, message: dict[str, Any]) -> None:
        line = orjson.dumps(message, default=str, option=orjson.OPT_APPEND_NEWLINE)
        with self.lock:
            self.out.write(line)

    def event(self, event: Event) -> None:
        if isinstance(event, Record):
            self.since_state[event.stream] += 1
            record = {"stream": event.stream, "data": event.data, "emitted_at": int(_now_ms())}
            self.write({"type": "RECORD", "record": record})
        elif isinstance(event, Checkpoint):
            count = float(self.since_state.pop(event.stream, 0))
            stream = {"stream_descriptor": {"name": event.stream}, "stream_state": event.state}
            state = {"type": "STREAM", "stream": stream, "sourceStats": {"recordCount": count}}
            self.write({"type": "STATE", "state": state})
        else:
            status_body = {"stream_descriptor": {"name": event.stream}, "status": event.status}
            trace = {"type": "STREAM_STATUS", "emitted_at": _now_ms(), "stream_status": status_body}
            self.write({"type": "TRACE", "trace": trace})

    def log(self, level: str, message: str) -> None:
        self.write({"type": "LOG", "log": {"level": level, "message": message}})

    def error(self, message: str, internal: str, failure_type: str, stack: str | None) -> None:
        error = {"message": message, "internal_message": internal, "failure_type": failure_type}
        if stack:
            error["stack_trace"] = stack
        trace = {"type": "ERROR", "emitted_at": _now_ms(), "error": error}
        self.write({"type": "TRACE", "trace": trace})

    def flush(self) -> None:
        with self.lock:
            self.out.flush()


_LEVELS = {"WARNING": "WARN", "CRITICAL": "FATAL"}


class _LogHandler(logging.Handler):
    def __init__(self, writer: MessageWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        level = _LEVELS.get(record.levelname, record.levelname)
        self.writer.log(level, self.format(record))


def _catalog_pairs(catalog: Any) -> list[tuple[str, str]]:
    streams = catalog.get("streams") if isinstance(catalog, dict) else None
    if not isinstance(streams, list):
        raise ConfigError("The configured catalog has no 'streams' list.")
    pairs = []
    for configured in streams:
        try:
            pairs.append((str(configured["stream"]["name"]), str(configured["sync_mode"])))
        except (KeyError, TypeError):
            raise ConfigError(
                "The configured catalog has a stream without 'stream.name' or 'sync_mode'."
            ) from None
    return pairs


def read_command(argv: list[str], out: IO[bytes] | None = None) -> int:
    """`read --config C --catalog K [--state S] [--debug]`; returns the exit code."""
    parser = argparse.ArgumentParser(prog="source-contractfit read")
    parser.add_argument("--config", required=True)
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--state")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    stream = out or io.BufferedWriter(io.FileIO(sys.stdout.fileno(), "w", closefd=False), 1 << 20)
    writer = MessageWriter(stream)
    redactor = Redactor()
    handler = _LogHandler(writer)
    handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if args.debug else logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logger = logging.getLogger("airbyte")
    try:
        config = load_config_file(args.config)
        redactor.add(*config.credentials.secrets())
        catalog = read_json_file(args.catalog, "catalog")
        selected, incremental = configured_streams(_catalog_pairs(catalog))
        blobs = state_blobs(read_json_file(args.state, "state")) if args.state else {}
        blobs = {name: blob for name, blob in blobs.items() if name in incremental}
        for event in read_events(config, selected, blobs, logger):
            writer.event(event)
        return 0
    except ContractfitError as error:
        message = redactor.mask(error.message)
        internal = redactor.mask(f"{type(error).__name__}: {error.message}")
        writer.error(message, internal, FAILURE_TYPES[error.kind], None)
        return 1
    except Exception as error:  # noqa: BLE001 - one trace message, never a bare traceback
        stack = redactor.mask(traceback.format_exc())
        writer.log("ERROR", stack)
        internal = redactor.mask(f"{type(error).__name__}: {error}")
        writer.error(
            "Something went wrong in the connector. See the logs for more details.",
            internal,
            "system_error",
            stack,
        )
        return 1
    finally:
        writer.flush()
        root.removeHandler(handler)
