"""Airbyte messages as JSON lines, written by orjson without the CDK's models.

One buffered stream, in order, thread-safe; log records become LOG messages, failures one
ERROR trace with the failure type.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from typing import IO, Any

import orjson

from source_contractfit.api.errors import FailureKind
from source_contractfit.read.events import (
    Checkpoint,
    Event,
    Record,
)

FAILURE_TYPES = {
    FailureKind.CONFIG: "config_error",
    FailureKind.TRANSIENT: "transient_error",
    FailureKind.SYSTEM: "system_error",
}


def _now_ms() -> float:
    return time.time() * 1000


class MessageWriter:
    """Airbyte messages as JSON lines on one buffered stream, in order, thread-safe."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.since_state: Counter[str] = Counter()

    def write(self, message: dict[str, Any]) -> None:
        try:
            line = orjson.dumps(message, default=str, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # orjson's JSONEncodeError is one too
            # An integer beyond 64 bits (kept exact from the API's body) is written by the
            # standard library, digit for digit (ASCII: a lone surrogate becomes an escape).
            line = json.dumps(message, default=str, separators=(",", ":")).encode() + b"\n"
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


class LogHandler(logging.Handler):
    def __init__(self, writer: MessageWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        level = _LEVELS.get(record.levelname, record.levelname)
        self.writer.log(level, self.format(record))
