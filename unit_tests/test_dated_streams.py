"""The per-day stats reader against scripted servers: refused statuses, first day, state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import orjson
import pytest

from source_contractfit.api.client import ContractfitClient
from source_contractfit.api.errors import BadRequestError, ResponseFormatError
from source_contractfit.config import ConnectorConfig
from source_contractfit.read.context import ReadContext
from source_contractfit.read.dated import read_dated_stream
from source_contractfit.read.events import Checkpoint, Record
from source_contractfit.streams.stats import ENDPOINTS
from source_contractfit.timeutil import utcnow

INBOX = "a" * 24


def _answer(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=orjson.dumps(body))


def _server(route: Callable[[str, dict[str, str]], httpx.Response]) -> ReadContext:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/")
        if path == "inboxes":
            return _answer([{"id": INBOX, "name": "Invoices", "project": "p" * 24}])
        return route(path, dict(request.url.params.items()))

    cfg = ConnectorConfig.from_mapping(
        {"base_url": "https://x.test/api", "credentials": {"auth_type": "api_key", "api_key": "k1"}}
    )
    client = ContractfitClient(cfg, transport=httpx.MockTransport(handle))
    return ReadContext(cfg, client)


def _first_days(path: str, params: dict[str, str]) -> httpx.Response:
    """Two documents, the first received three days ago, in ascending order."""
    day = utcnow() - timedelta(days=3)
    results = [
        {"id": "1" * 24, "timings": {"receive_time": day.strftime("%Y-%m-%dT00:00:00Z")}},
        {"id": "2" * 24, "timings": {"receive_time": day.strftime("%Y-%m-%dT01:00:00Z")}},
    ]
    return _answer({"page": 1, "per_page": 2, "total": 2, "results": results})


def _read(ctx: ReadContext, stream: str, blob: Any = None) -> list[Record | Checkpoint]:
    return list(read_dated_stream(stream, ENDPOINTS[stream], ctx, blob))


def test_a_refused_status_is_dropped_and_the_others_are_read() -> None:
    asked: list[str] = []

    def route(path: str, params: dict[str, str]) -> httpx.Response:
        if path.endswith("/paginated"):
            return _first_days(path, params)
        asked.append(params["status"])
        if params["status"] in ("received", "archived"):
            return _answer({"message": "Not Supported"}, 400)
        return _answer({"status": params["status"], "days": []})

    items = _read(_server(route), "stats_volume")
    statuses = {i.data["status"] for i in items if isinstance(i, Record)}
    assert statuses == {"to_review", "submitted", "rejected", "escalated"}
    assert sorted(asked) == sorted(
        ["received", "to_review", "submitted", "rejected", "escalated", "archived"]
    )


def test_every_status_refused_fails_the_stream() -> None:
    def route(path: str, params: dict[str, str]) -> httpx.Response:
        if path.endswith("/paginated"):
            return _first_days(path, params)
        return _answer({"message": "Not Supported"}, 400)

    with pytest.raises(
        BadRequestError, match="supports none of status=received, status=to_review, "
    ):
        _read(_server(route), "stats_volume")


def test_not_supported_on_an_endpoint_without_statuses_is_not_a_refusal() -> None:
    def route(path: str, params: dict[str, str]) -> httpx.Response:
        if path.endswith("/paginated"):
            return _first_days(path, params)
        return _answer({"message": "Not Supported: date range"}, 400)

    with pytest.raises(BadRequestError, match="Not Supported: date range"):
        _read(_server(route), "usage")


def test_the_first_day_is_asked_in_verified_order() -> None:
    def newest_first(path: str, params: dict[str, str]) -> httpx.Response:
        if path.endswith("/paginated"):
            assert params["per_page"] == "2"
            answer = orjson.loads(_first_days(path, params).content)
            answer["results"].reverse()
            return _answer(answer)
        return _answer({"status": params.get("status"), "days": []})

    with pytest.raises(ResponseFormatError, match="does not keep order_by=receive_time,id"):
        _read(_server(newest_first), "stats_volume")


def test_a_cursor_after_the_servers_today_is_read_again_from_the_first_day() -> None:
    windows: list[str] = []

    def route(path: str, params: dict[str, str]) -> httpx.Response:
        if path.endswith("/paginated"):
            return _first_days(path, params)
        windows.append(params["start_date"][:10])
        return _answer([])

    future = {"state_version": 1, "partitions": {INBOX: {"cursor": "2999-01-01"}}}
    items = _read(_server(route), "usage", future)
    first = (utcnow() - timedelta(days=3)).date()
    assert windows == [first.isoformat()]
    days = {i.data["date"] for i in items if isinstance(i, Record)}
    assert min(days) == first.isoformat()
    last = [i for i in items if isinstance(i, Checkpoint)][-1]
    assert date.fromisoformat(last.state["partitions"][INBOX]["cursor"]) <= utcnow().date()
