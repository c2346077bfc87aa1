"""Rows of the `rejects` table: what could not be normalized, why, and the input itself.

A reject keeps the raw record (JSON, at most 1 MiB) so a person can see the problem and
replay it after a fix; building it must never fail, whatever the input holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from source_contractfit.export.normalize.documents import Row
from source_contractfit.export.normalize.schemas import PRIMARY_KEYS
from source_contractfit.export.normalize.values import UTC, clean, dumps, key_label

RAW_LIMIT = 1 << 20  # bytes of JSON kept in `raw`
REASON_LIMIT = 2000  # characters of `reason`


def reject_row(stream: Any, record: Any, reason: str, now: datetime | None = None) -> Row:
    """One `rejects` row; `record_id` is the record's id or its primary-key values."""
    return {
        "stream": key_label(stream),
        "record_id": _record_id(stream, record),
        "reason": clean(reason)[:REASON_LIMIT],
        "raw": raw_json(record),
        "rejected_at": now or datetime.now(UTC),
    }


def _record_id(stream: Any, record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    record_id = record.get("id")
    if isinstance(record_id, str):
        return key_label(record_id)
    keys = PRIMARY_KEYS.get(stream, ()) if isinstance(stream, str) else ()
    values = [record.get(key) for key in keys]
    if not values or not all(isinstance(v, (str, int, float)) for v in values):
        return None
    try:
        return "|".join(key_label(v) for v in values)
    except ValueError:  # an integer too long to print
        return None


def raw_json(record: Any) -> str:
    """JSON text of any input, truncated to RAW_LIMIT bytes; never raises."""
    try:
        data = orjson.dumps(record, default=repr, option=orjson.OPT_NON_STR_KEYS)
    except Exception:
        try:
            data = dumps(record).encode()
        except Exception:
            try:
                data = repr(record).encode("utf-8", "backslashreplace")
            except Exception:
                data = f"<unprintable {type(record).__name__}>".encode()
    return data[:RAW_LIMIT].decode("utf-8", "ignore")
