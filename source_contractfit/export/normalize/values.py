"""Typed value parsing: JSON values in, column values out, or a `NormalizationError`.

Rules (one place, so every table coerces the same way):
- Widening is lenient: an int where a float is declared is fine, and so is an integral float
  (`3.0`) where an int is declared. Strings are never coerced into numbers, booleans or
  dates of a declared column: a string there means the API changed and a person should
  look, so the record is rejected instead of silently guessed.
- Text columns take strings only; a string that is not valid UTF-8 (lone surrogates,
  which a JSON parser can let through) gets U+FFFD instead, as Arrow needs UTF-8. The
  same goes for keys and values written into `extra` and `raw` (always strict JSON).
- Timestamps: ISO 8601 `YYYY-MM-DD[THH:MM[:SS[.fraction]]][Z|±HH:MM]`; without an offset
  the value is UTC; fractions beyond microseconds are truncated.
- `value_text` (the text form of a typed annotation value) follows the API's own `gold`
  rule so that `value = gold` compares in SQL: strings as is, booleans `true`/`false`,
  integers in decimal, floats as Python `repr` (shortest round-trip: `1210.0`, `0.1`,
  `1e+16`), objects and arrays as compact JSON, null stays null.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import orjson

from source_contractfit.api.errors import ResponseFormatError

UTC = timezone.utc
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_PATH_TEXT_LIMIT = 80

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII | re.IGNORECASE,
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)


class NormalizationError(ResponseFormatError):
    """A record that breaks the shape the tables need; `path` says where in the record."""

    def __init__(self, problem: str, path: tuple[str, ...] = ()) -> None:
        self.problem = problem
        self.path = path
        where = _join(path)
        super().__init__(f"{where}: {problem}" if where else problem)

    def within(self, *prefix: str) -> NormalizationError:
        """The same problem seen from the enclosing object (path grows outward)."""
        return NormalizationError(self.problem, (*prefix, *self.path))


def _join(path: tuple[str, ...]) -> str:
    out = ""
    for part in path:
        out += part if part.startswith("[") or not out else f".{part}"
    return out


def key_text(key: Any) -> str:
    """A dict key as stored in a column or in `extra`: valid UTF-8 text."""
    return clean(key) if isinstance(key, str) else repr(key)


def key_label(key: Any) -> str:
    """A dict key as it appears in a reason: readable and bounded."""
    label = key_text(key)
    return label if len(label) <= _PATH_TEXT_LIMIT else label[:_PATH_TEXT_LIMIT] + "…"


def kind(value: Any) -> str:
    """JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def clean(value: str) -> str:
    """The string itself when it is valid UTF-8, else with U+FFFD for the bad code points."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Via UTF-16: split surrogate pairs are joined, lone surrogates become U+FFFD.
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return clean(value)
    raise NormalizationError(f"expected a string or null, got {kind(value)}", (name,))


def integer(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if INT64_MIN <= value <= INT64_MAX:
            return value
        raise NormalizationError("integer out of the 64-bit range", (name,))
    if isinstance(value, float) and value.is_integer() and INT64_MIN <= value <= INT64_MAX:
        return int(value)
    raise NormalizationError(f"expected an integer or null, got {kind(value)}", (name,))


def number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise NormalizationError("number out of the float range", (name,)) from None
    raise NormalizationError(f"expected a number or null, got {kind(value)}", (name,))


def boolean(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise NormalizationError(f"expected a boolean or null, got {kind(value)}", (name,))


def timestamp(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise NormalizationError(f"expected an ISO date-time or null, got {kind(value)}", (name,))
    parsed = parse_timestamp(value)
    if parsed is None:
        raise NormalizationError(f"not an ISO date-time: {value[:40]!r}", (name,))
    return parsed


def parse_timestamp(value: str) -> datetime | None:
    """An aware UTC datetime, or None when the text is not an ISO date-time we accept."""
    match = _TIMESTAMP.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            micros, tzinfo=UTC,
        )  # fmt: skip
        if offset and offset.upper() != "Z":
            digits = offset[1:].replace(":", "")
            delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
            parsed = parsed - delta if offset[0] == "+" else parsed + delta
    except (ValueError, OverflowError):
        return None
    return parsed


def iso_date(value: Any, name: str) -> date | None:
    if value is None:
        return None
    parsed = parse_date(value) if isinstance(value, str) else None
    if parsed is None:
        raise NormalizationError(f"expected an ISO date (YYYY-MM-DD), got {kind(value)}", (name,))
    return parsed


def parse_date(value: str) -> date | None:
    match = _DATE.fullmatch(value)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def json_text(value: Any, name: str) -> str | None:
    """Compact JSON of any JSON-shaped value; null stays null."""
    if value is None:
        return None
    return dumps(value, name)


def dumps(value: Any, name: str | None = None) -> str:
    """Strict JSON text (valid UTF-8) of any JSON-shaped value, odd strings and huge ints too.

    orjson refuses lone surrogates and integers beyond 64 bits; then the value is cleaned
    (U+FFFD for bad code points, NaN/inf to null as orjson does) and written by `json`.
    """
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:
        return json.dumps(_plain(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as error:
        path = (name,) if name else ()
        raise NormalizationError(f"not serializable as JSON ({error})", path) from None


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key_text(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def value_text(value: Any, name: str = "value") -> str | None:
    """The text form of a typed value; see the module docstring for the rule."""
    if value is None:
        return None
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:
            raise NormalizationError("integer too long to print", (name,)) from None
    return dumps(value, name)


def value_number(value: Any) -> float | None:
    """A finite float for a number or a plain numeric string (no separators), else None;
    None too for an integer a float would round."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return _exact_float(value)
    if isinstance(value, str) and len(value) < 400 and _NUMBER.fullmatch(value):
        if _INTEGER.fullmatch(value):
            return _exact_float(int(value))
        parsed = float(value)
        return parsed if math.isfinite(parsed) else None
    return None


def _exact_float(value: int) -> float | None:
    """The float of an integer, or None when no float holds it exactly (some integers
    beyond 2**53 do not): `value` keeps the exact text, `value_number` stays NULL."""
    try:
        as_float = float(value)
    except OverflowError:
        return None
    return as_float if int(as_float) == value else None


def value_date(value: Any) -> date | None:
    return parse_date(value) if isinstance(value, str) else None


def value_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def mapping(value: Any, name: str) -> dict[str, Any] | None:
    """An object or null; anything else cannot hold the keys we read."""
    if value is None or isinstance(value, dict):
        return value
    raise NormalizationError(f"expected an object or null, got {kind(value)}", (name,))


def sequence(value: Any, name: str) -> list[Any]:
    """An array, null read as empty; anything else is rejected."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise NormalizationError(f"expected an array or null, got {kind(value)}", (name,))
