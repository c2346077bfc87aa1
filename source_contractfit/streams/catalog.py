"""Stream definitions: configuration as data, the one place a stream is described.

The Airbyte source (discover, read), the exporter and the tests all iterate `STREAMS`;
nothing else decides a stream's path, partitioning, cursor, primary key or schema.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any

import orjson

from source_contractfit.streams.versions import version_records

logger = logging.getLogger("source_contractfit.streams.catalog")


class Reader(str, Enum):
    """How records are fetched; each value has one implementation in `engine.py`."""

    LIST = "list"  # GET path -> JSON array of records
    INBOX_LIST = "inbox_list"  # GET path per inbox -> JSON array, rows tagged with inbox_id
    DATED = "dated"  # per inbox per UTC day, incremental on the day (daily_stats.py)
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
    path = resources.files("source_contractfit.streams").joinpath(f"schemas/{name}.json")
    if not path.is_file():
        # The normalized row streams keep their schema next to the normalizer.
        from source_contractfit.export.normalize import stream_schema

        return stream_schema(name)
    schema: dict[str, Any] = orjson.loads(path.read_bytes())
    return schema


def _normalized(
    rows: Callable[[dict[str, Any]], Iterable[dict[str, Any]]],
) -> Callable[[dict[str, Any]], Iterable[dict[str, Any]]]:
    """A document's normalized rows; a document that cannot be normalized yields none
    (the `documents` stream still carries it whole) and is logged, never fatal."""

    def derive(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
        from source_contractfit.export.normalize import NormalizationError

        try:
            return list(rows(document))
        except NormalizationError as error:
            logger.warning("Document %s not normalized: %s", document.get("id"), error)
            return []

    return derive


def _field_records(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    from source_contractfit.export.normalize import field_records

    return field_records(document)


def _line_item_records(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    from source_contractfit.export.normalize import line_item_records

    return line_item_records(document)


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
    StreamDef(
        name="document_fields",
        path="inboxes/{inbox_id}/paginated",
        primary_key=(("document_id",), ("version_index",), ("field_name",), ("occurrence",)),
        reader=Reader.DOCUMENTS,
        description=(
            "One row per annotation atom of each document version (typed values); an "
            "empty list is one row with occurrence -1."
        ),
        partitioned_by_inbox=True,
        derive=_normalized(_field_records),
    ),
    StreamDef(
        name="document_line_items",
        path="inboxes/{inbox_id}/paginated",
        primary_key=(
            ("document_id",),
            ("version_index",),
            ("table_name",),
            ("row_index",),
            ("column_name",),
        ),
        reader=Reader.DOCUMENTS,
        description="One row per line-item cell of each document version (typed values).",
        partitioned_by_inbox=True,
        derive=_normalized(_line_item_records),
    ),
)

_DATED_KEYS: dict[str, tuple[str, ...]] = {
    "stats_fields": ("field_name",),
    "stats_accuracy": ("level", "field_name"),
    "stats_stp": ("level", "field_name"),
    "stats_automation_blockers": ("field_name", "reason"),
    "stats_processing": ("page_count",),
    "stats_volume": ("status",),
    "usage": (),
}
_DATED_DESCRIPTIONS = {
    "stats_fields": "Field accuracy, precision, recall, F1 and counts per inbox per day.",
    "stats_accuracy": "Document, section and field accuracy counts per inbox per day.",
    "stats_stp": "Straight-through processing counts per inbox per day.",
    "stats_automation_blockers": "Documents blocked per field and reason per inbox per day.",
    "stats_processing": "Processing time statistics per page count per inbox per day.",
    "stats_volume": "Documents per status per inbox per day.",
    "usage": "Documents and pages processed per inbox per day.",
}
STREAMS = (
    STREAMS
    + tuple(
        StreamDef(
            name=name,
            path="stats",
            primary_key=(("inbox_id",), ("date",), *((key,) for key in keys)),
            reader=Reader.DATED,
            description=_DATED_DESCRIPTIONS[name],
            partitioned_by_inbox=True,
            cursor_field=("date",),
        )
        for name, keys in _DATED_KEYS.items()
    )
    + tuple(
        StreamDef(
            name=name,
            path=name,
            primary_key=(("id",),),
            reader=Reader.LIST,
            description=f"The tenant's {name} (GET /{name}).",
        )
        for name in ("users", "roles", "formats", "reports")
    )
    + (
        StreamDef(
            name="document_version_names",
            path="inboxes/{inbox_id}/document_versions",
            primary_key=(("inbox_id",), ("name",)),
            reader=Reader.INBOX_LIST,
            description="Version names present in each inbox, with their counts.",
            partitioned_by_inbox=True,
        ),
    )
)

STREAMS_BY_NAME: dict[str, StreamDef] = {stream.name: stream for stream in STREAMS}
