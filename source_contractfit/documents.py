"""Reading an inbox's documents without losing or repeating one while the inbox changes.

Page numbers over a live list shift under inserts and deletes, so we never ask for page 2
of a moving list. Instead we walk ascending `receive_time,id` with a keyset window: each
request asks for page 1 from the last `receive_time` seen (inclusive), and skips the ids
already emitted at exactly that instant. A run of documents sharing one `receive_time`
that fills a whole page cannot be walked that way, so that instant is isolated in a
one-microsecond window and paged on its own, re-read until a pass sees the group stable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .client import ContractfitClient, expect_page
from .errors import ResponseFormatError
from .timeutil import ONE_MICROSECOND, format_datetime, parse_datetime

logger = logging.getLogger("source_contractfit.documents")
ORDER_ASCENDING = "receive_time,id"
MAX_TIE_PASSES = 10


@dataclass
class Position:
    """Where a walk stands: every document before `receive_time`, and `ids_at` at it, is read.

    This is also exactly what the incremental state stores per inbox.
    """

    receive_time: datetime | None = None
    ids_at: set[str] = field(default_factory=set)

    def seen(self, doc_time: datetime, doc_id: str) -> bool:
        if self.receive_time is None:
            return False
        if doc_time < self.receive_time:
            return True
        return doc_time == self.receive_time and doc_id in self.ids_at

    def advance(self, doc_time: datetime, doc_id: str) -> None:
        if self.receive_time is None or doc_time > self.receive_time:
            self.receive_time = doc_time
            self.ids_at = {doc_id}
        elif doc_time == self.receive_time:
            self.ids_at.add(doc_id)


def receive_time_of(document: Any, where: str) -> datetime:
    """The document's cursor value, or a clear error naming the document."""
    try:
        raw = document["timings"]["receive_time"]
        return parse_datetime(raw)
    except (KeyError, TypeError, ValueError, AttributeError):
        doc_id = document.get("id") if isinstance(document, dict) else None
        raise ResponseFormatError(
            f"{where}: document {doc_id!r} has no valid timings.receive_time "
            "(API.md: every Document carries an ISO 8601 receive_time)."
        ) from None


def document_id_of(document: Any, where: str) -> str:
    if isinstance(document, dict) and isinstance(document.get("id"), str):
        return str(document["id"])
    raise ResponseFormatError(f"{where}: a result is not a Document with a string 'id'.")


def walk_inbox(
    client: ContractfitClient,
    inbox_id: str,
    position: Position,
    per_page: int,
    end: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield every document of the inbox after `position` (mutated as documents are yielded).

    `position` is advanced *before* each yield returns control, so a checkpoint taken by the
    consumer right after receiving a document covers that document.
    """
    path = f"inboxes/{inbox_id}/paginated"
    while True:
        params: dict[str, str | int | bool | None] = {
            "order_by": ORDER_ASCENDING,
            "per_page": per_page,
            "page": 1,
            "start_receive_date": _fmt(position.receive_time),
            "end_receive_date": _fmt(end),
        }
        results = expect_page(client.get_json(path, params), path)
        if not results:
            return
        stamped = [(receive_time_of(d, path), document_id_of(d, path), d) for d in results]
        first_time, last_time = stamped[0][0], stamped[-1][0]
        if position.receive_time is not None and first_time < position.receive_time:
            raise ResponseFormatError(
                f"GET /{path} returned documents before start_receive_date; the server "
                "does not honour the window, so a drift-proof read is impossible."
            )
        if len(results) >= per_page and first_time == last_time:
            yield from _walk_tie_group(client, path, first_time, position, per_page)
            # Everything at this instant is read; the next window starts just after it.
            position.receive_time, position.ids_at = first_time + ONE_MICROSECOND, set()
            continue
        for doc_time, doc_id, document in stamped:
            if position.seen(doc_time, doc_id):
                continue
            position.advance(doc_time, doc_id)
            yield document
        if len(results) < per_page:
            return


def _walk_tie_group(
    client: ContractfitClient,
    path: str,
    instant: datetime,
    position: Position,
    per_page: int,
) -> Iterator[dict[str, Any]]:
    """Page through the documents received at exactly `instant`, until a stable pass."""
    window: dict[str, str | int | bool | None] = {
        "order_by": "id",
        "per_page": per_page,
        "start_receive_date": format_datetime(instant),
        "end_receive_date": format_datetime(instant + ONE_MICROSECOND),
    }
    for _ in range(MAX_TIE_PASSES):
        pass_ids: set[str] = set()
        totals: set[int] = set()
        page = 1
        while True:
            body = client.get_json(path, {**window, "page": page})
            results = expect_page(body, path)
            totals.add(_total(body, path))
            for document in results:
                doc_id = document_id_of(document, path)
                pass_ids.add(doc_id)
                if position.seen(instant, doc_id):
                    continue
                position.advance(instant, doc_id)
                yield document
            if len(results) < per_page:
                break
            page += 1
        if len(totals) == 1 and len(pass_ids) >= totals.pop():
            return
        logger.info("documents at %s changed while paging; reading them again", instant)
    raise ResponseFormatError(
        f"GET /{path}: the {format_datetime(instant)} group kept changing over "
        f"{MAX_TIE_PASSES} passes; giving up rather than risk a lost document."
    )


def _total(body: dict[str, Any], path: str) -> int:
    total = body.get("total")
    if isinstance(total, bool) or not isinstance(total, int):
        raise ResponseFormatError(f"GET /{path}: page without an integer 'total'.")
    return total


def _fmt(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)
