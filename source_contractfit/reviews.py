"""Late reviews: documents read in an earlier sync that gained versions since.

A review (or reprocessing) adds versions to a document without changing its
`receive_time`, so the keyset walk never sees it again. `GET /stats/{inbox}/
evaluated_versions?filter_versions=true` lists documents by version timestamp; we ask it
for the time since the last sync (minus `lookback_days`, in windows of at most 31 days)
and fetch each document again. A document deleted meanwhile answers 404 and is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .client import ContractfitClient
from .documents import document_id_of, receive_time_of
from .errors import NotFoundError, ResponseFormatError
from .timeutil import format_datetime, parse_datetime

logger = logging.getLogger("source_contractfit.reviews")
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


def reviewed_document_ids(
    client: ContractfitClient,
    inbox_id: str,
    start: datetime,
    end: datetime,
    already_read: Callable[[datetime, str], bool],
) -> list[str]:
    """Ids of documents with a version in [start, end) that the walk will not read."""
    path = f"stats/{inbox_id}/evaluated_versions"
    body = client.get_json(
        path,
        {
            "start_date": format_datetime(start),
            "end_date": format_datetime(end),
            "filter_versions": True,
            "last_one_only": True,
        },
    )
    if not isinstance(body, dict) or not isinstance(body.get("documents"), list):
        raise ResponseFormatError(
            f"GET /{path}: expected {{'documents': [...]}} (API.md), got {type(body).__name__}."
        )
    ids = []
    for item in body["documents"]:
        if not isinstance(item, dict) or not isinstance(item.get("document_id"), str):
            raise ResponseFormatError(f"GET /{path}: an item has no string 'document_id'.")
        try:
            received = parse_datetime(item["receive_time"])
        except (KeyError, TypeError, ValueError):
            raise ResponseFormatError(
                f"GET /{path}: document {item['document_id']} has no valid receive_time."
            ) from None
        if already_read(received, item["document_id"]):
            ids.append(item["document_id"])
    return ids


def fetch_documents(
    client: ContractfitClient,
    executor: Executor,
    ids: list[str],
    counters: ReviewCounters,
    prefetch: int,
) -> Iterator[dict[str, Any]]:
    """GET /documents/{id} for each id, `prefetch` in flight, yielded in order; 404 skipped."""

    def fetch(doc_id: str) -> dict[str, Any] | None:
        try:
            document = client.get_json(f"documents/{doc_id}")
        except NotFoundError:
            return None
        where = f"documents/{doc_id}"
        document_id_of(document, where)
        receive_time_of(document, where)
        return dict(document)

    pending: list[Future[dict[str, Any] | None]] = []
    queue = iter(ids)
    for doc_id in queue:
        pending.append(executor.submit(fetch, doc_id))
        if len(pending) >= prefetch:
            break
    while pending:
        document = pending.pop(0).result()
        next_id = next(queue, None)
        if next_id is not None:
            pending.append(executor.submit(fetch, next_id))
        if document is None:
            counters.deleted += 1
            continue
        counters.fetched += 1
        yield document


def late_reviews(
    client: ContractfitClient,
    executor: Executor,
    inbox_id: str,
    start: datetime,
    end: datetime,
    already_read: Callable[[datetime, str], bool],
    counters: ReviewCounters,
    prefetch: int,
) -> Iterator[ReviewedDocument | ReviewsChecked]:
    """Yield re-read documents window by window, each window closed by `ReviewsChecked`."""
    seen: set[str] = set()
    for window_start, window_end in windows(start, end):
        ids = [
            doc_id
            for doc_id in reviewed_document_ids(
                client, inbox_id, window_start, window_end, already_read
            )
            if doc_id not in seen
        ]
        seen.update(ids)
        counters.found += len(ids)
        for document in fetch_documents(client, executor, ids, counters, prefetch):
            yield ReviewedDocument(document)
        yield ReviewsChecked(window_end)
