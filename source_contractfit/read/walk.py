"""Reading an inbox's documents without losing or repeating one while the inbox changes.

Page numbers over a live list shift under inserts and deletes, so we never ask for page 2
of a moving list. Instead we walk ascending `receive_time,id` with a keyset window: each
request asks for page 1 from the last `receive_time` seen (inclusive), and skips the ids
at exactly that instant up to the last one emitted there (pages are verified ascending, so
those are exactly the ones emitted; see `Position`). A run of documents sharing one
`receive_time` that fills a whole page cannot be walked that way, so that instant is
isolated in a one-microsecond window and paged in id order with overlapping, verified
fetches.

The walk is exact only if the server keeps what it relies on, so every page is checked
before any of its documents is handed out: ascending by (receive_time, id), inside the
window asked for, and bringing something new. A server that breaks this (one that ignores
`order_by` and answers newest first, API.md's default, or repeats a page whatever `page`
asks) fails the stream with a `ResponseFormatError` saying so; what was handed out before
is a verified prefix, so no cursor ever passes a document that was not emitted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from source_contractfit.api.client import ContractfitClient, Decoder, expect_page
from source_contractfit.api.errors import ResponseFormatError
from source_contractfit.timeutil import ONE_MICROSECOND, format_datetime, parse_datetime

logger = logging.getLogger("source_contractfit.read.walk")
ORDER_ASCENDING = "receive_time,id"
MAX_IDLE_PAGES = 3
# What one request costs, in documents served, when choosing page sizes: a server across
# the internet takes ~100 ms a request and ~2 ms a document; 20 rather than 50 favours
# fewer documents served twice over fewer requests (10k documents: 1.049 served per new
# one in 118 requests, against 1.064 in 117).
REQUEST_DOCUMENTS = 20


@dataclass
class Position:
    """Where a walk stands: every document before `receive_time` is read, and so is every
    document received at `receive_time` whose id is at most `last_id` (none when None).

    This is a keyset cursor on (receive_time, id), and also exactly what the incremental
    state stores per inbox: two scalars, whatever the size of a burst sharing one instant.

    Why `id <= last_id` is exact, not an approximation of "the ids emitted at the cursor":
    the walk hands out only documents of pages verified strictly ascending by
    (receive_time, id) (`check_page`), each page a contiguous run of the server's order
    that starts at the window's first document or overlaps what was already covered (the
    tie walk accepts a page only if its first id is not after the last id covered). So the
    documents handed out at one instant form a prefix of that instant's ids, handed out in
    ascending order: every document at `receive_time` with an id <= `last_id` that existed
    while the walk read it was handed out. Skipping them is what skipping "the emitted
    ones" did. The difference is only for a document that appears later at that instant
    with a smaller id: it lies behind the cursor, like a document that appears with an
    earlier `receive_time`, which no keyset cursor reads. (A server stamps arrivals with
    its present, so that takes a batch sharing one instant that becomes visible piecemeal
    with ids out of order; the former list of ids caught such a document only while the
    cursor still stood at that instant.)
    """

    receive_time: datetime | None = None
    last_id: str | None = None

    def seen(self, doc_time: datetime, doc_id: str) -> bool:
        if self.receive_time is None:
            return False
        if doc_time < self.receive_time:
            return True
        return doc_time == self.receive_time and self.last_id is not None and doc_id <= self.last_id

    def cover(self, other: Position) -> None:
        """Cover everything `other` covers too; never moves backwards."""
        if other.receive_time is None:
            return
        if self.receive_time is None or other.receive_time > self.receive_time:
            self.receive_time, self.last_id = other.receive_time, other.last_id
        elif (
            other.receive_time == self.receive_time
            and other.last_id is not None
            and (self.last_id is None or other.last_id > self.last_id)
        ):
            self.last_id = other.last_id

    def advance(self, doc_time: datetime, doc_id: str) -> None:
        """Cover (doc_time, doc_id) and everything before it; never moves backwards."""
        if self.receive_time is None or doc_time > self.receive_time:
            self.receive_time, self.last_id = doc_time, doc_id
        elif doc_time == self.receive_time and (self.last_id is None or doc_id > self.last_id):
            self.last_id = doc_id


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


Stamped = tuple[datetime, str, dict[str, Any]]  # (receive_time, id, document)


def walk_inbox(
    client: ContractfitClient,
    inbox_id: str,
    position: Position,
    per_page: int,
    end: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield every document of the inbox after `position` (see `walk_inbox_stamped`)."""
    return (
        document for _, _, document in walk_inbox_stamped(client, inbox_id, position, per_page, end)
    )


def walk_inbox_stamped(
    client: ContractfitClient,
    inbox_id: str,
    position: Position,
    per_page: int,
    end: datetime | None = None,
    decode: Decoder | None = None,
) -> Iterator[Stamped]:
    """Yield (receive_time, id, document) of every document after `position`, which is
    mutated as documents are yielded: the walk has parsed both, callers need not again.
    `decode` decodes the pages (ContractfitClient.get_json).

    `position` is advanced *before* each yield returns control, so a checkpoint taken by the
    consumer right after receiving a document covers that document.
    """
    path = client.path("inboxes/{inbox_id}/paginated", inbox_id=inbox_id)
    # Two documents per page at least: the order of a one-document page cannot be checked.
    per_page = max(per_page, 2)
    while True:
        start = position.receive_time
        params: dict[str, str | int | bool | None] = {
            "order_by": ORDER_ASCENDING,
            "per_page": per_page,
            "page": 1,
            "start_receive_date": _fmt(start),
            "end_receive_date": _fmt(end),
        }
        body = client.get_json(path, params, decode=decode)
        results = expect_page(body, path)
        if not results:
            return
        stamped: list[Stamped] = [
            (receive_time_of(d, path), document_id_of(d, path), d) for d in results
        ]
        check_page(path, stamped, start, end, ORDER_ASCENDING)
        if len(results) < per_page:
            check_short_page(path, body, 0, len(results))
        first_time, last_time = stamped[0][0], stamped[-1][0]
        if len(results) >= per_page and first_time == last_time:
            yield from _walk_tie_group(client, path, first_time, position, per_page, decode)
            # Everything at this instant is read; the next window starts just after it.
            position.receive_time, position.last_id = first_time + ONE_MICROSECOND, None
            continue
        before = (position.receive_time, position.last_id)
        yield from _unseen(position, stamped)
        if len(results) < per_page:
            return
        if (position.receive_time, position.last_id) == before:
            raise no_progress(path, "a full page of documents the walk had already read")


def check_page(
    path: str,
    stamped: list[Stamped],
    start: datetime | None,
    end: datetime | None,
    order_by: str,
) -> None:
    """Raise unless the page is strictly ascending by (receive_time, id) and in [start, end).

    (In a one-instant tie window all times are equal, so this is id order there.)
    """
    previous: tuple[datetime, str] | None = None
    for doc_time, doc_id, _ in stamped:
        if (start is not None and doc_time < start) or (end is not None and doc_time >= end):
            raise ResponseFormatError(
                f"GET /{path} returned document {doc_id} received at {format_datetime(doc_time)}, "
                f"outside the window asked for [{_fmt(start)}, {_fmt(end)}); the server does not "
                "honour the window (start_receive_date, end_receive_date), so this stream "
                "cannot be read exactly. Nothing after the last verified document was "
                "checkpointed."
            )
        if previous is not None and (doc_time, doc_id) <= previous:
            raise ResponseFormatError(
                f"GET /{path} does not keep order_by={order_by}: document {doc_id} "
                f"({format_datetime(doc_time)}) comes after {previous[1]} "
                f"({format_datetime(previous[0])}). The walk needs ascending pages to read a "
                "live inbox exactly, so this stream stops here; nothing after the last "
                "verified document was checkpointed."
            )
        previous = (doc_time, doc_id)


def page_total(body: Any) -> int | None:
    """The page's `total` (API.md: the size of the whole result set), None when absent."""
    total = body.get("total") if isinstance(body, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def check_short_page(path: str, body: Any, offset: int, count: int) -> None:
    """A short page ends a walk only if its own `total` agrees that nothing follows it."""
    total = page_total(body)
    if total is not None and offset + count < total:
        raise ResponseFormatError(
            f"GET /{path} answered a short page ({count} documents at offset {offset}) while "
            f"its total says {total}: the server's pages and totals disagree, so the end of "
            "this window cannot be trusted. Nothing after the last verified document was "
            "checkpointed."
        )


def no_progress(path: str, what: str) -> ResponseFormatError:
    """The error for a paging loop whose page brought nothing new: stop, never spin."""
    return ResponseFormatError(
        f"GET /{path} answered {what}: the server repeats pages instead of paging, so the "
        "walk stops rather than loop. Nothing after the last new document was checkpointed."
    )


def _walk_tie_group(
    client: ContractfitClient,
    path: str,
    instant: datetime,
    position: Position,
    per_page: int,
    decode: Decoder | None = None,
) -> Iterator[Stamped]:
    """Page through the documents received at exactly `instant`, in id order
    (`walk_positions` over the one-microsecond window of that instant)."""
    window = Window(instant, instant + ONE_MICROSECOND)
    for page in walk_positions(client, path, window, "id", position, per_page, decode):
        yield from page


@dataclass
class Window:
    """A receive-time window: `start` inclusive, `end` exclusive (None: open). The end of
    a window being walked may move earlier (parallel windows split it); each request asks
    for the window as it then is."""

    start: datetime | None
    end: datetime | None


@dataclass
class Pager:
    """How far an overlapping walk of one window has come (`walk_positions`)."""

    covered_end: int = 0  # positions [0, covered_end) are read, as of the last fetch
    last: tuple[datetime, str] | None = None  # the last document covered
    frontier: tuple[datetime, str] | None = None  # the furthest any accepted page reached
    margin: int = 0
    total: int | None = None  # the last page's `total` (documents in the window)
    finished: bool = False  # the last page was short: the window is read to its end
    # Documents covered at the instant of `last`, when that instant began on the last
    # page (None otherwise): what a page from that instant would repeat (`_restart`).
    at_last: int | None = None


def walk_positions(
    client: ContractfitClient,
    path: str,
    window: Window,
    order_by: str,
    position: Position,
    per_page: int,
    decode: Decoder | None = None,
    pager: Pager | None = None,
    restart: bool = False,
) -> Iterator[list[Stamped]]:
    """Yield, page by page, the documents of `window` that `position` has not covered, in
    ascending (receive_time, id) order, by page number with overlapping pages.

    Page numbers shift when documents are inserted or deleted, so a fixed page grid could
    skip a document. Each fetch therefore starts a margin before the end of what is
    covered (choosing a page size that makes that offset a page boundary), and is accepted
    only if it overlaps what we have: its first document is not after the last one
    covered. An accepted page is a contiguous run of the window as it is now, so every
    document that existed throughout is read; a gap (deletions shifted the positions
    left) widens the margin and the fetch is repeated, back to offset 0 if need be.
    Inserts only widen the overlap, whose documents `position` skips. `pager` (updated in
    place) resumes a walk whose first pages were read already. With `restart` (windows of
    receive time, ordered by it) the window's start may move up to the instant of the last
    document covered, when a page from there repeats fewer documents (`_restart`).
    """
    pager = pager if pager is not None else Pager()
    # Accepted full pages in a row that reached no further than `frontier` without a gap
    # having sent us back: a shift under inserts explains one or two, a server that
    # answers the same page whatever `page` asks explains more.
    idle = 0
    stepped_back = False
    # Fetches in a row, gaps included, that took `frontier` no further. Stepping back over
    # a gap and covering the window again costs at most about two fetches per page of it;
    # more than that is a server whose pages go nowhere (empty or ever-equal pages).
    stalled = 0
    while True:
        if restart:
            _restart(window, pager, per_page)
        low, high = window.start, window.end
        if high is not None and pager.last is not None and pager.last[0] >= high:
            return  # the window's end was moved before what is covered: it is read
        target = max(pager.covered_end - pager.margin, 0)
        start, size = _page_at_or_before(target, pager.covered_end, per_page)
        page = start // size + 1
        params: dict[str, str | int | bool | None] = {
            "order_by": order_by,
            "start_receive_date": _fmt(low),
            "end_receive_date": _fmt(high),
            "per_page": size,
            "page": page,
        }
        body = client.get_json(path, params, decode=decode)
        results = expect_page(body, path)
        stamped = [(receive_time_of(d, path), document_id_of(d, path), d) for d in results]
        check_page(path, stamped, low, high, order_by)
        keys = [(doc_time, doc_id) for doc_time, doc_id, _ in stamped]
        pager.total = total = page_total(body)
        stall_limit = 2 * -(-(total if total is not None else 10 * per_page) // size) + 8
        if pager.frontier is None or (keys and keys[-1] > pager.frontier):
            stalled = 0
        else:
            stalled += 1
            if stalled > stall_limit:
                raise no_progress(path, f"{stalled} pages in a row with no new document")
        if pager.last is not None and start > 0 and (not keys or keys[0] > pager.last):
            pager.margin = 2 * pager.margin + size  # a gap may hide documents: step back
            stepped_back = True
            continue
        if len(results) < size:
            check_short_page(path, body, start, len(results))
            pager.covered_end, pager.finished = start + len(results), True
        yield list(_unseen(position, stamped))
        if pager.finished:
            return
        if pager.frontier is None or keys[-1] > pager.frontier:
            pager.frontier, idle, stepped_back = keys[-1], 0, False
        elif not stepped_back:
            idle += 1
            if idle >= MAX_IDLE_PAGES:
                raise no_progress(path, f"page {page} again and again with no new document")
        pager.covered_end, pager.last = start + size, keys[-1]
        pager.margin = max(pager.margin // 2, 1)
        last_time = keys[-1][0]
        began_here = keys[0][0] < last_time
        pager.at_last = sum(1 for t, _ in keys if t == last_time) if began_here else None


def _restart(window: Window, pager: Pager, per_page: int) -> None:
    """Move `window`'s start to the instant of the last document covered, when the next
    page then repeats fewer documents than the overlapping page at the current start.

    Page offsets must be multiples of the page size, so the next page from the current
    start overlaps what is covered by 1 to ~15 documents (about 6 on average). From the
    last covered instant, page 1 repeats just the documents covered at that instant (one,
    unless a burst shares it). Exact: everything before that instant is covered, and a
    page at offset 0 starts at the window's first document.
    """
    if pager.last is None or pager.at_last is None or pager.margin > 1:
        return
    instant = pager.last[0]
    if window.start is not None and window.start >= instant:
        return
    target = max(pager.covered_end - pager.margin, 0)
    offset, size = _page_at_or_before(target, pager.covered_end, per_page)
    if per_page - pager.at_last > offset + size - pager.covered_end:
        window.start, pager.covered_end = instant, pager.at_last


def _unseen(position: Position, stamped: list[Stamped]) -> Iterator[Stamped]:
    """The documents `position` has not covered, advancing it before each is handed out.

    `stamped` is a verified ascending page, so what is handed out is ascending too and
    `position` ends at the last of it. Documents of an overlapping re-fetch that are at
    or before `position` were handed out by an earlier page (see `Position`).
    """
    for doc_time, doc_id, document in stamped:
        if position.seen(doc_time, doc_id):
            continue
        position.advance(doc_time, doc_id)
        yield doc_time, doc_id, document


def _page_at_or_before(target: int, covered_end: int, per_page: int) -> tuple[int, int]:
    """(offset, page size): a page starting at or before `target`.

    Pages are 1-based multiples of the page size, so an offset is reachable exactly when
    the size divides it. Among the sizes up to `per_page` whose page reaches past
    `covered_end`, take the one that costs least per new document, a request counting as
    REQUEST_DOCUMENTS documents served (the page that reaches furthest repeated about 7
    covered documents a page, this one about 4); when none reaches past it (a walk
    stepping back over a gap), the one that reaches furthest.
    """
    furthest, cheapest = (0, per_page), None
    best_cost = float("inf")
    for size in range(per_page, 0, -1):
        offset = (target // size) * size
        if offset + size > furthest[0] + furthest[1]:
            furthest = (offset, size)
        new = offset + size - covered_end
        if new > 0 and (REQUEST_DOCUMENTS + size) / new < best_cost:
            cheapest, best_cost = (offset, size), (REQUEST_DOCUMENTS + size) / new
    return cheapest or furthest


def _fmt(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)
