"""The vendor's own statistics, day by day: endpoints, and how their bodies become rows.

The stats endpoints aggregate over whatever window they are given, so a per-day series
is one request per inbox per day (`per_day`); volume and usage already answer per day,
so they take one request per window of at most 31 days. Every flattener validates the
body shape of API.md and raises a `ResponseFormatError` naming the endpoint otherwise.
Rows carry `inbox_id` and `date` plus the keys that make their primary key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from source_contractfit.api.errors import ResponseFormatError

Row = dict[str, Any]
ALL = "__all__"
VOLUME_STATUSES = ("received", "to_review", "submitted", "rejected", "escalated", "archived")
METRICS = ("accuracy", "precision", "recall", "f1", "tp", "fp", "fn", "tn", "count")
PROCESSING = ("count", "mean", "min", "max", "std", "p50", "p95", "p99")


@dataclass(frozen=True)
class DailyEndpoint:
    """How one dated stream is fetched: path template, fixed params, flattening."""

    path: str
    flatten: Callable[[str, str, Any], Iterable[Row]]
    params: dict[str, str] = field(default_factory=dict)
    per_day: bool = True
    # One request per variant (extra params), e.g. one per volume status.
    variants: tuple[dict[str, str], ...] = ({},)
    # Range endpoints answer only days with data; a day missing from the answer gets this
    # zero row, so a day whose count fell to 0 replaces its stale row downstream.
    zero: Callable[[dict[str, Any], str, dict[str, str]], Row] | None = None


def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ResponseFormatError(f"{what}: expected a JSON object, got {type(body).__name__}.")
    return body


def _number(value: Any) -> Any:
    # Numbers stay numbers; a missing metric is null. Anything else breaks the contract.
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise ResponseFormatError(f"expected a number or null, got {value!r}")


def _metrics(source: dict[str, Any], names: Iterable[str], what: str) -> Row:
    try:
        return {name: _number(source.get(name)) for name in names}
    except ResponseFormatError as error:
        raise ResponseFormatError(f"{what}: {error.message}") from None


def flatten_fields(inbox_id: str, day: str, body: Any) -> Iterator[Row]:
    """GET /stats/{inbox_id}: {field: {accuracy, ..., count}, "__all_fields__": {...}}."""
    what = f"GET /stats/{inbox_id}"
    for field_name, values in _object(body, what).items():
        metrics = _metrics(_object(values, f"{what} field {field_name!r}"), METRICS, what)
        yield {"inbox_id": inbox_id, "date": day, "field_name": field_name, **metrics}


def _levels(inbox_id: str, day: str, body: Any, what: str, names: tuple[str, ...]) -> Iterator[Row]:
    body = _object(body, what)
    version = body.get("version_name")
    for level, key in (("document", "documents"), ("section", "sections")):
        if key in body and body[key] is not None:
            values = _object(body[key], f"{what} {key}")
            yield _level_row(inbox_id, day, version, level, ALL, values, names, what)
    for field_name, values in _object(body.get("fields") or {}, f"{what} fields").items():
        values = _object(values, f"{what} field {field_name!r}")
        yield _level_row(inbox_id, day, version, "field", field_name, values, names, what)


def _level_row(
    inbox_id: str,
    day: str,
    version: Any,
    level: str,
    field_name: str,
    values: dict[str, Any],
    names: tuple[str, ...],
    what: str,
) -> Row:
    row: Row = {
        "inbox_id": inbox_id,
        "date": day,
        "level": level,
        "field_name": field_name,
        "version_name": version,
        **_metrics(values, names, what),
    }
    if "stp" in names:
        total = row["total"]
        row["rate"] = row["stp"] / total if total else None
    return row


def flatten_accuracy(inbox_id: str, day: str, body: Any) -> Iterator[Row]:
    return _levels(inbox_id, day, body, f"GET /stats/{inbox_id}/accuracy", ("correct", "total"))


def flatten_stp(inbox_id: str, day: str, body: Any) -> Iterator[Row]:
    return _levels(inbox_id, day, body, f"GET /stats/{inbox_id}/stp", ("stp", "total"))


def flatten_blockers(inbox_id: str, day: str, body: Any) -> Iterator[Row]:
    """One row per (field, reason), plus ("__all__", "blocked") with the day's totals."""
    what = f"GET /stats/{inbox_id}/automation_blockers"
    body = _object(body, what)
    totals = _metrics(body, ("total_documents", "blocked_documents"), what)
    yield {
        "inbox_id": inbox_id,
        "date": day,
        "field_name": ALL,
        "reason": "blocked",
        "documents": totals["blocked_documents"],
        **totals,
    }
    for field_name, reasons in _object(body.get("blockers") or {}, f"{what} blockers").items():
        for reason, count in _object(reasons, f"{what} blockers.{field_name}").items():
            yield {
                "inbox_id": inbox_id,
                "date": day,
                "field_name": field_name,
                "reason": reason,
                "documents": _metrics({"n": count}, ("n",), what)["n"],
                **totals,
            }


def flatten_processing(inbox_id: str, day: str, body: Any) -> Iterator[Row]:
    what = f"GET /stats/{inbox_id}/processing"
    groups = _object(_object(body, what).get("groups") or {}, f"{what} groups")
    for group, values in groups.items():
        metrics = _metrics(_object(values, f"{what} group {group!r}"), PROCESSING, what)
        yield {"inbox_id": inbox_id, "date": day, "page_count": str(group), **metrics}


def flatten_volume(inbox_id: str, _window: str, body: Any) -> Iterator[Row]:
    what = f"GET /stats/{inbox_id}/volume"
    body = _object(body, what)
    days = body.get("days")
    if not isinstance(days, list):
        raise ResponseFormatError(f"{what}: expected a 'days' list.")
    for item in days:
        item = _object(item, f"{what} day")
        yield {
            "inbox_id": inbox_id,
            "date": _date(item.get("date"), what),
            "status": body.get("status"),
            "count": _metrics(item, ("count",), what)["count"],
        }


def flatten_usage(inbox_id: str, _window: str, body: Any) -> Iterator[Row]:
    what = "GET /stats/usage"
    if not isinstance(body, list):
        raise ResponseFormatError(f"{what}: expected a JSON array, got {type(body).__name__}.")
    for item in body:
        item = _object(item, f"{what} row")
        if item.get("inbox_id") != inbox_id:
            continue
        yield {
            "inbox_id": inbox_id,
            "date": _date(item.get("date"), what),
            "inbox_name": item.get("inbox_name"),
            "project_id": item.get("project_id"),
            **_metrics(item, ("documents", "pages"), what),
        }


def _date(value: Any, what: str) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ResponseFormatError(f"{what}: {value!r} is not an ISO date.") from None


def _zero_volume(inbox: dict[str, Any], day: str, variant: dict[str, str]) -> Row:
    return {"inbox_id": inbox["id"], "date": day, "status": variant["status"], "count": 0}


def _zero_usage(inbox: dict[str, Any], day: str, _variant: dict[str, str]) -> Row:
    return {
        "inbox_id": inbox["id"],
        "date": day,
        "inbox_name": inbox.get("name"),
        "project_id": inbox.get("project"),
        "documents": 0,
        "pages": 0,
    }


ENDPOINTS: dict[str, DailyEndpoint] = {
    "stats_fields": DailyEndpoint("stats/{inbox_id}", flatten_fields),
    "stats_accuracy": DailyEndpoint("stats/{inbox_id}/accuracy", flatten_accuracy),
    "stats_stp": DailyEndpoint("stats/{inbox_id}/stp", flatten_stp),
    "stats_automation_blockers": DailyEndpoint(
        "stats/{inbox_id}/automation_blockers", flatten_blockers
    ),
    "stats_processing": DailyEndpoint(
        "stats/{inbox_id}/processing", flatten_processing, {"group_by": "pages"}
    ),
    "stats_volume": DailyEndpoint(
        "stats/{inbox_id}/volume",
        flatten_volume,
        per_day=False,
        variants=tuple({"status": status} for status in VOLUME_STATUSES),
        zero=_zero_volume,
    ),
    "usage": DailyEndpoint("stats/usage", flatten_usage, {}, per_day=False, zero=_zero_usage),
}
