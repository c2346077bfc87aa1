"""The one engine behind every front end: streams in, records and checkpoints out.

`plan` groups the selected streams into read units and `read_unit` turns a unit into an
iterator of `Record` and `Checkpoint` items. The Airbyte source wraps them in protocol
messages; the exporter turns them into Arrow batches and commits each checkpoint with the
data it covers. Neither knows how a stream is paged, partitioned or checkpointed: that
is decided here and in the reader modules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from source_contractfit.api.errors import PermissionDeniedError, ResponseFormatError
from source_contractfit.read.context import Checkpoint, Item, ReadContext, Record, expect_list
from source_contractfit.read.dated import read_dated_stream
from source_contractfit.read.family import read_document_family
from source_contractfit.streams.catalog import Reader, StreamDef

logger = logging.getLogger("source_contractfit.read.engine")
__all__ = ["Checkpoint", "Item", "ReadContext", "Record", "plan", "read_unit"]


def plan(streams: Sequence[StreamDef]) -> list[list[StreamDef]]:
    """Group the selected streams into read units: the document family is read once."""
    units: list[list[StreamDef]] = []
    family: list[StreamDef] = []
    for stream in streams:
        if stream.reader is Reader.DOCUMENTS:
            if not family:
                units.append(family)
            family.append(stream)
        else:
            units.append([stream])
    return units


def read_unit(
    unit: Sequence[StreamDef], ctx: ReadContext, states: Mapping[str, Any] | None = None
) -> Iterator[Item]:
    """Records and checkpoints of one unit; `states` maps stream name to its state blob."""
    states = states or {}
    if unit[0].reader is Reader.DOCUMENTS:
        return read_document_family(unit, ctx, states)
    if len(unit) != 1:
        raise ValueError("only the document family reads several streams at once")
    stream = unit[0]
    if stream.reader is Reader.DATED:
        return read_dated_stream(stream, ctx, states.get(stream.name))
    if stream.reader is Reader.INBOX_LIST:
        return _read_inbox_lists(stream, ctx)
    return _read_list(stream, ctx)


def _read_list(stream: StreamDef, ctx: ReadContext) -> Iterator[Item]:
    if stream.name == "inboxes":
        records: list[Any] = ctx.inboxes()
    else:
        try:
            records = expect_list(ctx.client.get_json(stream.path), stream.path)
        except PermissionDeniedError:
            # Metadata a role may not see (GET /users needs edit_users): not fatal.
            logger.warning(
                "Skipping stream %s: GET /%s is forbidden (403).", stream.name, stream.path
            )
            return
    for record in records:
        if not isinstance(record, dict):
            raise ResponseFormatError(f"GET /{stream.path}: an item is not a JSON object.")
        yield Record(stream.name, record)


def _read_inbox_lists(stream: StreamDef, ctx: ReadContext) -> Iterator[Item]:
    for inbox in ctx.inboxes():
        path = stream.path.format(inbox_id=inbox["id"])
        try:
            rows = expect_list(ctx.client.get_json(path), path)
        except PermissionDeniedError:
            ctx.skip_inbox(inbox["id"], "forbidden for these credentials (403)")
            continue
        for row in rows:
            if not isinstance(row, dict):
                raise ResponseFormatError(f"GET /{path}: an item is not a JSON object.")
            yield Record(stream.name, {"inbox_id": inbox["id"], **row})
