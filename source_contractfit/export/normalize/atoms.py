"""One annotation atom or line-item cell -> the typed value columns fields and line_items share.

An atom is `{value, text, confidence, upper_left, lower_right, flagged, gold, correct}`;
`value` is typed (string, number, ISO date string, boolean), so it is stored four ways:
`value` (text form, see values.py), `value_number`, `value_date`, `value_bool`. That keeps
one column per meaning while a multi-typed JSON value still has one SQL type per column.
Coordinates `[page, line, char]` may have fewer items (missing ones are null), not more.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from source_contractfit.export.normalize.drift import Extra, collect_unknown, extra_json
from source_contractfit.export.normalize.known import ATOM_KEYS
from source_contractfit.export.normalize.schemas import VALUE_COLUMNS
from source_contractfit.export.normalize.values import (
    INT64_MAX,
    INT64_MIN,
    NormalizationError,
    boolean,
    integer,
    kind,
    number,
    text,
    value_bool,
    value_date,
    value_number,
    value_text,
)

NULL_VALUES: dict[str, Any] = {**dict.fromkeys(name for name, _ in VALUE_COLUMNS), "extra": None}


def atom_values(atom: Any, table: str, drift: Counter[str]) -> dict[str, Any]:
    """The value columns plus `extra` of one atom; a null atom keeps its place as all-null."""
    if atom is None:
        return dict(NULL_VALUES)
    if not isinstance(atom, dict):
        raise NormalizationError(f"expected an object or null, got {kind(atom)}")
    extra: Extra = {}
    upper = _coordinate(atom.get("upper_left"), "upper_left", 3)
    lower = _coordinate(atom.get("lower_right"), "lower_right", 3)
    textual = atom.get("textual_coord")
    if textual is not None:
        if upper is None and lower is None:
            both = _coordinate(textual, "textual_coord", 6) or (None,) * 6
            upper, lower = both[:3], both[3:]
        else:
            extra["textual_coord"] = textual
    page = upper[0] if upper is not None else lower[0] if lower is not None else None
    value = atom.get("value")
    collect_unknown(atom, ATOM_KEYS, extra, drift, table)
    return {
        "value": value_text(value, "value"),
        "value_number": value_number(value),
        "value_date": value_date(value),
        "value_bool": value_bool(value),
        "text": text(atom.get("text"), "text"),
        "confidence": number(atom.get("confidence"), "confidence"),
        "page": page,
        "ul_line": upper[1] if upper is not None else None,
        "ul_char": upper[2] if upper is not None else None,
        "lr_line": lower[1] if lower is not None else None,
        "lr_char": lower[2] if lower is not None else None,
        "flagged": boolean(atom.get("flagged"), "flagged"),
        "gold": value_text(atom.get("gold"), "gold"),
        "correct": boolean(atom.get("correct"), "correct"),
        "extra": extra_json(extra),
    }


def _coordinate(value: Any, name: str, size: int) -> tuple[int | None, ...] | None:
    if value is None:
        return None
    if (
        type(value) is list
        and len(value) == size
        and all(type(i) is int and INT64_MIN <= i <= INT64_MAX for i in value)
    ):
        return tuple(value)  # the common case: [page, line, char] of plain ints
    if not isinstance(value, list) or len(value) > size:
        raise NormalizationError(
            f"expected an array of at most {size} integers or null, got {kind(value)}", (name,)
        )
    try:
        items = [integer(item, f"[{index}]") for index, item in enumerate(value)]
    except NormalizationError as error:
        raise error.within(name) from None
    return (*items, *([None] * (size - len(items))))
