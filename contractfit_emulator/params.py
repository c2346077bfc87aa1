"""Strict parsing of query parameters into typed values, or a 400 with a clear message."""

from __future__ import annotations

from typing import Any

from .errors import bad_request
from .timeutil import DateParseError, parse_us

Query = dict[str, str]
ORDER_KEYS = ("receive_time", "id")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def name_list(
    value: Any, known: tuple[str, ...], empty: str, unknown_label: str
) -> tuple[str, ...]:
    """Names from JSON (a list) or the CLI (comma-separated), each one of `known`.

    Shared by fault kinds and variant switches, so both read lists the same way.
    """
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(empty)
    names = tuple(str(v) for v in value)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {unknown_label} {unknown}; known: {list(known)}")
    return names


def get_int(query: Query, name: str, default: int, low: int, high: int | None = None) -> int:
    """An integer within [low, high]."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Invalid value for '{name}': {raw!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise bad_request(f"Invalid value for '{name}': {value} (must be {bounds})")
    return value


def get_bool(query: Query, name: str, default: bool) -> bool:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise bad_request(f"Invalid value for '{name}': {raw!r} is not a boolean")


def get_date(query: Query, name: str, required: bool = False) -> int | None:
    """An ISO 8601 date or date-time as microseconds (UTC when no offset is given)."""
    raw = query.get(name)
    if raw is None or raw == "":
        if required:
            raise bad_request(f"Missing required parameter: '{name}'")
        return None
    try:
        return parse_us(raw)
    except DateParseError:
        raise bad_request(f"Invalid date for '{name}': {raw!r}") from None


def get_order(query: Query) -> tuple[tuple[str, bool], ...] | None:
    """`order_by` as ((key, descending), ...); None when absent."""
    raw = query.get("order_by")
    if raw is None or raw.strip() == "":
        return None
    out: list[tuple[str, bool]] = []
    for part in raw.split(","):
        part = part.strip()
        descending = part.startswith("-")
        key = part[1:] if descending or part.startswith("+") else part
        if key not in ORDER_KEYS:
            raise bad_request(
                f"Invalid order_by key {part!r}: allowed keys are receive_time and id, "
                "with '-' for descending"
            )
        if any(k == key for k, _d in out):
            raise bad_request(f"Duplicate order_by key {key!r}")
        out.append((key, descending))
    return tuple(out)


def get_version_name(query: Query, default: str | None) -> str | None:
    """A version name: letters, digits, `_` and `-` only (the spec's pattern)."""
    raw = query.get("version_name")
    if raw is None or raw == "":
        return default
    if not all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in raw):
        raise bad_request(f"Invalid value for 'version_name': {raw!r}")
    return raw
