"""The catalog: every stream in order, and the one selection every front end makes of it.

The Airbyte source (discover, read), the exporter and the tests all iterate `STREAMS`;
each stream is defined once, in `metadata.py`, `documents.py` or `stats.py`, and nothing
else decides its path, reader, cursor, primary key or schema. The order here is the
order of discover and of a read.
"""

from __future__ import annotations

from collections.abc import Iterable

from source_contractfit.api.errors import ConfigError
from source_contractfit.streams.base import StreamDef
from source_contractfit.streams.documents import DOCUMENT_STREAMS
from source_contractfit.streams.metadata import (
    DOCUMENT_VERSION_NAMES,
    INBOXES,
    PROJECTS,
    TENANT_LISTS,
)
from source_contractfit.streams.stats import STATS_STREAMS

STREAMS: tuple[StreamDef, ...] = (
    PROJECTS,
    INBOXES,
    *DOCUMENT_STREAMS,
    *STATS_STREAMS,
    *TENANT_LISTS,
    DOCUMENT_VERSION_NAMES,
)

STREAMS_BY_NAME: dict[str, StreamDef] = {stream.name: stream for stream in STREAMS}


class UnknownStreams(ConfigError):
    """A selection names streams this source does not have (`names`: all of them, in the
    order asked). Front ends may word it their own way."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        known = ", ".join(stream.name for stream in STREAMS)
        super().__init__(f"Unknown stream(s) {', '.join(names)}. Known streams: {known}.")


def select_streams(
    requested: Iterable[tuple[str, bool]] | None = None,
    *,
    derived_via_source: bool = False,
) -> tuple[list[StreamDef], set[str]]:
    """The streams to read, in catalog order, and the names of those read incrementally.

    `requested` holds (stream name, incremental) pairs; None asks for every stream, full
    refresh. With `derived_via_source`, a stream derived from another's records stands for
    that stream (the exporter keeps whole Documents and derives the rest itself).

    An unknown name raises `UnknownStreams` (with every unknown name). Incremental asked
    of a stream without a cursor reads it whole, as Airbyte's CDK does: PyAirbyte asks
    incremental of every stream, and a full read is all such a stream has.
    """
    pairs = list(requested) if requested is not None else [(s.name, False) for s in STREAMS]
    unknown = [name for name, _ in pairs if name not in STREAMS_BY_NAME]
    names: set[str] = set()
    incremental: set[str] = set()
    for name, wants_incremental in pairs:
        stream = STREAMS_BY_NAME.get(name)
        if stream is None:
            raise UnknownStreams(unknown)
        if wants_incremental and stream.incremental:
            incremental.add(name)
        if derived_via_source and stream.derived_from is not None:
            names.add(stream.derived_from)
        else:
            names.add(name)
    return [stream for stream in STREAMS if stream.name in names], incremental
