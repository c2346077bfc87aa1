"""`source-contractfit read` without the CDK: the same Airbyte messages, written by orjson.

The CDK's entrypoint builds a dataclass per message and serializes it through two layers,
and importing it takes about 3 s; at thousands of records a second that was most of a
read's cost. So the console script reads through here (`read_command`), while spec, check
and discover (and reads the CDK drives in-process: its standard tests, embedded use) go
through `source.SourceContractfit`. Both iterate `read_events`, so they emit the same
messages: stream status traces, records, per-stream states with `sourceStats`, LOG lines
and one ERROR trace (with the failure type) when the read fails. The catalog and state
are parsed in `catalog.py`, the messages written by `messages.py`.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from typing import IO, Any

from source_contractfit.airbyte.catalog import catalog_pairs, configured_streams, state_blobs
from source_contractfit.airbyte.messages import FAILURE_TYPES, LogHandler, MessageWriter
from source_contractfit.api.client import ContractfitClient
from source_contractfit.api.errors import ContractfitError, failed_streams
from source_contractfit.api.redact import RedactingFilter, Redactor
from source_contractfit.config import ConnectorConfig, load_config_file, read_json_file
from source_contractfit.read.context import ReadContext
from source_contractfit.read.engine import plan, read_unit
from source_contractfit.read.events import (
    COMPLETE,
    INCOMPLETE,
    RUNNING,
    STARTED,
    Event,
    Record,
    StreamStatus,
)
from source_contractfit.streams.base import StreamDef

# ------------------------------------------------------------------ shared by both paths


def read_events(
    config: ConnectorConfig,
    selected: list[StreamDef],
    blobs: Mapping[str, Any],
    logger: logging.Logger,
    redactor: Redactor | None = None,
) -> Iterator[Event]:
    """The whole read as events.

    A stream's own error marks it INCOMPLETE and the next streams are still read; at the
    end one `StreamsFailed` names every failed stream. An error that concerns the whole
    run (credentials, base URL: `stops_run`) propagates at once.
    """
    failures: dict[str, ContractfitError] = {}
    with ContractfitClient(config, redactor=redactor) as client:
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


# ------------------------------------------------------------------ the CDK-free writer


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
    # The one redactor of the run, shared with the client (which adds the Basic token and
    # JWTs to it): every log line, trace and error is masked with it.
    redactor = Redactor()
    handler = LogHandler(writer)
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
        selected, incremental = configured_streams(catalog_pairs(catalog))
        blobs = state_blobs(read_json_file(args.state, "state")) if args.state else {}
        blobs = {name: blob for name, blob in blobs.items() if name in incremental}
        for event in read_events(config, selected, blobs, logger, redactor):
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
