"""The readers a stream definition can name (`streams.base.Reader`), one per way of fetching.

    ListReader            GET path -> a JSON array of records (403: the stream is skipped)
    InboxesReader         the inboxes this sync reads, as resolved by the ReadContext
    InboxListReader       GET path per inbox -> a JSON array, rows tagged with inbox_id
    DatedReader           per inbox per UTC day, incremental on the day (`dated.py`)
    DocumentFamilyReader  the documents walk; every stream naming the same instance is
                          read in one unit, each deriving its records from the Documents

A new way of fetching is a new `Reader` here, named by the definitions that use it; the
engine does not change.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from source_contractfit.api.errors import PermissionDeniedError, ResponseFormatError
from source_contractfit.read.context import ReadContext, expect_list
from source_contractfit.read.dated import DailyEndpoint, read_dated_stream
from source_contractfit.read.events import Item, Record
from source_contractfit.read.family import read_document_family
from source_contractfit.streams.base import Reader, StreamDef

logger = logging.getLogger("source_contractfit.read.readers")


class StreamReader(Reader):
    """A reader of one stream: its unit is that stream alone."""

    def read(
        self, streams: Sequence[StreamDef], ctx: ReadContext, states: Mapping[str, Any]
    ) -> Iterator[Item]:
        if len(streams) != 1:
            raise ValueError(f"{type(self).__name__} reads one stream at a time")
        stream = streams[0]
        return self.read_stream(stream, ctx, states.get(stream.name))

    @abstractmethod
    def read_stream(self, stream: StreamDef, ctx: ReadContext, state: Any) -> Iterator[Item]:
        """Records and checkpoints of `stream`; `state` is its state blob (or None)."""


def _records(stream: StreamDef, rows: Iterable[Any], path: str) -> Iterator[Item]:
    for row in rows:
        if not isinstance(row, dict):
            raise ResponseFormatError(f"GET /{path}: an item is not a JSON object.")
        yield Record(stream.name, row)


class ListReader(StreamReader):
    """GET the stream's path: a JSON array of records, read whole (full refresh)."""

    def read_stream(self, stream: StreamDef, ctx: ReadContext, state: Any) -> Iterator[Item]:
        try:
            records = expect_list(ctx.client.get_json(stream.path), stream.path)
        except PermissionDeniedError:
            # Metadata a role may not see (GET /users needs edit_users): not fatal.
            logger.warning(
                "Skipping stream %s: GET /%s is forbidden (403).", stream.name, stream.path
            )
            return
        yield from _records(stream, records, stream.path)


class InboxesReader(StreamReader):
    """The inboxes this sync reads: all visible ones, or those of `inbox_ids`."""

    def read_stream(self, stream: StreamDef, ctx: ReadContext, state: Any) -> Iterator[Item]:
        yield from _records(stream, ctx.inboxes(), stream.path)


class InboxListReader(StreamReader):
    """GET the stream's path for each inbox (`{inbox_id}`): rows tagged with `inbox_id`."""

    def read_stream(self, stream: StreamDef, ctx: ReadContext, state: Any) -> Iterator[Item]:
        for inbox in ctx.inboxes():
            path = ctx.client.path(stream.path, inbox_id=inbox["id"])
            try:
                rows = expect_list(ctx.client.get_json(path), path)
            except PermissionDeniedError:
                ctx.skip_inbox(inbox["id"], "forbidden for these credentials (403)")
                continue
            for row in rows:
                if not isinstance(row, dict):
                    raise ResponseFormatError(f"GET /{path}: an item is not a JSON object.")
                yield Record(stream.name, {"inbox_id": inbox["id"], **row})


class DatedReader(StreamReader):
    """Per inbox per UTC day from `endpoint`, re-reading the last `lookback_days`."""

    def __init__(self, endpoint: DailyEndpoint) -> None:
        self.endpoint = endpoint

    def read_stream(self, stream: StreamDef, ctx: ReadContext, state: Any) -> Iterator[Item]:
        return read_dated_stream(stream.name, self.endpoint, ctx, state)


class DocumentFamilyReader(Reader):
    """One walk over each inbox's documents feeding every selected stream that names this
    instance; each stream's `derive` turns a Document into its records."""

    def unit_key(self, stream: StreamDef) -> Hashable:
        return ("family", id(self))

    def read(
        self, streams: Sequence[StreamDef], ctx: ReadContext, states: Mapping[str, Any]
    ) -> Iterator[Item]:
        return read_document_family(streams, ctx, states)
