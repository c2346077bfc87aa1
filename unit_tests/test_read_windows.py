"""read/windows.py over a fake inbox (httpx.MockTransport): exact, covered in order."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta

import httpx
import pytest
from test_documents_walk import T0, FakeInbox, client_for

from source_contractfit.read.walk import Position
from source_contractfit.read.windows import Covered, WindowBudget, WindowedDocument, read_inbox
from source_contractfit.timeutil import UTC

FAR = datetime(2100, 1, 1, tzinfo=UTC)


def bursty_inbox(seed: int, documents: int = 1500) -> FakeInbox:
    """Documents over 60 days, a third of them in bursts sharing one instant (up to 130)."""
    rng = random.Random(seed)
    inbox = FakeInbox()
    while len(inbox.docs) < documents:
        when = T0 + timedelta(seconds=rng.randrange(60 * 86_400))
        inbox.add(when, rng.choice([1, 1, 1, 2, 5, 30, 130]) if rng.random() < 0.3 else 1)
    return inbox


def read(
    inbox: FakeInbox, per_page: int = 20, concurrency: int = 8, start: Position | None = None
) -> list[object]:
    """Every event of `read_inbox`; the fake answers one request at a time (its windows'
    threads ask at once)."""
    lock = threading.Lock()
    answer = inbox.handle

    def one_at_a_time(request: httpx.Request) -> httpx.Response:
        with lock:
            return answer(request)

    inbox.handle = one_at_a_time  # type: ignore[method-assign]
    client = client_for(inbox)
    budget = WindowBudget(concurrency)
    return list(read_inbox(client, "i" * 24, start or Position(), per_page, budget, FAR))


def handed(events: list[object]) -> list[str]:
    return [e.stamped[1] for e in events if isinstance(e, WindowedDocument)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_document_once_and_the_last_cover_is_the_newest(seed: int) -> None:
    inbox = bursty_inbox(seed)
    sizes: list[int] = []
    handle = inbox.handle
    inbox.handle = lambda request: (
        sizes.append(int(request.url.params["per_page"])),
        handle(request),
    )[1]  # type: ignore[method-assign]
    events = read(inbox)
    ids = handed(events)
    assert sorted(ids) == sorted(inbox.docs)
    assert sizes.count(1) == 1, "one probe"
    covers = [e.position for e in events if isinstance(e, Covered)]
    newest = max((t, i) for i, t in inbox.docs.items())
    assert (covers[-1].receive_time, covers[-1].last_id) == newest
    # Windows really ran side by side: documents came out of time order.
    times = [inbox.docs[i] for i in ids]
    assert times != sorted(times)


def test_no_cover_claims_a_document_not_handed_out_before_it() -> None:
    inbox = bursty_inbox(4)
    seen: set[str] = set()
    prefix = Position()
    for event in read(inbox):
        if isinstance(event, WindowedDocument):
            seen.add(event.stamped[1])
            if event.in_prefix:
                prefix.advance(event.stamped[0], event.stamped[1])
        else:
            assert isinstance(event, Covered)
            prefix.cover(event.position)
        claimed = {i for i, t in inbox.docs.items() if prefix.seen(t, i)}
        assert claimed <= seen


def test_deletions_and_arrivals_during_the_read_lose_no_document_that_stayed() -> None:
    inbox = bursty_inbox(5)
    rng = random.Random(5)
    before = set(inbox.docs)

    def churn(request_number: int) -> None:
        for doc_id in rng.sample(sorted(inbox.docs), 2):
            del inbox.docs[doc_id]
        inbox.add(T0 + timedelta(days=61), 1)

    inbox.on_request = churn
    ids = handed(read(inbox))
    assert len(ids) == len(set(ids))
    stayed = before & set(inbox.docs)
    assert len(before - stayed) > 50
    assert stayed <= set(ids)


def test_a_tail_of_a_page_or_less_is_one_request_and_no_probe() -> None:
    """An incremental read (a cursor) asks for nothing but its one page; a first read
    (no cursor) may ask for the newest document beside it, once."""
    inbox = FakeInbox()
    for minute in range(10):  # 15 documents, a page of 20
        inbox.add(T0 + timedelta(minutes=minute), 1 + minute % 2)
    cursor = Position(T0 - timedelta(days=1), None)
    events = read(inbox, start=cursor)
    assert sorted(handed(events)) == sorted(inbox.docs)
    assert inbox.requests == 1
    first_read = FakeInbox()
    first_read.docs = dict(inbox.docs)
    assert sorted(handed(read(first_read))) == sorted(inbox.docs)
    assert first_read.requests <= 2


def test_the_budget_shares_the_concurrency_between_the_inboxes_left() -> None:
    budget = WindowBudget(8, inboxes=3)
    assert budget.per_inbox() == 3  # before any has started: not as if alone
    with budget.reading():
        assert budget.per_inbox() == 3
    assert budget.per_inbox() == 4  # one done: two left
    assert WindowBudget(4, inboxes=10).per_inbox() == 1
    assert WindowBudget(8).per_inbox() == 8


def test_cover_moves_forward_only() -> None:
    position = Position(T0, "b")
    position.cover(Position(T0, None))
    assert (position.receive_time, position.last_id) == (T0, "b")
    position.cover(Position(T0, "a"))
    assert position.last_id == "b"
    position.cover(Position(T0, "c"))
    assert position.last_id == "c"
    position.cover(Position(T0 + timedelta(seconds=1), None))
    assert (position.receive_time, position.last_id) == (T0 + timedelta(seconds=1), None)
    position.cover(Position())
    assert position.receive_time == T0 + timedelta(seconds=1)
