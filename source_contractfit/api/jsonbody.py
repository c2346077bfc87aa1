"""JSON bodies decoded without losing a digit.

orjson is fast but turns an integer outside the 64-bit range into a float, so a 30-digit
number the API sends would be stored as `1e+30`. A body where a JSON value starts with 19
digits or more (after `:`, `,` or `[`, maybe a minus sign) is decoded by the standard
library instead, which keeps integers of any size exactly. The scan is one C-level regex
search; a long digit run inside a string (an IBAN: `"CH9300762011623852957"`) does not
match, so nearly every body keeps orjson's speed.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Digits become `0`, so one `find` (memmem, C speed) locates every run of 19 digits; only
# those few runs (IBANs, mostly) are then looked at in Python. A regex anchored on `:`
# would try every key of the body and cost more than decoding it.
_DIGITS = bytes.maketrans(b"0123456789", b"0" * 10)
_RUN = b"0" * 19
_BEFORE_VALUE = frozenset(b":,[")
_SPACE = frozenset(b" \t\r\n")
_MAYBE_VALUE = _BEFORE_VALUE | _SPACE | {0x2D}


def _no_constant(name: str) -> Any:
    # orjson refuses NaN and Infinity; the fallback must refuse the same bodies.
    raise ValueError(f"{name} is not JSON")


def needs_exact(body: bytes | bytearray) -> bool:
    """Whether `body` may hold an integer orjson cannot keep (64 bits or more): a run of
    19 digits or more that starts a JSON value (after `:`, `,` or `[`, maybe `-`)."""
    digits = body.translate(_DIGITS)
    find = digits.find
    start = find(_RUN)
    while start != -1:
        if not start or body[start - 1] in _MAYBE_VALUE and _starts_value(body, start):
            return True
        start = find(_RUN, start + len(_RUN))  # inside a longer run, a digit precedes
    return False


def _starts_value(body: bytes | bytearray, start: int) -> bool:
    before = start - 1
    if body[before] == 0x2D:  # "-"
        before -= 1
    while before >= 0 and body[before] in _SPACE:
        before -= 1
    return before < 0 or body[before] in _BEFORE_VALUE


def loads(body: bytes | bytearray) -> Any:
    """The JSON value of `body`, integers exact; `orjson.JSONDecodeError` if not JSON."""
    if not needs_exact(body):
        return orjson.loads(body)
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        # One error type for callers, whichever decoder ran (JSONDecodeError subclasses
        # ValueError, as orjson's does).
        raise orjson.JSONDecodeError(str(error), "", 0) from None
