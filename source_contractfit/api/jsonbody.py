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
import re
from typing import Any

import orjson

_LONG_NUMBER = re.compile(rb"[:,\[]\s*-?\d{19}")


def _no_constant(name: str) -> Any:
    # orjson refuses NaN and Infinity; the fallback must refuse the same bodies.
    raise ValueError(f"{name} is not JSON")


def needs_exact(body: bytes | bytearray) -> bool:
    """Whether `body` may hold an integer orjson cannot keep (64 bits or more)."""
    return _LONG_NUMBER.search(body) is not None


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
