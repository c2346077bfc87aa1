"""Date-time parsing and formatting in the one shape the API speaks (UTC, `Z`, microseconds)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

UTC = timezone.utc
ONE_MICROSECOND = timedelta(microseconds=1)


def parse_datetime(value: str) -> datetime:
    """ISO 8601 with or without `Z`, fraction or time; a value without offset is UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """The server's own format, so cursors compare as strings and round-trip exactly.

    The year always has four digits: `strftime("%Y")` writes year 1 as `1` on glibc."""
    utc = value.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


def utcnow() -> datetime:
    return datetime.now(UTC)
