"""The emulator's variants: off by default, each switch plays its reading of API.md."""

from __future__ import annotations

import email.utils

import httpx
import pytest
from conftest import NOW, make_client

from contractfit_emulator import ADMIN_API_KEY, Emulator
from contractfit_emulator.cli import build_parser
from contractfit_emulator.variants import (
    FUTURE_RECEIVE_TIME,
    Variants,
    parse_cli,
    parse_variants,
)


def _page(client: httpx.Client, inbox: str, **params: object) -> dict:
    response = client.get(f"/inboxes/{inbox}/paginated", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_variants_are_off_by_default(shared_emulator: Emulator) -> None:
    assert shared_emulator.core.variants == Variants()
    assert shared_emulator.control.state()["variants"] == {
        "empty_evaluated_lists": False,
        "volume_statuses": None,
        "ignore_order_by": False,
        "future_document": False,
        "repeat_tie_page": False,
        "repeat_pages": False,
    }


def test_cli_and_control_parse_the_same_switches() -> None:
    assert parse_cli(["ignore_order_by", "volume_statuses=to_review,submitted"]) == Variants(
        ignore_order_by=True, volume_statuses=("to_review", "submitted")
    )
    assert parse_variants({"repeat_tie_page": "on"}) == Variants(repeat_tie_page=True)
    with pytest.raises(ValueError, match="unknown variants"):
        parse_variants({"order": True})
    with pytest.raises(ValueError, match="unknown volume statuses"):
        parse_cli(["volume_statuses=to_review,pending"])
    args = build_parser().parse_args(["--variant", "future_document"])
    assert parse_cli(args.variant) == Variants(future_document=True)


def test_every_answer_states_the_virtual_present(admin: httpx.Client) -> None:
    response = admin.get("/about/version")
    when = email.utils.parsedate_to_datetime(response.headers["Date"])
    assert when.isoformat().startswith(NOW[:10])


def test_narrow_volume_statuses_answer_400_not_supported(emulator: Emulator) -> None:
    inbox = emulator.inbox_ids[0]
    emulator.control.variants(volume_statuses=["to_review", "submitted"])
    with make_client(emulator) as client:
        assert client.get(f"/stats/{inbox}/volume", params={"status": "submitted"}).is_success
        refused = client.get(f"/stats/{inbox}/volume", params={"status": "archived"})
        assert refused.status_code == 400
        assert refused.json()["message"].startswith("Not Supported")
        emulator.control.variants(volume_statuses=None)
        assert client.get(f"/stats/{inbox}/volume", params={"status": "archived"}).is_success


def test_ignore_order_by_answers_newest_first(emulator: Emulator) -> None:
    inbox = emulator.inbox_ids[0]
    with make_client(emulator) as client:
        asked = {"order_by": "receive_time,id", "per_page": 50}
        ascending = [d["timings"]["receive_time"] for d in _page(client, inbox, **asked)["results"]]
        assert ascending == sorted(ascending)
        emulator.control.variants(ignore_order_by=True)
        served = [d["timings"]["receive_time"] for d in _page(client, inbox, **asked)["results"]]
        assert served == sorted(served, reverse=True) and served != ascending


def test_repeat_tie_page_serves_page_one_for_a_one_instant_window(emulator: Emulator) -> None:
    inbox = emulator.inbox_ids[0]
    when = "2025-12-30T12:00:00.000000Z"
    emulator.control.arrive(count=30, inbox_id=inbox, receive_time=when)
    window = {
        "order_by": "id",
        "per_page": 10,
        "start_receive_date": when,
        "end_receive_date": "2025-12-30T12:00:00.000001Z",
    }
    with make_client(emulator) as client:
        pages = [
            [d["id"] for d in _page(client, inbox, **window, page=p)["results"]] for p in (1, 2)
        ]
        assert pages[0] != pages[1]
        emulator.control.variants(repeat_tie_page=True)
        again = [
            [d["id"] for d in _page(client, inbox, **window, page=p)["results"]] for p in (1, 2)
        ]
        assert again == [pages[0], pages[0]]
        # A wider window still pages normally.
        wide = {**window, "end_receive_date": "2025-12-31T00:00:00Z"}
        assert _page(client, inbox, **wide, page=2)["results"][0]["id"] == pages[1][0]


def test_future_document_adds_one_document_received_in_2099() -> None:
    with Emulator(
        seed=3, inboxes=2, documents=20, now=NOW, variants=Variants(future_document=True)
    ) as emu:
        first, second = emu.inbox_ids
        with make_client(emu) as client:
            newest = _page(client, first, per_page=1)["results"][0]
            assert newest["timings"]["receive_time"] == FUTURE_RECEIVE_TIME
            assert _page(client, first)["total"] == 11
            assert _page(client, second)["total"] == 10


def test_repeat_pages_answers_page_one_for_every_page() -> None:
    with Emulator(seed=3, inboxes=1, documents=30, now="2026-01-01T00:00:00Z") as emu:
        inbox = emu.inbox_ids[0]
        emu.control.variants(repeat_pages=True)
        with httpx.Client(base_url=emu.base_url, headers={"X-API-Key": ADMIN_API_KEY}) as client:

            def ids(page: int) -> list[str]:
                params = {"per_page": 10, "page": page, "order_by": "receive_time,id"}
                body = client.get(f"/inboxes/{inbox}/paginated", params=params).json()
                return [d["id"] for d in body["results"]]

            assert ids(2) == ids(1) == ids(3)
