"""Reading the dated stats streams: per inbox, per UTC day, re-reading the recent past.

Late reviews change the stats of the days their documents were received, so each sync
starts `lookback_days` before the last day it read (that day included, it may have been
partial) and runs to today. No day before the inbox's first document or before
`start_date`, and none after today, is ever asked for. The state (per inbox,
the last day fully emitted) is parsed and written by `state.py`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from source_contractfit.api.client import expect_page
from source_contractfit.api.errors import BadRequestError, PermissionDeniedError
from source_contractfit.read.concurrency import PartitionDone, interleave, prefetch_map
from source_contractfit.read.context import ReadContext
from source_contractfit.read.events import Checkpoint, Item, Record
from source_contractfit.read.state import dated_blob, parse_dated_state
from source_contractfit.read.walk import (
    ORDER_ASCENDING,
    check_page,
    document_id_of,
    receive_time_of,
)
from source_contractfit.timeutil import UTC, format_datetime

logger = logging.getLogger("source_contractfit.read.dated")
MAX_WINDOW_DAYS = 31
_REFUSE_LOCK = threading.Lock()
Row = dict[str, Any]


class DailyEndpoint(Protocol):
    """How one dated stream is fetched (a definition of `streams/stats.py` is one)."""

    @property
    def path(self) -> str:
        """The path template; `{inbox_id}` in it scopes a request to the inbox, otherwise
        (a window endpoint) the inbox goes in the `inbox_id` parameter."""

    @property
    def flatten(self) -> Callable[[str, str, Any], Iterable[Row]]:
        """(inbox_id, day, body) -> rows; a window endpoint gets "" and dates each row."""

    @property
    def params(self) -> Mapping[str, str]:
        """Fixed parameters of every request."""

    @property
    def per_day(self) -> bool:
        """One request per day (the endpoint aggregates its window), or one per window of
        at most MAX_WINDOW_DAYS days (it answers day by day)."""

    @property
    def variants(self) -> tuple[Mapping[str, str], ...]:
        """One request per variant (extra params), e.g. one per volume status."""

    @property
    def zero(self) -> Callable[[dict[str, Any], str, Mapping[str, str]], Row] | None:
        """Window endpoints answer only days with data; a day missing from the answer gets
        this zero row, so a day whose count fell to 0 replaces its stale row downstream."""


def _bounds(day: date, days: int = 1) -> dict[str, str]:
    start = datetime.combine(day, time(), UTC)
    return {
        "start_date": format_datetime(start),
        "end_date": format_datetime(start + timedelta(days=days)),
    }


def first_document_day(ctx: ReadContext, inbox_id: str) -> date | None:
    """The day the inbox's oldest document arrived: where 'all history' starts.

    Asked once per inbox and sync (the seven dated streams share the answer).
    """

    def ask() -> date | None:
        path = ctx.client.path("inboxes/{inbox_id}/paginated", inbox_id=inbox_id)
        # Two documents, so the order the answer relies on is checked (documents.py).
        params: dict[str, str | int] = {"order_by": ORDER_ASCENDING, "per_page": 2, "page": 1}
        results = expect_page(ctx.client.get_json(path, params), path)
        stamped = [(receive_time_of(d, path), document_id_of(d, path), d) for d in results]
        check_page(path, stamped, None, None, ORDER_ASCENDING)
        return stamped[0][0].date() if stamped else None

    return ctx.memo(("first_document_day", inbox_id), ask)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _fetch_day(
    ctx: ReadContext, endpoint: DailyEndpoint, inbox: dict[str, Any], day: date
) -> list[Row]:
    inbox_id = inbox["id"]
    path = ctx.client.path(endpoint.path, inbox_id=inbox_id)
    rows: list[Row] = []
    for variant in endpoint.variants:
        params = {**endpoint.params, **variant, **_bounds(day)}
        body = ctx.client.get_json(path, params)
        rows.extend(endpoint.flatten(inbox_id, day.isoformat(), body))
    return rows


def _fetch_window(
    ctx: ReadContext, endpoint: DailyEndpoint, inbox: dict[str, Any], days: list[date]
) -> list[tuple[date, list[Row]]]:
    """One request per variant for the whole window; rows grouped by day, zeros filled."""
    inbox_id = inbox["id"]
    path = ctx.client.path(endpoint.path, inbox_id=inbox_id)
    scope = {} if "{inbox_id}" in endpoint.path else {"inbox_id": inbox_id}
    by_day: dict[str, list[Row]] = {day.isoformat(): [] for day in days}
    refused = _refused_variants(ctx, endpoint)
    for variant in endpoint.variants:
        if _key(variant) in refused:
            continue
        params = {**endpoint.params, **variant, **scope, **_bounds(days[0], len(days))}
        try:
            body = ctx.client.get_json(path, params)
        except BadRequestError as error:
            if not variant or "not supported" not in error.message.lower():
                raise
            _refuse(ctx, endpoint, refused, variant, error)
            if all(_key(v) in refused for v in endpoint.variants):
                asked = ", ".join(_named(v) for v in endpoint.variants)
                raise BadRequestError(
                    f"GET /{path} supports none of {asked} (the last answer: {error.message})"
                ) from None
            continue
        seen = set()
        for row in endpoint.flatten(inbox_id, "", body):
            if row["date"] in by_day:
                by_day[row["date"]].append(row)
                seen.add(row["date"])
        if endpoint.zero is not None:
            for day_text, rows in by_day.items():
                if day_text not in seen:
                    rows.append(endpoint.zero(inbox, day_text, variant))
    return [(day, by_day[day.isoformat()]) for day in days]


def _key(variant: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(variant.items()))


def _named(variant: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(variant.items()))


def _refused_variants(ctx: ReadContext, endpoint: DailyEndpoint) -> set[tuple[Any, ...]]:
    """Variants (e.g. volume statuses) this server refused as "Not Supported" in this sync."""
    return ctx.memo(("refused_variants", endpoint.path), set)


def _refuse(
    ctx: ReadContext,
    endpoint: DailyEndpoint,
    refused: set[tuple[Any, ...]],
    variant: Mapping[str, str],
    error: BadRequestError,
) -> None:
    """API.md does not list the volume statuses; a status the server refuses with 400
    "Not Supported" is dropped for the rest of the run, with one warning naming it."""
    with _REFUSE_LOCK:
        if _key(variant) in refused:
            return
        refused.add(_key(variant))
    named = _named(variant)
    logger.warning(
        "GET /%s does not support %s (%s); it is skipped for the rest of this sync.",
        endpoint.path, named, error.message,
    )  # fmt: skip


def read_dated_stream(
    stream: str, endpoint: DailyEndpoint, ctx: ReadContext, blob: Mapping[str, Any] | None
) -> Iterator[Item]:
    config = ctx.config
    cursors = parse_dated_state(stream, blob)
    inboxes = ctx.inboxes()
    today = ctx.present().date()  # the server's today: it has no stats after it
    for inbox_id, cursor in list(cursors.items()):
        if cursor > today:  # no day after today is ever read: the state cannot be right
            logger.warning(
                "The state of stream %r, inbox %s, has its cursor at %s, after the server's "
                "today (%s); it is read again from its first day.",
                stream, inbox_id, cursor.isoformat(), today.isoformat(),
            )  # fmt: skip
            del cursors[inbox_id]
    floor = config.start_date.date() if config.start_date else None

    def partition(inbox: dict[str, Any]) -> Iterator[tuple[date, list[Row]]]:
        inbox_id = inbox["id"]
        try:
            # Never a day before the inbox's first document, whatever start_date says: a
            # start_date years before a young tenant cost 16,775 requests for zero rows
            # (and filled the tables with them) where 1,942 read everything.
            first = first_document_day(ctx, inbox_id)
            if first is None:
                return
            if floor is not None:
                first = max(first, floor)
            cursor = cursors.get(inbox_id)
            begin = (
                first if cursor is None else max(first, cursor - timedelta(config.lookback_days))
            )
            days = _days(begin, today)
            if not days:
                return
            if endpoint.per_day:
                yield from zip(
                    days,
                    prefetch_map(
                        ctx.executor(),
                        lambda day: _fetch_day(ctx, endpoint, inbox, day),
                        days,
                        config.max_concurrency,
                    ),
                    strict=True,
                )
            else:
                for i in range(0, len(days), MAX_WINDOW_DAYS):
                    yield from _fetch_window(ctx, endpoint, inbox, days[i : i + MAX_WINDOW_DAYS])
        except PermissionDeniedError:
            ctx.skip_inbox(inbox_id, "forbidden for these credentials (403)")

    since_checkpoint = 0
    work = [(inbox["id"], lambda i=inbox: partition(i)) for inbox in inboxes]
    for item in interleave(work, config.max_concurrency):
        if isinstance(item, PartitionDone):
            yield Checkpoint(stream, dated_blob(cursors))
            since_checkpoint = 0
            continue
        inbox_id, (day, rows) = item
        for row in rows:
            yield Record(stream, row)
        since_checkpoint += len(rows)
        if cursors.get(inbox_id) is None or day > cursors[inbox_id]:
            cursors[inbox_id] = day
        if since_checkpoint >= config.checkpoint_interval:
            yield Checkpoint(stream, dated_blob(cursors))
            since_checkpoint = 0
