"""The tenant's metadata streams: lists read whole on every sync (full refresh).

Their JSON schemas are the files `schemas/<name>.json`. Like the stats streams, each
is a plain stream (one exporter table per stream, `export/normalize/schemas.py`).
"""

from __future__ import annotations

from source_contractfit.read.readers import InboxesReader, InboxListReader, ListReader
from source_contractfit.streams.base import StreamDef, packaged_schema

LIST = ListReader()

PROJECTS = StreamDef(
    name="projects",
    path="projects",
    primary_key=(("id",),),
    reader=LIST,
    description="Projects of the tenant.",
    schema=packaged_schema("projects"),
)

INBOXES = StreamDef(
    name="inboxes",
    path="inboxes",
    primary_key=(("id",),),
    reader=InboxesReader(),
    description="Inboxes the credentials may see (filtered by inbox_ids when set).",
    schema=packaged_schema("inboxes"),
)

TENANT_LISTS: tuple[StreamDef, ...] = tuple(
    StreamDef(
        name=name,
        path=name,
        primary_key=(("id",),),
        reader=LIST,
        description=f"The tenant's {name} (GET /{name}).",
        schema=packaged_schema(name),
    )
    for name in ("users", "roles", "formats", "reports")
)

DOCUMENT_VERSION_NAMES = StreamDef(
    name="document_version_names",
    path="inboxes/{inbox_id}/document_versions",
    primary_key=(("inbox_id",), ("name",)),
    reader=InboxListReader(),
    description="Version names present in each inbox, with their counts.",
    schema=packaged_schema("document_version_names"),
    partitioned_by_inbox=True,
)

METADATA_STREAMS: tuple[StreamDef, ...] = (
    PROJECTS,
    INBOXES,
    *TENANT_LISTS,
    DOCUMENT_VERSION_NAMES,
)
