"""Schema drift: keys the tables do not know, kept in `extra` and counted.

Counting (rather than failing) lets a run finish when the vendor adds a field, while the
exporter's summary tells a person which new keys appeared and how often.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from source_contractfit.export.normalize.values import dumps, key_text

Extra = dict[str, Any]


def collect_unknown(
    obj: Mapping[str, Any],
    known: AbstractSet[str],
    extra: Extra,
    drift: Counter[str],
    table: str,
    prefix: str = "",
) -> None:
    """Copy keys of `obj` outside `known` into `extra` (as prefix+key) and count them."""
    if obj.keys() <= known:  # the common case, decided in C
        return
    for key, value in obj.items():
        if key not in known:
            label = prefix + key_text(key)
            extra[label] = value
            drift[f"{table}.{label}"] += 1


def extra_json(extra: Extra) -> str | None:
    """The `extra` column: JSON object text, or null when there is nothing extra."""
    return dumps(extra) if extra else None


def drift_report(drift: Mapping[str, int], limit: int = 50) -> list[str]:
    """Lines for a run summary, most frequent first: `  12  fields.ocr_engine`."""
    ordered = sorted(drift.items(), key=lambda item: (-item[1], item[0]))
    lines = [f"{count:>8}  {key}" for key, count in ordered[:limit]]
    if len(ordered) > limit:
        lines.append(f"{'':>8}  ... and {len(ordered) - limit} more keys")
    return lines
