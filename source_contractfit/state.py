"""The incremental state of the document streams: one cursor per inbox, versioned.

This blob is exactly the Airbyte per-stream `stream_state` and exactly what the exporter
stores next to its data, so it is parsed strictly: a malformed blob is a `ConfigError`
saying which part is wrong, never a silent full re-read or a crash.

Per inbox it records
- `cursor` and `ids_at_cursor`: every document received before `cursor`, and those of
  `ids_at_cursor` received at it, have been emitted (the keyset walk's `Position`);
- `reviews_checked_until`: late reviews (new versions of older documents) up to this
  instant have been emitted; the next sync looks again from here minus `lookback_days`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .documents import Position
from .errors import ConfigError
from .timeutil import format_datetime, parse_datetime

STATE_VERSION = 1
CURSOR_FIELD = ("timings", "receive_time")


@dataclass
class InboxState:
    position: Position = field(default_factory=Position)
    reviews_checked_until: datetime | None = None

    def copy(self) -> InboxState:
        return InboxState(
            Position(self.position.receive_time, set(self.position.ids_at)),
            self.reviews_checked_until,
        )


@dataclass
class DocumentsState:
    inboxes: dict[str, InboxState] = field(default_factory=dict)

    def inbox(self, inbox_id: str) -> InboxState:
        return self.inboxes.setdefault(inbox_id, InboxState())

    def to_blob(self) -> dict[str, Any]:
        partitions: dict[str, Any] = {}
        for inbox_id in sorted(self.inboxes):
            state = self.inboxes[inbox_id]
            position = state.position
            partitions[inbox_id] = {
                "cursor": _fmt(position.receive_time),
                "ids_at_cursor": sorted(position.ids_at),
                "reviews_checked_until": _fmt(state.reviews_checked_until),
            }
        return {"state_version": STATE_VERSION, "partitions": partitions}

    @classmethod
    def from_blob(cls, stream: str, blob: Mapping[str, Any] | None) -> DocumentsState:
        if not blob:
            return cls()
        where = f"The state of stream '{stream}'"
        if not isinstance(blob, Mapping):
            raise ConfigError(f"{where} must be a JSON object, got {type(blob).__name__}.")
        version = blob.get("state_version")
        if version != STATE_VERSION:
            raise ConfigError(
                f"{where} has state_version {version!r}; this connector writes and reads "
                f"version {STATE_VERSION}. Reset the stream or pass a state this version wrote."
            )
        partitions = blob.get("partitions")
        if not isinstance(partitions, Mapping):
            raise ConfigError(f"{where} has no 'partitions' object.")
        state = cls()
        for inbox_id, raw in partitions.items():
            state.inboxes[str(inbox_id)] = _inbox_state(f"{where}, inbox {inbox_id}", raw)
        return state


def _inbox_state(where: str, raw: Any) -> InboxState:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be an object with 'cursor' and 'ids_at_cursor'.")
    cursor = _parse_time(where, "cursor", raw.get("cursor"))
    ids = raw.get("ids_at_cursor", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ConfigError(f"{where}: 'ids_at_cursor' must be a list of document id strings.")
    if ids and cursor is None:
        raise ConfigError(f"{where}: 'ids_at_cursor' is set but 'cursor' is null.")
    checked = _parse_time(where, "reviews_checked_until", raw.get("reviews_checked_until"))
    return InboxState(Position(cursor, set(ids)), checked)


def _parse_time(where: str, key: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: '{key}' must be an ISO 8601 string or null, got {value!r}.")
    try:
        return parse_datetime(value)
    except ValueError:
        raise ConfigError(f"{where}: '{key}' is not an ISO 8601 date-time: {value!r}.") from None


def _fmt(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)
