"""The keyset walk over a live inbox, against an in-memory paginated endpoint.

The fake follows API.md's paging (1-based pages, inclusive start, exclusive end,
`order_by` on receive_time/id) and lets a test mutate the inbox between two requests,
which is exactly the drift the walk must survive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import orjson
import pytest

from source_contractfit.api.client import ContractfitClient
from source_contractfit.config import ConnectorConfig
from source_contractfit.read.context import ReadContext
from source_contractfit.read.events import Checkpoint, Record
from source_contractfit.read.family import read_document_family
from source_contractfit.read.state import DocumentsState
from source_contractfit.read.walk import Position, walk_inbox
from source_contractfit.streams.base import StreamDef
from source_contractfit.streams.documents import DOCUMENT_VERSIONS, DOCUMENTS
from source_contractfit.timeutil import ONE_MICROSECOND, UTC, format_datetime, parse_datetime

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
    # Two documents of the instant T0 were read: the position holds the higher id.
    position = Position(receive_time=T0, last_id=sorted(ids[:5])[1])
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
    position = Position(receive_time=T0 + timedelta(seconds=1), last_id=None)
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
    assert position.receive_time == T0 and position.last_id == got[-1]
    assert {i for i in group if position.seen(T0, i)} == set(got)


def test_a_full_page_of_already_read_documents_is_not_a_loop() -> None:
    # A resumed walk inside a long tie group re-reads pages it had emitted: legitimate.
    inbox = FakeInbox()
    group = inbox.add(T0, 250)
    inbox.add(T0 + timedelta(seconds=1), 3)
    position = Position(receive_time=T0, last_id=sorted(group)[229])
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
    assert position.receive_time == T0 and position.last_id in set(got)
    assert {i for i in group if position.seen(T0, i)} == set(got) & set(group)


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


# ------------------------------------------------ a huge tie group and the state (issue 14)

INBOX = "a" * 24


def test_position_is_a_keyset_cursor_on_receive_time_and_id() -> None:
    position = Position()
    assert not position.seen(T0, "0" * 24)
    position.advance(T0, "5" * 24)
    assert position.seen(T0 - ONE_MICROSECOND, "f" * 24)
    assert position.seen(T0, "4" * 24) and position.seen(T0, "5" * 24)
    assert not position.seen(T0, "6" * 24) and not position.seen(T0 + ONE_MICROSECOND, "0")
    position.advance(T0, "3" * 24)  # never backwards
    assert position.last_id == "5" * 24
    position.advance(T0 + ONE_MICROSECOND, "1" * 24)
    assert (position.receive_time, position.last_id) == (T0 + ONE_MICROSECOND, "1" * 24)
    # Nothing read at the cursor instant yet: only what came before is covered.
    at_start = Position(T0, None)
    assert at_start.seen(T0 - ONE_MICROSECOND, "f" * 24) and not at_start.seen(T0, "0" * 24)


def _family_context(inbox: FakeInbox, **settings: int) -> ReadContext:
    """A ReadContext over one inbox served by `inbox` (MockTransport, no late reviews)."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/")
        if path == "inboxes":
            body: object = [{"id": INBOX, "name": "Invoices", "project": "p" * 24}]
        elif path.endswith("/paginated"):
            response = inbox.handle(request)
            page = orjson.loads(response.content)
            for document in page["results"]:
                stamp = format_datetime(parse_datetime(document["timings"]["receive_time"]))
                document["versions"] = [{"name": "predicted", "timestamp": stamp}]
            body = page
        elif path.endswith("/evaluated_versions"):
            body = {"documents": []}
        else:
            return httpx.Response(404, content=b'{"message": "Not Found"}')
        return httpx.Response(200, content=orjson.dumps(body))

    cfg = ConnectorConfig.from_mapping(
        {
            "base_url": "https://x.test/api",
            "credentials": {"auth_type": "api_key", "api_key": "k-123456"},
            "lookback_days": 0,
            "max_concurrency": 1,
            **settings,
        }
    )
    return ReadContext(cfg, ContractfitClient(cfg, transport=httpx.MockTransport(handle)))


def _family_read(
    inbox: FakeInbox,
    blobs: dict[str, object] | None = None,
    streams: tuple[StreamDef, ...] = (DOCUMENTS,),
    **settings: int,
) -> tuple[list[Record], list[Checkpoint]]:
    ctx = _family_context(inbox, **settings)
    try:
        items = list(read_document_family(streams, ctx, blobs or {}))
    finally:
        ctx.close()
    records = [i for i in items if isinstance(i, Record)]
    return records, [i for i in items if isinstance(i, Checkpoint)]


def _record_ids(records: list[Record], stream: str = "documents") -> list[str]:
    key = "id" if stream == "documents" else "document_id"
    return [r.data[key] for r in records if r.stream == stream]


def _assert_small_cursor_state(blob: dict) -> dict:
    """One inbox's partition: a cursor and one id, no list of ids, under 2 KB in all."""
    size = len(orjson.dumps(blob))
    assert size < 2048, f"the state is {size} bytes"
    (partition,) = blob["partitions"].values()
    assert "ids_at_cursor" not in partition
    assert isinstance(partition["last_id_at_cursor"], (str, type(None)))
    assert not any(isinstance(v, list) for v in partition.values())
    return dict(partition)


def test_a_burst_of_5000_at_one_instant_keeps_every_checkpoint_small() -> None:
    inbox = FakeInbox()
    before = inbox.add(T0 - timedelta(seconds=1), 3)
    group = inbox.add(T0, 5000)
    after = inbox.add(T0 + timedelta(seconds=1), 2)
    records, checkpoints = _family_read(inbox, page_size=100, checkpoint_interval=700)
    got = _record_ids(records)
    assert sorted(got) == sorted(inbox.docs) and len(got) == len(set(got))
    assert len(checkpoints) >= 5000 // 700
    partitions = [_assert_small_cursor_state(c.state) for c in checkpoints]
    inside = [p for p in partitions if p["cursor"] == format_datetime(T0)]
    assert inside and all(p["last_id_at_cursor"] in set(group) for p in inside)
    assert partitions[-1]["cursor"] == format_datetime(T0 + timedelta(seconds=1))
    assert partitions[-1]["last_id_at_cursor"] == max(after)

    # Resume from a checkpoint taken inside the tie group: the rest, each once.
    middle = checkpoints[len(checkpoints) // 2]
    emitted = got[: got.index(middle.state["partitions"][INBOX]["last_id_at_cursor"]) + 1]
    assert set(before) < set(emitted) and 0 < len(set(emitted) & set(group)) < 5000
    resumed, resumed_checkpoints = _family_read(
        inbox, {"documents": middle.state}, page_size=100, checkpoint_interval=700
    )
    rest = _record_ids(resumed)
    assert len(rest) == len(set(rest)) and not set(rest) & set(emitted)
    assert set(emitted) | set(rest) == set(inbox.docs)
    for checkpoint in resumed_checkpoints:
        _assert_small_cursor_state(checkpoint.state)


def test_an_old_blob_listing_ids_at_cursor_resumes_from_its_largest_id() -> None:
    inbox = FakeInbox()
    group = inbox.add(T0, 300)
    inbox.add(T0 + timedelta(seconds=1), 4)
    read_before = sorted(group)[:123]
    shuffled = read_before[::-1]  # an earlier version wrote them sorted; order is no matter
    old = {
        "state_version": 1,
        "partitions": {
            INBOX: {
                "cursor": format_datetime(T0),
                "ids_at_cursor": shuffled,
                "reviews_checked_until": format_datetime(T0 + timedelta(days=1)),
            }
        },
    }
    state = DocumentsState.from_blob("documents", old)
    assert state.inbox(INBOX).position == Position(T0, max(read_before))
    records, checkpoints = _family_read(inbox, {"documents": old}, page_size=50)
    got = _record_ids(records)
    assert sorted(got) == sorted(set(inbox.docs) - set(read_before))
    assert len(got) == len(set(got))
    final = _assert_small_cursor_state(checkpoints[-1].state)
    assert final["cursor"] == format_datetime(T0 + timedelta(seconds=1))


def test_streams_at_one_instant_resume_from_the_smallest_last_id() -> None:
    inbox = FakeInbox()
    group = sorted(inbox.add(T0, 250))
    inbox.add(T0 + timedelta(seconds=1), 3)

    def blob(last_id: str | None) -> dict:
        partition = {"cursor": format_datetime(T0), "last_id_at_cursor": last_id}
        return {"state_version": 1, "partitions": {INBOX: partition}}

    blobs: dict[str, object] = {"documents": blob(group[199]), "document_versions": blob(group[9])}
    records, _ = _family_read(inbox, blobs, (DOCUMENTS, DOCUMENT_VERSIONS), page_size=20)
    later = set(inbox.docs) - set(group)
    assert sorted(_record_ids(records)) == sorted(set(group[200:]) | later)
    versions = _record_ids(records, "document_versions")
    assert sorted(versions) == sorted(set(group[10:]) | later)
    # A stream with nothing read at the instant (null) sends the walk to its start.
    blobs["document_versions"] = blob(None)
    records, _ = _family_read(inbox, blobs, (DOCUMENTS, DOCUMENT_VERSIONS), page_size=20)
    assert sorted(_record_ids(records, "document_versions")) == sorted(set(group) | later)
    assert sorted(_record_ids(records)) == sorted(set(group[200:]) | later)


def test_the_state_blob_round_trips_cursor_and_last_id() -> None:
    state = DocumentsState()
    state.inbox(INBOX).position = Position(T0, "0" * 23 + "7")
    state.inbox("b" * 24).position = Position(T0, None)
    blob = orjson.loads(orjson.dumps(state.to_blob()))
    assert blob["partitions"][INBOX]["last_id_at_cursor"] == "0" * 23 + "7"
    assert blob["partitions"]["b" * 24]["last_id_at_cursor"] is None
    again = DocumentsState.from_blob("documents", blob)
    assert again.inbox(INBOX).position == Position(T0, "0" * 23 + "7")
    assert again.inbox("b" * 24).position == Position(T0, None)
    old_empty = {"state_version": 1, "partitions": {INBOX: {"cursor": None, "ids_at_cursor": []}}}
    assert DocumentsState.from_blob("documents", old_empty).inbox(INBOX).position == Position()


@pytest.mark.parametrize(
    ("partition", "fragment"),
    [
        ({"cursor": format_datetime(T0), "last_id_at_cursor": 7}, "must be a document id"),
        ({"cursor": format_datetime(T0), "last_id_at_cursor": ["a"]}, "must be a document id"),
        ({"cursor": None, "last_id_at_cursor": "a" * 24}, "'last_id_at_cursor' is set but"),
        ({"cursor": None, "ids_at_cursor": ["a" * 24]}, "'ids_at_cursor' is set but"),
        ({"cursor": format_datetime(T0), "ids_at_cursor": "a"}, "must be a list"),
        ({"cursor": format_datetime(T0), "ids_at_cursor": [1, 2]}, "must be a list"),
        (
            {"cursor": format_datetime(T0), "ids_at_cursor": [], "last_id_at_cursor": None},
            "has both",
        ),
    ],
)
def test_a_malformed_last_id_is_a_config_error_naming_it(partition: dict, fragment: str) -> None:
    from source_contractfit.api.errors import ConfigError

    blob = {"state_version": 1, "partitions": {INBOX: partition}}
    with pytest.raises(ConfigError, match=re.escape(fragment)) as caught:
        DocumentsState.from_blob("documents", blob)
    assert "stream 'documents'" in str(caught.value)
