"""How the report writes a value, the same in the terminal and in the page: "-" for none."""

from __future__ import annotations

from typing import Any


def missing(value: Any) -> bool:
    """None, NaN or NaT: what pandas gives for a SQL NULL."""
    try:
        import pandas as pd

        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def pct(value: Any) -> str:
    return "-" if missing(value) else f"{100 * float(value):.1f}%"


def num(value: Any, digits: int = 1) -> str:
    if missing(value):
        return "-"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and digits == 0):
        return f"{int(value):,}"
    return f"{float(value):,.{digits}f}"


def month(value: Any) -> str:
    """A month as YYYY-MM ("all" for the whole-history row)."""
    return "all" if missing(value) else str(value)[:7]
