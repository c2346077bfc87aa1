"""Late-review fetch planning and the 404-skip, without a server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx
import orjson

from source_contractfit.api.client import ContractfitClient
from source_contractfit.config import ConnectorConfig
from source_contractfit.read.reviews import (
    ReviewCounters,
    SingleFetch,
    WindowFetch,
    fetch_documents,
    plan_fetches,
    windows,
)
from source_contractfit.timeutil import UTC

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_windows_never_exceed_31_days_and_cover_the_range() -> None:
    parts = list(windows(T0, T0 + timedelta(days=100)))
    assert parts[0][0] == T0 and parts[-1][1] == T0 + timedelta(days=100)
    assert all(b - a <= timedelta(days=31) for a, b in parts)
    assert all(parts[i][1] == parts[i + 1][0] for i in range(len(parts) - 1))
    assert list(windows(T0, T0)) == []


def test_clustered_reviews_are_walked_as_a_window() -> None:
    # 40 reviews within one hour, where the inbox holds 300 documents: 3 pages < 40 GETs.
    candidates = [(T0 + timedelta(minutes=i), f"{i:024x}") for i in range(40)]
    plan = plan_fetches(candidates, lambda a, b: 300, per_page=100)
    assert plan == [
        WindowFetch(
            T0, T0 + timedelta(minutes=39, microseconds=1), frozenset(i for _, i in candidates)
        )
    ]


def test_sparse_reviews_are_fetched_one_by_one() -> None:
    # 4 reviews spread over a window of 10,000 documents: 4 GETs beat 100 pages.
    candidates = [(T0 + timedelta(days=30 * i), f"{i:024x}") for i in range(4)]
    calls: list[tuple[datetime, datetime]] = []

    def count(a: datetime, b: datetime) -> int:
        calls.append((a, b))
        return 10_000 if b - a > timedelta(days=1) else 1

    plan = plan_fetches(candidates, count, per_page=100)
    ids = [i for step in plan for i in (step.ids if isinstance(step, SingleFetch) else ())]
    assert sorted(ids) == sorted(i for _, i in candidates)
    assert all(isinstance(step, SingleFetch) for step in plan)
    assert len(calls) <= 7


def test_two_clusters_are_split_at_the_widest_gap() -> None:
    early = [(T0 + timedelta(seconds=i), f"a{i:023x}") for i in range(30)]
    late = [(T0 + timedelta(days=60, seconds=i), f"b{i:023x}") for i in range(30)]

    def count(a: datetime, b: datetime) -> int:
        return 50_000 if b - a > timedelta(days=1) else 120

    plan = plan_fetches(early + late, count, per_page=100)
    assert [type(step) for step in plan] == [WindowFetch, WindowFetch]
    assert plan[0].ids == frozenset(i for _, i in early)  # type: ignore[union-attr]


def test_fetch_skips_documents_deleted_since_their_review() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        doc_id = request.url.path.rsplit("/", 1)[-1]
        if doc_id.startswith("dead"):
            return httpx.Response(404, content=b'{"message": "Document not found"}')
        body = {"id": doc_id, "timings": {"receive_time": "2024-01-01T00:00:00.000000Z"}}
        return httpx.Response(200, content=orjson.dumps(body))

    config = ConnectorConfig.from_mapping(
        {
            "base_url": "https://x.test/api",
            "credentials": {"auth_type": "api_key", "api_key": "k-1234"},
        }
    )
    client = ContractfitClient(config, transport=httpx.MockTransport(handler))
    counters = ReviewCounters()
    ids = ["a1", "dead1", "a2", "a3", "dead2", "a4"]
    with ThreadPoolExecutor(2) as executor:
        got = [d["id"] for d in fetch_documents(client, executor, ids, counters, prefetch=2)]
    assert got == ["a1", "a2", "a3", "a4"]
    assert (counters.fetched, counters.deleted) == (4, 2)
