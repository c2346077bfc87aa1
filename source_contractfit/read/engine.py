"""The one engine behind every front end: streams in, records and checkpoints out.

`plan` groups the selected streams into read units and `read_unit` turns a unit into an
iterator of `Record` and `Checkpoint` items. The Airbyte source wraps them in protocol
messages; the exporter turns them into Arrow batches and commits each checkpoint with the
data it covers. Neither knows how a stream is paged, partitioned or checkpointed: each
stream's definition names its reader (`read/readers.py`), and the engine only groups the
streams by their reader's unit and hands each unit to it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any

from source_contractfit.read.context import ReadContext
from source_contractfit.read.events import Item
from source_contractfit.streams.base import StreamDef

__all__ = ["plan", "read_unit"]


def plan(streams: Sequence[StreamDef]) -> list[list[StreamDef]]:
    """Group the selected streams into read units, in order of their first stream: streams
    whose readers share a unit (the document family) are read once, together."""
    units: dict[Hashable, list[StreamDef]] = {}
    for stream in streams:
        units.setdefault(stream.reader.unit_key(stream), []).append(stream)
    return list(units.values())


def read_unit(
    unit: Sequence[StreamDef], ctx: ReadContext, states: Mapping[str, Any] | None = None
) -> Iterator[Item]:
    """Records and checkpoints of one unit; `states` maps stream name to its state blob."""
    reader = unit[0].reader
    key = reader.unit_key(unit[0])
    if any(stream.reader.unit_key(stream) != key for stream in unit[1:]):
        raise ValueError("the streams of a read unit must share their reader's unit")
    return reader.read(unit, ctx, states or {})
