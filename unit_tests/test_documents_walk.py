"""The keyset walk over a live inbox, against an in-memory paginated endpoint.

The fake follows API.md's paging (1-based pages, inclusive start, exclusive end,
`order_by` on receive_time/id) and lets a test mutate the inbox between two requests,
which is exactly the drift the walk must survive.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import orjson
import pytest

from source_contractfit.api.client import ContractfitClient
from source_contractfit.config import ConnectorConfig
from source_contractfit.read.walk import Position, walk_inbox
from source_contractfit.timeutil import UTC, format_datetime, parse_datetime

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


class FakeInbox:
    def __init__(self) -> None:
        self.docs: dict[str, datetime] = {}
        self.requests = 0
        self.on_request: Callable[[int], None] | None = None
        self._next = 0

    def add(self, when: datetime, count: int = 1) -> list[str]:
        ids = []
        for _ in range(count):
            doc_id = f"{self._next:024x}"
            self._next += 1
            self.docs[doc_id] = when
            ids.append(doc_id)
        return ids

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.on_request is not None:
            self.on_request(self.requests)
        q = request.url.params
        page, per_page = int(q.get("page", 1)), int(q.get("per_page", 20))
        start = parse_datetime(q["start_receive_date"]) if "start_receive_date" in q else None
        end = parse_datetime(q["end_receive_date"]) if "end_receive_date" in q else None
        rows = [
            (t, i)
            for i, t in self.docs.items()
            if (start is None or t >= start) and (end is None or t < end)
        ]
        keys = q.get("order_by", "-receive_time").split(",")
        for key in reversed(keys):
            field = key.lstrip("-")
            rows.sort(
                key=lambda r: r[0] if field == "receive_time" else r[1], reverse=key[0] == "-"
            )
        chunk = rows[(page - 1) * per_page : page * per_page]
        body = {
            "page": page,
            "per_page": per_page,
            "total": len(rows),
            "results": [
                {"id": i, "timings": {"receive_time": format_datetime(t)}} for t, i in chunk
            ],
        }
        return httpx.Response(200, content=orjson.dumps(body))


def client_for(inbox: FakeInbox) -> ContractfitClient:
    cfg = ConnectorConfig.from_mapping(
        {
            "base_url": "https://x.test/api",
            "credentials": {"auth_type": "api_key", "api_key": "k-123456"},
        }
    )
    return ContractfitClient(cfg, transport=httpx.MockTransport(inbox.handle))


def walk(inbox: FakeInbox, per_page: int, position: Position | None = None) -> list[str]:
    return [
        d["id"] for d in walk_inbox(client_for(inbox), "i" * 24, position or Position(), per_page)
    ]


def test_reads_everything_once_in_ascending_order() -> None:
    inbox = FakeInbox()
    for minute in range(57):
        inbox.add(T0 + timedelta(minutes=minute))
    got = walk(inbox, per_page=10)
    assert got == sorted(inbox.docs, key=lambda i: inbox.docs[i])
    assert len(set(got)) == 57


@pytest.mark.parametrize("burst", [9, 10, 11, 25, 100])
def test_bursts_of_equal_receive_time_across_page_boundaries(burst: int) -> None:
    inbox = FakeInbox()
    inbox.add(T0, 3)
    inbox.add(T0 + timedelta(seconds=1), burst)
    inbox.add(T0 + timedelta(seconds=2), 4)
    inbox.add(T0 + timedelta(seconds=3), burst)
    got = walk(inbox, per_page=10)
    assert sorted(got) == sorted(inbox.docs)
    assert len(got) == len(set(got))


def test_deletions_and_inserts_during_paging_lose_nothing_that_existed_throughout() -> None:
    inbox = FakeInbox()
    for second in range(200):
        inbox.add(T0 + timedelta(seconds=second // 3))  # groups of 3 sharing a time
    original = set(inbox.docs)
    deleted: set[str] = set()

    def churn(n: int) -> None:
        # Before each request: delete the two oldest live docs, add one newer doc.
        for doc_id in sorted(inbox.docs, key=lambda i: (inbox.docs[i], i))[:2]:
            del inbox.docs[doc_id]
            deleted.add(doc_id)
        inbox.add(T0 + timedelta(days=1, seconds=n))

    inbox.on_request = churn
    got = walk(inbox, per_page=7)
    assert len(got) == len(set(got)), "no duplicates"
    survivors = original - deleted
    assert survivors <= set(got), f"lost {sorted(survivors - set(got))[:3]}"


def test_deletion_inside_a_tie_group_longer_than_a_page_is_reread() -> None:
    inbox = FakeInbox()
    group = inbox.add(T0, 35)
    inbox.add(T0 + timedelta(seconds=5), 2)
    victims = iter(sorted(group)[:3])

    def delete_one(n: int) -> None:
        # Deleting early ids shifts later ids of the group one page position left.
        if 3 <= n <= 5:
            del inbox.docs[next(victims)]

    inbox.on_request = delete_one
    got = walk(inbox, per_page=10)
    assert len(got) == len(set(got))
    assert set(sorted(group)[3:]) <= set(got)


def test_resume_from_position_skips_what_was_read() -> None:
    inbox = FakeInbox()
    ids = inbox.add(T0, 5) + inbox.add(T0 + timedelta(seconds=1), 5)
    position = Position(receive_time=T0, ids_at=set(sorted(ids[:5])[:2]))
    got = walk(inbox, per_page=3, position=position)
    assert sorted(got) == sorted(sorted(ids[:5])[2:] + ids[5:])
    # The final position covers every document (the tie group at +1s filled a page).
    assert all(position.seen(inbox.docs[i], i) for i in ids)
    assert not position.seen(T0 + timedelta(seconds=2), "f" * 24)


def test_server_ignoring_the_window_is_a_clear_error() -> None:
    inbox = FakeInbox()
    inbox.add(T0, 1)
    inbox.add(T0 + timedelta(seconds=1), 1)
    original = inbox.handle

    def ignore_window(request: httpx.Request) -> httpx.Response:
        params = {k: v for k, v in request.url.params.items() if k != "start_receive_date"}
        return original(httpx.Request("GET", request.url.copy_with(params=params)))

    inbox.handle = ignore_window  # type: ignore[method-assign]
    position = Position(receive_time=T0 + timedelta(seconds=1), ids_at=set())
    from source_contractfit.api.errors import ResponseFormatError

    with pytest.raises(ResponseFormatError, match="does not honour the window"):
        walk(inbox, per_page=10, position=position)


def test_tie_group_under_continuous_deletions_loses_nothing() -> None:
    inbox = FakeInbox()
    group = inbox.add(T0, 250)
    inbox.add(T0 + timedelta(seconds=1), 5)
    original = set(inbox.docs)
    deleted: set[str] = set()
    rng = __import__("random").Random(3)

    def delete_two(n: int) -> None:
        # Every request deletes two random documents, mostly inside the long group.
        for doc_id in rng.sample(sorted(inbox.docs), 2):
            del inbox.docs[doc_id]
            deleted.add(doc_id)

    inbox.on_request = delete_two
    got = walk(inbox, per_page=20)
    assert len(got) == len(set(got))
    assert (original - deleted) <= set(got)
    assert len(deleted & set(group)) > 10, "the churn really hit the group"


def test_page_at_or_before_reaches_furthest() -> None:
    from source_contractfit.read.walk import _page_at_or_before

    assert _page_at_or_before(0, 0, 100) == (0, 100)
    assert _page_at_or_before(95, 100, 100) == (95, 95)
    offset, size = _page_at_or_before(199, 200, 100)
    assert offset <= 199 and offset % size == 0 and offset + size > 200


def _newest_first(inbox: FakeInbox) -> None:
    """The fake ignores `order_by` and answers in API.md's default order."""
    original = inbox.handle

    def handle(request: httpx.Request) -> httpx.Response:
        params = {k: v for k, v in request.url.params.items() if k != "order_by"}
        return original(httpx.Request("GET", request.url.copy_with(params=params)))

    inbox.handle = handle  # type: ignore[method-assign]


@pytest.mark.parametrize("per_page", [1, 2, 10, 100])
def test_server_ignoring_order_by_fails_before_handing_out_a_document(per_page: int) -> None:
    inbox = FakeInbox()
    for k in range(25):
        inbox.add(T0 + timedelta(seconds=k), 1)
    _newest_first(inbox)
    position = Position()
    got: list[str] = []
    from source_contractfit.api.errors import ResponseFormatError

    with pytest.raises(ResponseFormatError, match="does not keep order_by=receive_time,id"):
        for document in walk_inbox(client_for(inbox), "i" * 24, position, per_page):
            got.append(document["id"])
    # Nothing was handed out, so no cursor can pass an unread document.
    assert got == [] and position.receive_time is None


def test_server_ignoring_order_by_in_a_tie_group_fails_clearly() -> None:
    inbox = FakeInbox()
    inbox.add(T0, 30)  # one instant, more than a page: the id-ordered tie walk
    original = inbox.handle

    def ids_descending(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params.items())
        if params.get("order_by") == "id":
            params["order_by"] = "-id"
        return original(httpx.Request("GET", request.url.copy_with(params=params)))

    inbox.handle = ids_descending  # type: ignore[method-assign]
    from source_contractfit.api.errors import ResponseFormatError

    with pytest.raises(ResponseFormatError, match="does not keep order_by=id"):
        walk(inbox, per_page=10)


def test_a_tie_page_repeated_whatever_page_asks_stops_with_a_clear_error() -> None:
    inbox = FakeInbox()
    group = inbox.add(T0, 250)
    original = inbox.handle

    def page_one_always(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params.items())
        params["page"] = "1"
        return original(httpx.Request("GET", request.url.copy_with(params=params)))

    inbox.handle = page_one_always  # type: ignore[method-assign]
    position = Position()
    got: list[str] = []
    from source_contractfit.api.errors import ResponseFormatError

    with pytest.raises(ResponseFormatError, match="repeats pages instead of paging"):
        for document in walk_inbox(client_for(inbox), "i" * 24, position, 100):
            got.append(document["id"])
    assert inbox.requests <= 6, "stopped after a bounded number of requests"
    # What was handed out is the real first page, and the position covers exactly it.
    assert got == sorted(group)[:100]
    assert position.receive_time == T0 and position.ids_at == set(got)


def test_a_full_page_of_already_read_documents_is_not_a_loop() -> None:
    # A resumed walk inside a long tie group re-reads pages it had emitted: legitimate.
    inbox = FakeInbox()
    group = inbox.add(T0, 250)
    inbox.add(T0 + timedelta(seconds=1), 3)
    position = Position(receive_time=T0, ids_at=set(sorted(group)[:230]))
    got = walk(inbox, per_page=50, position=position)
    assert set(got) == set(inbox.docs) - set(sorted(group)[:230])


def _rewrite(inbox: FakeInbox, change: Callable[[dict[str, str], dict], dict]) -> None:
    """Let a test rewrite the fake's JSON answer (params, body) -> body."""
    original = inbox.handle

    def handle(request: httpx.Request) -> httpx.Response:
        response = original(request)
        body = change(dict(request.url.params.items()), orjson.loads(response.content))
        return httpx.Response(200, content=orjson.dumps(body))

    inbox.handle = handle  # type: ignore[method-assign]


def _tie_window(params: dict[str, str]) -> bool:
    return params.get("order_by") == "id"


def test_empty_tie_pages_after_the_first_stop_in_bounded_requests() -> None:
    inbox = FakeInbox()
    inbox.add(T0, 250)

    def empty_after_first(params: dict[str, str], body: dict) -> dict:
        if _tie_window(params) and params.get("page") != "1":
            body["results"] = []
        return body

    _rewrite(inbox, empty_after_first)
    from source_contractfit.api.errors import ResponseFormatError

    with pytest.raises(ResponseFormatError, match="repeats pages instead of paging"):
        walk(inbox, per_page=100)
    assert inbox.requests < 40, inbox.requests


def test_a_short_tie_page_that_is_not_the_last_is_an_error_not_the_end() -> None:
    inbox = FakeInbox()
    group = inbox.add(T0, 250)
    later = inbox.add(T0 + timedelta(seconds=1), 5)

    def drop_one_on_page_two(params: dict[str, str], body: dict) -> dict:
        if _tie_window(params) and params.get("page") == "2":
            body["results"] = body["results"][:-1]
        return body

    _rewrite(inbox, drop_one_on_page_two)
    position = Position()
    got: list[str] = []
    from source_contractfit.api.errors import ResponseFormatError

    with pytest.raises(ResponseFormatError, match="pages and totals disagree"):
        for document in walk_inbox(client_for(inbox), "i" * 24, position, 100):
            got.append(document["id"])
    # The documents after the tie group were not reached: no cursor passed the gap.
    assert not set(later) & set(got)
    assert position.receive_time == T0 and position.ids_at <= set(group)


def test_a_short_first_page_whose_total_says_more_is_an_error() -> None:
    inbox = FakeInbox()
    for k in range(30):
        inbox.add(T0 + timedelta(seconds=k), 1)

    def drop_last(params: dict[str, str], body: dict) -> dict:
        body["results"] = body["results"][:-3]
        return body

    _rewrite(inbox, drop_last)
    from source_contractfit.api.errors import ResponseFormatError

    with pytest.raises(ResponseFormatError, match="its total says 30"):
        walk(inbox, per_page=100)
