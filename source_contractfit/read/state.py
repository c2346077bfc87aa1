"""The incremental state of every incremental stream: one cursor per inbox, versioned.

This blob is exactly the Airbyte per-stream `stream_state` and exactly what the exporter
stores next to its data, so it is parsed strictly: a malformed blob is a `ConfigError`
saying which part is wrong, never a silent full re-read or a crash.

The dated (per-day stats) streams keep the last UTC day fully emitted per inbox (at the
end of this module). The document streams record per inbox
- `cursor` and `last_id_at_cursor`: every document received before `cursor`, and every
  one received at it with an id up to `last_id_at_cursor` (none when null), has been
  emitted (the keyset walk's `Position`). Two scalars, so a burst of any size at one
  instant keeps the blob small. Blobs written by earlier versions carry instead
  `ids_at_cursor`, the list of every id emitted at `cursor`; it is read as its largest id,
  which is exact: the walk hands out the documents of one instant in ascending id order
  from verified pages, so every id at `cursor` up to the largest emitted was emitted;
- `reviews_checked_until`: late reviews (new versions of older documents) up to this
  instant have been emitted; the next sync looks again from here minus `lookback_days`;
- `recent_versions`: for documents with a version inside that lookback horizon, the
  timestamps of the versions we emitted, so the lookback re-fetches only documents that
  really gained a version (capped per inbox; a dropped entry only costs a re-fetch).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from source_contractfit.api.errors import ConfigError
from source_contractfit.read.walk import Position
from source_contractfit.timeutil import format_datetime, parse_datetime

STATE_VERSION = 1
MAX_RECENT_PER_INBOX = 20_000


@dataclass
class InboxState:
    position: Position = field(default_factory=Position)
    reviews_checked_until: datetime | None = None
    recent_versions: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def remember(self, document_id: str, timestamps: tuple[str, ...]) -> None:
        if timestamps:
            self.recent_versions[document_id] = timestamps
        else:
            self.recent_versions.pop(document_id, None)

    def knows(self, document_id: str, timestamps: set[str]) -> bool:
        """True when every listed version timestamp was in what we emitted last."""
        return timestamps <= set(self.recent_versions.get(document_id, ()))

    def prune(self, horizon: str) -> None:
        """Drop versions older than the next sync's lookback horizon; cap the map size."""
        kept = {}
        for doc_id, stamps in self.recent_versions.items():
            recent = tuple(t for t in stamps if t >= horizon)
            if recent:
                kept[doc_id] = recent
        if len(kept) > MAX_RECENT_PER_INBOX:
            newest = sorted(kept.items(), key=lambda item: max(item[1]), reverse=True)
            kept = dict(newest[:MAX_RECENT_PER_INBOX])
        self.recent_versions = kept


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
                "last_id_at_cursor": position.last_id,
                "reviews_checked_until": _fmt(state.reviews_checked_until),
                "recent_versions": {k: list(v) for k, v in sorted(state.recent_versions.items())},
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
        raise ConfigError(f"{where} must be an object with 'cursor' and 'last_id_at_cursor'.")
    cursor = _parse_time(where, "cursor", raw.get("cursor"))
    last_id = _last_id_at_cursor(where, raw)
    if last_id is not None and cursor is None:
        key = "last_id_at_cursor" if "last_id_at_cursor" in raw else "ids_at_cursor"
        raise ConfigError(f"{where}: '{key}' is set but 'cursor' is null.")
    checked = _parse_time(where, "reviews_checked_until", raw.get("reviews_checked_until"))
    recent = raw.get("recent_versions", {})
    if not isinstance(recent, Mapping) or not all(
        isinstance(v, list) and all(isinstance(t, str) for t in v) for v in recent.values()
    ):
        raise ConfigError(
            f"{where}: 'recent_versions' must map document ids to lists of timestamps."
        )
    versions = {str(k): tuple(v) for k, v in recent.items()}
    return InboxState(Position(cursor, last_id), checked, versions)


def _last_id_at_cursor(where: str, raw: Mapping[str, Any]) -> str | None:
    """`last_id_at_cursor`, or the largest of an earlier version's `ids_at_cursor`."""
    if "last_id_at_cursor" in raw and "ids_at_cursor" in raw:
        raise ConfigError(
            f"{where} has both 'last_id_at_cursor' and the older 'ids_at_cursor'; a state "
            "written by this connector carries one of them."
        )
    if "ids_at_cursor" in raw:
        ids = raw["ids_at_cursor"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ConfigError(
                f"{where}: 'ids_at_cursor' (written by an earlier version) must be a list of "
                "document id strings."
            )
        return max(ids) if ids else None
    last_id = raw.get("last_id_at_cursor")
    if last_id is not None and not isinstance(last_id, str):
        raise ConfigError(
            f"{where}: 'last_id_at_cursor' must be a document id string or null, got {last_id!r}."
        )
    return last_id


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


# ------------------------------------------------------------------ the dated streams
# Per inbox, the last UTC day fully emitted:
#     {"state_version": 1, "partitions": {"<inbox_id>": {"cursor": "2024-03-05"}}}


def parse_dated_state(stream: str, blob: Mapping[str, Any] | None) -> dict[str, date]:
    if not blob:
        return {}
    where = f"The state of stream '{stream}'"
    if not isinstance(blob, Mapping) or blob.get("state_version") != STATE_VERSION:
        raise ConfigError(
            f"{where} must be an object with state_version {STATE_VERSION}; reset the stream "
            "or pass a state this version wrote."
        )
    partitions = blob.get("partitions")
    if not isinstance(partitions, Mapping):
        raise ConfigError(f"{where} has no 'partitions' object.")
    cursors = {}
    for inbox_id, raw in partitions.items():
        cursor = raw.get("cursor") if isinstance(raw, Mapping) else None
        try:
            cursors[str(inbox_id)] = date.fromisoformat(str(cursor))
        except ValueError:
            raise ConfigError(
                f"{where}, inbox {inbox_id}: 'cursor' must be an ISO date (YYYY-MM-DD), "
                f"got {cursor!r}."
            ) from None
    return cursors


def dated_blob(cursors: Mapping[str, date]) -> dict[str, Any]:
    partitions = {k: {"cursor": cursors[k].isoformat()} for k in sorted(cursors)}
    return {"state_version": STATE_VERSION, "partitions": partitions}
