"""Stream definitions: configuration as data, the one place a stream is described.

The Airbyte source (discover, read), the exporter and the tests all iterate `STREAMS`;
nothing else decides a stream's path, partitioning, cursor, primary key or schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any

import orjson

from .document_versions import version_records


class Reader(str, Enum):
    """How records are fetched; each value has one implementation in `engine.py`."""

    LIST = "list"  # GET path -> JSON array of records
    DOCUMENTS = "documents"  # the document family: one walk, records derived per stream


def _document_itself(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    return (document,)


@dataclass(frozen=True)
class StreamDef:
    name: str
    path: str
    primary_key: tuple[tuple[str, ...], ...]
    reader: Reader
    description: str
    partitioned_by_inbox: bool = False
    cursor_field: tuple[str, ...] | None = None
    # Document-family streams: how a fetched Document becomes this stream's records.
    derive: Callable[[dict[str, Any]], Iterable[dict[str, Any]]] | None = None

    @property
    def incremental(self) -> bool:
        return self.cursor_field is not None

    def json_schema(self) -> dict[str, Any]:
        return _schema(self.name)


@cache
def _schema(name: str) -> dict[str, Any]:
    data = resources.files("source_contractfit").joinpath(f"schemas/{name}.json").read_bytes()
    schema: dict[str, Any] = orjson.loads(data)
    return schema


STREAMS: tuple[StreamDef, ...] = (
    StreamDef(
        name="projects",
        path="projects",
        primary_key=(("id",),),
        reader=Reader.LIST,
        description="Projects of the tenant.",
    ),
    StreamDef(
        name="inboxes",
        path="inboxes",
        primary_key=(("id",),),
        reader=Reader.LIST,
        description="Inboxes the credentials may see (filtered by inbox_ids when set).",
    ),
    StreamDef(
        name="documents",
        path="inboxes/{inbox_id}/paginated",
        primary_key=(("id",),),
        reader=Reader.DOCUMENTS,
        description="Documents with prediction, versions, timings and status, per inbox.",
        partitioned_by_inbox=True,
        cursor_field=("timings", "receive_time"),
        derive=_document_itself,
    ),
    StreamDef(
        name="document_versions",
        path="inboxes/{inbox_id}/paginated",
        primary_key=(("document_id",), ("version_index",)),
        reader=Reader.DOCUMENTS,
        description="One record per version of a document (read with the documents).",
        partitioned_by_inbox=True,
        cursor_field=("timestamp",),
        derive=version_records,
    ),
)

STREAMS_BY_NAME: dict[str, StreamDef] = {stream.name: stream for stream in STREAMS}
