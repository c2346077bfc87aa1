"""What a stream is: a `StreamDef`, and the `Reader` object its definition names.

A definition is data: name, keys, cursor, JSON schema, description, and the reader that
fetches its records. The engine (`read/engine.py`) groups the selected streams into read
units by their reader's `unit_key` and hands each unit to that reader; it never looks at
a stream's name nor asks what kind of reader it has. The readers are in `read/readers.py`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, partial
from importlib import resources
from typing import Any

import orjson

from source_contractfit.read.context import ReadContext
from source_contractfit.read.events import Item

JsonSchema = dict[str, Any]


class Reader(ABC):
    """How the records of one or more streams are fetched.

    Streams whose readers give the same `unit_key` form one read unit, read by one `read`
    call (the document family: one walk feeds all its streams). By default each stream is
    a unit of its own.
    """

    def unit_key(self, stream: StreamDef) -> Hashable:
        return ("stream", stream.name)

    @abstractmethod
    def read(
        self, streams: Sequence[StreamDef], ctx: ReadContext, states: Mapping[str, Any]
    ) -> Iterator[Item]:
        """Records and checkpoints of one unit; `states` maps stream name to its state blob."""


@dataclass(frozen=True)
class StreamDef:
    name: str
    path: str
    primary_key: tuple[tuple[str, ...], ...]
    reader: Reader
    description: str
    # The stream's JSON schema (the same object on every call).
    schema: Callable[[], JsonSchema]
    partitioned_by_inbox: bool = False
    cursor_field: tuple[str, ...] | None = None
    # Document-family streams: how a fetched Document becomes this stream's records.
    derive: Callable[[dict[str, Any]], Iterable[dict[str, Any]]] | None = None
    # Records derived from that stream's (a Document's versions, fields, line items): a
    # front end that keeps whole Documents selects that stream instead (the exporter).
    derived_from: str | None = None

    @property
    def incremental(self) -> bool:
        return self.cursor_field is not None

    @property
    def has_table(self) -> bool:
        """A plain stream: each record is one row of the exporter's table named as the
        stream. Document-family records are Documents, normalized into the document tables."""
        return self.derive is None

    def json_schema(self) -> JsonSchema:
        return self.schema()


def packaged_schema(name: str) -> Callable[[], JsonSchema]:
    """The JSON schema file `schemas/<name>.json` of this package, read on first use."""
    return partial(_read_packaged_schema, name)


@cache
def _read_packaged_schema(name: str) -> JsonSchema:
    path = resources.files("source_contractfit.streams").joinpath(f"schemas/{name}.json")
    schema: JsonSchema = orjson.loads(path.read_bytes())
    return schema
