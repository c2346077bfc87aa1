"""Time as integer microseconds since the Unix epoch (UTC), with the API's text format.

Integers keep windows and ordering exact (no float rounding at the boundaries) and
format fast enough to stamp hundreds of thousands of documents.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

US = 1_000_000
DAY_US = 86_400 * US
_EPOCH = date(1970, 1, 1)
_day_cache: dict[int, str] = {}

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_SPACED_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


class DateParseError(ValueError):
    """A query value that is not an ISO 8601 date or date-time."""


def day_string(day_number: int) -> str:
    """Return `YYYY-MM-DD` of a day counted from the epoch (cached: few distinct days)."""
    text = _day_cache.get(day_number)
    if text is None:
        text = (_EPOCH + timedelta(days=day_number)).isoformat()
        _day_cache[day_number] = text
    return text


def format_us(us: int) -> str:
    """Format as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the server's only output form."""
    day, rest = divmod(us, DAY_US)
    secs, micros = divmod(rest, US)
    hours, secs = divmod(secs, 3600)
    minutes, secs = divmod(secs, 60)
    return f"{day_string(day)}T{hours:02d}:{minutes:02d}:{secs:02d}.{micros:06d}Z"


def format_opt(us: int | None) -> str | None:
    """Format, keeping `None` as JSON null."""
    return None if us is None else format_us(us)


def date_of(us: int) -> str:
    """UTC calendar date of an instant."""
    return day_string(us // DAY_US)


def from_datetime(value: datetime) -> int:
    """Convert an aware or naive (= UTC) datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def parse_us(text: str) -> int:
    """Parse an ISO 8601 value; no offset means UTC; a bare date means midnight UTC.

    A literal `+` of an offset arrives as a space when the client did not encode it,
    so a space before the offset is read as `+`.
    """
    text = _SPACED_OFFSET.sub(r"\1+\2", text.strip())
    match = _ISO.match(text)
    if match is None:
        raise DateParseError(text)
    year, month, day, hour, minute, sec, frac, zone = match.groups()
    try:
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(sec or 0),
            int((frac or "0")[:6].ljust(6, "0")),
        )
    except ValueError as exc:
        raise DateParseError(text) from exc
    us = from_datetime(value)
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset_min = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
        us -= sign * offset_min * 60 * US
    return us


def now_us() -> int:
    """Current real UTC time in microseconds."""
    return from_datetime(datetime.now(timezone.utc))
