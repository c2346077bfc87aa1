"""Late reviews: documents read in an earlier sync that gained versions since.

A review (or reprocessing) adds versions to a document without changing its
`receive_time`, so the keyset walk never sees it again. `GET /stats/{inbox}/
evaluated_versions?filter_versions=true` lists documents by version timestamp; we ask it
for the time since the last sync (minus `lookback_days`, in windows of at most 31 days)
and fetch each document again. A document deleted meanwhile answers 404 and is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from source_contractfit.api.client import ContractfitClient, expect_page
from source_contractfit.api.errors import NotFoundError, ResponseFormatError
from source_contractfit.read.concurrency import prefetch_map
from source_contractfit.read.walk import Position, document_id_of, receive_time_of, walk_inbox
from source_contractfit.timeutil import ONE_MICROSECOND, format_datetime, parse_datetime

logger = logging.getLogger("source_contractfit.read.reviews")
MAX_WINDOW = timedelta(days=31)


@dataclass(frozen=True)
class ReviewedDocument:
    document: dict[str, Any]


@dataclass(frozen=True)
class ReviewsChecked:
    """Every review up to `until` has been emitted for this inbox."""

    until: datetime


@dataclass
class ReviewCounters:
    found: int = 0
    fetched: int = 0
    deleted: int = 0


def windows(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive [a, b) windows covering [start, end), none longer than 31 days."""
    while start < end:
        stop = min(start + MAX_WINDOW, end)
        yield start, stop
        start = stop


def canonical(stamp: str) -> str:
    """A timestamp in the server's own format, so it compares with what we stored."""
    if len(stamp) == 27 and stamp.endswith("Z"):
        return stamp
    try:
        return format_datetime(parse_datetime(stamp))
    except ValueError:
        return stamp


def reviewed_documents(
    client: ContractfitClient,
    inbox_id: str,
    start: datetime,
    end: datetime,
    already_read: Callable[[datetime, str], bool],
    already_have: Callable[[str, set[str]], bool],
) -> list[tuple[datetime, str]]:
    """(receive_time, id) of documents with a version in [start, end) that the walk will not
    read and whose listed versions we have not already emitted."""
    path = client.path("stats/{inbox_id}/evaluated_versions", inbox_id=inbox_id)
    body = client.get_json(
        path,
        {
            "start_date": format_datetime(start),
            "end_date": format_datetime(end),
            "filter_versions": True,
            "last_one_only": False,
        },
    )
    if not isinstance(body, dict) or not isinstance(body.get("documents"), list):
        raise ResponseFormatError(
            f"GET /{path}: expected {{'documents': [...]}} (API.md), got {type(body).__name__}."
        )
    found = []
    for item in body["documents"]:
        if not isinstance(item, dict) or not isinstance(item.get("document_id"), str):
            raise ResponseFormatError(f"GET /{path}: an item has no string 'document_id'.")
        try:
            received = parse_datetime(item["receive_time"])
        except (KeyError, TypeError, ValueError):
            raise ResponseFormatError(
                f"GET /{path}: document {item['document_id']} has no valid receive_time."
            ) from None
        stamps = {
            canonical(v["timestamp"])
            for v in item.get("versions") or ()
            if isinstance(v, dict) and isinstance(v.get("timestamp"), str)
        }
        doc_id = item["document_id"]
        if already_read(received, doc_id) and not (stamps and already_have(doc_id, stamps)):
            found.append((received, doc_id))
    return found


@dataclass(frozen=True)
class WindowFetch:
    """Walk [start, end) of the inbox and keep the `ids` found there."""

    start: datetime
    end: datetime
    ids: frozenset[str]


@dataclass(frozen=True)
class SingleFetch:
    """GET /documents/{id} for each of `ids`."""

    ids: tuple[str, ...]


FetchStep = WindowFetch | SingleFetch


def plan_fetches(
    candidates: list[tuple[datetime, str]],
    count_in_window: Callable[[datetime, datetime], int],
    per_page: int,
    max_depth: int = 3,
) -> list[FetchStep]:
    """Fewest requests to re-read the candidates: one GET each, or a walk of their window.

    A cluster of k reviewed documents spanning a window of n documents costs k requests
    one by one, or ceil(n / per_page) pages walked. Reviews cluster in time (a review
    queue is worked newest first), so clusters are split at their widest time gap and
    each part priced with one cheap `per_page=1` request, a few levels deep at most.
    """
    ordered = sorted(candidates)

    def split(cluster: list[tuple[datetime, str]], depth: int) -> list[FetchStep]:
        if len(cluster) <= 2 or depth >= max_depth:
            return [SingleFetch(tuple(doc_id for _, doc_id in cluster))]
        start, end = cluster[0][0], cluster[-1][0] + ONE_MICROSECOND
        pages = -(-count_in_window(start, end) // per_page)
        if pages < len(cluster):
            return [WindowFetch(start, end, frozenset(doc_id for _, doc_id in cluster))]
        gaps = [cluster[i + 1][0] - cluster[i][0] for i in range(len(cluster) - 1)]
        cut = gaps.index(max(gaps)) + 1
        return split(cluster[:cut], depth + 1) + split(cluster[cut:], depth + 1)

    return split(ordered, 0) if ordered else []


def fetch_documents(
    client: ContractfitClient,
    executor: Executor,
    ids: Sequence[str],
    counters: ReviewCounters,
    prefetch: int,
) -> Iterator[dict[str, Any]]:
    """GET /documents/{id} for each id, `prefetch` in flight, yielded in order; 404 skipped."""

    def fetch(doc_id: str) -> dict[str, Any] | None:
        where = client.path("documents/{doc_id}", doc_id=doc_id)
        try:
            document = client.get_json(where)
        except NotFoundError:
            return None
        document_id_of(document, where)
        receive_time_of(document, where)
        return dict(document)

    for document in prefetch_map(executor, fetch, ids, prefetch):
        if document is None:
            counters.deleted += 1
            continue
        counters.fetched += 1
        yield document


def _walk_window(
    client: ContractfitClient,
    inbox_id: str,
    step: WindowFetch,
    per_page: int,
    counters: ReviewCounters,
) -> Iterator[dict[str, Any]]:
    found = 0
    position = Position(step.start)
    for document in walk_inbox(client, inbox_id, position, per_page, end=step.end):
        if document["id"] in step.ids:
            found += 1
            yield document
    counters.fetched += found
    counters.deleted += len(step.ids) - found


def late_reviews(
    client: ContractfitClient,
    executor: Executor,
    inbox_id: str,
    start: datetime,
    end: datetime,
    already_read: Callable[[datetime, str], bool],
    already_have: Callable[[str, set[str]], bool],
    counters: ReviewCounters,
    per_page: int,
    prefetch: int,
) -> Iterator[ReviewedDocument | ReviewsChecked]:
    """Yield every document reviewed in [start, end) that an earlier sync read, then
    `ReviewsChecked(end)`. Killed before that marker, the next sync looks again."""
    candidates: dict[str, datetime] = {}
    for window_start, window_end in windows(start, end):
        for received, doc_id in reviewed_documents(
            client, inbox_id, window_start, window_end, already_read, already_have
        ):
            candidates[doc_id] = received
    counters.found += len(candidates)
    path = client.path("inboxes/{inbox_id}/paginated", inbox_id=inbox_id)

    def count_in_window(window_start: datetime, window_end: datetime) -> int:
        body = client.get_json(
            path,
            {
                "start_receive_date": format_datetime(window_start),
                "end_receive_date": format_datetime(window_end),
                "per_page": 1,
                "page": 1,
            },
        )
        expect_page(body, path)
        total = body.get("total")
        if isinstance(total, bool) or not isinstance(total, int):
            raise ResponseFormatError(f"GET /{path}: page without an integer 'total'.")
        return total

    pairs = [(received, doc_id) for doc_id, received in candidates.items()]
    for step in plan_fetches(pairs, count_in_window, per_page):
        if isinstance(step, WindowFetch):
            documents = _walk_window(client, inbox_id, step, per_page, counters)
        else:
            documents = fetch_documents(client, executor, step.ids, counters, prefetch)
        for document in documents:
            yield ReviewedDocument(document)
    yield ReviewsChecked(end)
