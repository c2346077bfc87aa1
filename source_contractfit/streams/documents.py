"""The document family: four streams fed by one walk over each inbox's Documents.

`documents` carries each Document whole; the other three derive their records from it
(`derived_from`): its versions, and the normalizer's typed rows of its fields and
line-item cells (the exporter's `fields` / `line_items` tables, as Airbyte records).
All four name the same `DocumentFamilyReader`, so any selection of them is read in one
unit and fetches every document once. This module is built on `export.normalize`; the
normalizer in turn knows only the plain streams (`metadata.py`, `stats.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from source_contractfit.export.normalize import (
    NormalizationError,
    field_records,
    line_item_records,
    stream_schema,
)
from source_contractfit.read.readers import DocumentFamilyReader
from source_contractfit.streams.base import StreamDef, packaged_schema
from source_contractfit.streams.versions import version_records

logger = logging.getLogger("source_contractfit.streams.documents")
FAMILY = DocumentFamilyReader()
PARTITIONED_PATH = "inboxes/{inbox_id}/paginated"


def _document_itself(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    return (document,)


def _normalized(
    rows: Callable[[dict[str, Any]], Iterable[dict[str, Any]]],
) -> Callable[[dict[str, Any]], Iterable[dict[str, Any]]]:
    """A document's normalized rows; a document that cannot be normalized yields none
    (the `documents` stream still carries it whole) and is logged, never fatal."""

    def derive(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
        try:
            return list(rows(document))
        except NormalizationError as error:
            logger.warning("Document %s not normalized: %s", document.get("id"), error)
            return []

    return derive


DOCUMENTS = StreamDef(
    name="documents",
    path=PARTITIONED_PATH,
    primary_key=(("id",),),
    reader=FAMILY,
    description="Documents with prediction, versions, timings and status, per inbox.",
    schema=packaged_schema("documents"),
    partitioned_by_inbox=True,
    cursor_field=("timings", "receive_time"),
    derive=_document_itself,
)

DOCUMENT_VERSIONS = StreamDef(
    name="document_versions",
    path=PARTITIONED_PATH,
    primary_key=(("document_id",), ("version_index",)),
    reader=FAMILY,
    description="One record per version of a document (read with the documents).",
    schema=packaged_schema("document_versions"),
    partitioned_by_inbox=True,
    cursor_field=("timestamp",),
    derive=version_records,
    derived_from=DOCUMENTS.name,
)

DOCUMENT_FIELDS = StreamDef(
    name="document_fields",
    path=PARTITIONED_PATH,
    primary_key=(("document_id",), ("version_index",), ("field_name",), ("occurrence",)),
    reader=FAMILY,
    description=(
        "One row per annotation atom of each document version (typed values); an "
        "empty list is one row with occurrence -1."
    ),
    schema=partial(stream_schema, "document_fields"),
    partitioned_by_inbox=True,
    derive=_normalized(field_records),
    derived_from=DOCUMENTS.name,
)

DOCUMENT_LINE_ITEMS = StreamDef(
    name="document_line_items",
    path=PARTITIONED_PATH,
    primary_key=(
        ("document_id",),
        ("version_index",),
        ("table_name",),
        ("row_index",),
        ("column_name",),
    ),
    reader=FAMILY,
    description="One row per line-item cell of each document version (typed values).",
    schema=partial(stream_schema, "document_line_items"),
    partitioned_by_inbox=True,
    derive=_normalized(line_item_records),
    derived_from=DOCUMENTS.name,
)

DOCUMENT_STREAMS: tuple[StreamDef, ...] = (
    DOCUMENTS,
    DOCUMENT_VERSIONS,
    DOCUMENT_FIELDS,
    DOCUMENT_LINE_ITEMS,
)
