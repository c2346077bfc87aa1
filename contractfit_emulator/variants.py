"""Switches for the other legal readings of API.md (and plain server faults), all off.

Wherever API.md leaves room, the emulator's default is one choice; a real server may make
another. Each switch plays one such choice so the connector's tests can prove it against
more than our own reading. Wire-level faults (cut bodies, trickled bodies, oversized and
gzip-bomb bodies) are fault kinds in `faults.py`; these are the data-level ones.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from .params import name_list
from .stats import VOLUME_STATUSES

# One document of the first inbox carries this receive time under `future_document`.
FUTURE_RECEIVE_TIME = "2099-01-01T00:00:00.000000Z"


@dataclass(frozen=True, slots=True)
class Variants:
    """How this emulator departs from its default reading of API.md."""

    # An evaluated field with neither prediction nor gold is `[]`, not one placeholder atom.
    empty_evaluated_lists: bool = False
    # Volume statuses the server supports; any other answers 400 "Not Supported".
    volume_statuses: tuple[str, ...] | None = None
    # `order_by` is ignored on /paginated: results come newest first (API.md's default).
    ignore_order_by: bool = False
    # One extra document of the first inbox is received in 2099.
    future_document: bool = False
    # A window holding a single instant answers page 1 whatever `page` asks (a tie page
    # repeated forever).
    repeat_tie_page: bool = False
    # Every window answers page 1 whatever `page` asks (a server that does not page).
    repeat_pages: bool = False

    def body(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.volume_statuses is not None:
            out["volume_statuses"] = list(self.volume_statuses)
        return out


def parse_variants(raw: dict[str, Any], base: Variants | None = None) -> Variants:
    """Variants from JSON-like values (control body, CLI `name=value` pairs)."""
    known = {f.name for f in fields(Variants)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"unknown variants {unknown}; known: {sorted(known)}")
    changes: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "volume_statuses":
            changes[name] = _statuses(value)
        else:
            changes[name] = _flag(name, value)
    return replace(base or Variants(), **changes)


def parse_cli(items: list[str]) -> Variants:
    """`--variant NAME` (a switch on) or `--variant NAME=VALUE`."""
    raw: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        raw[name.strip()] = value.strip() if sep else True
    return parse_variants(raw)


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "on", "yes", "0", "false", "off"):
        return value.lower() in ("1", "true", "on", "yes")
    raise ValueError(f"variant {name} takes true or false, got {value!r}")


def _statuses(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    empty = "volume_statuses must be a non-empty list of statuses"
    return name_list(value, VOLUME_STATUSES, empty, "volume statuses")
