"""What a read produces, as values every front end matches on.

Readers yield `Item`s: a `Record` of a stream, or a `Checkpoint` with that stream's whole
state. A front end's read (`airbyte.protocol.read_events`) adds `StreamStatus` events
around each read unit; the Airbyte source and the CDK-free writer turn the three into
protocol messages, the exporter turns records into rows and commits at each checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["STARTED", "RUNNING", "COMPLETE", "INCOMPLETE"]
STARTED: Status = "STARTED"
RUNNING: Status = "RUNNING"
COMPLETE: Status = "COMPLETE"
INCOMPLETE: Status = "INCOMPLETE"


@dataclass(frozen=True)
class Record:
    stream: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Checkpoint:
    """The complete per-stream state blob, safe to persist once every earlier record is."""

    stream: str
    state: dict[str, Any]


@dataclass(frozen=True)
class StreamStatus:
    """A stream started, got its first record, completed or failed (Airbyte's status)."""

    stream: str
    status: Status


Item = Record | Checkpoint
"""What a reader yields."""

Event = Record | Checkpoint | StreamStatus
"""What a front end's read yields: the items of each unit, with the streams' statuses."""
