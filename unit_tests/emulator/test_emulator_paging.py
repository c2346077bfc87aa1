"""Paging semantics of /inboxes/{id}/paginated and the shape of a Document."""

from __future__ import annotations

import re
from collections import Counter

import httpx
import pytest

from contractfit_emulator import Emulator

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")

DOCUMENT_KEYS = {
    "id",
    "inbox",
    "original_filename",
    "page_count",
    "files",
    "prediction",
    "versions",
    "last_version",
    "feedback",
    "flag_for_review",
    "status_data",
    "timings",
    "submitted",
    "lock",
    "escalate",
    "reject",
    "opened_by",
    "usage_data",
    "meta_information",
}
STATUS_KEYS = {
    "data",
    "success",
    "archived",
    "escalate",
    "lock",
    "reject",
    "sampling",
    "feedback",
    "ready_accepted",
    "ready_attempts",
    "submit_accepted",
    "submit_attempts",
    "reject_accepted",
    "reject_attempts",
}
TIMING_KEYS = {
    "receive_time",
    "start_time",
    "done_time",
    "processing_period",
    "feedback_time",
    "submit_time",
}
VERSION_KEYS = {
    "name",
    "source",
    "is_evaluated",
    "cmp_version",
    "by",
    "timestamp",
    "annotations",
    "lines",
    "sections",
    "evaluation",
}
ATOM_KEYS = {"value", "text", "confidence", "upper_left", "lower_right", "flagged"}


def all_pages(client: httpx.Client, inbox: str, **params: str | int) -> list[dict]:
    docs: list[dict] = []
    page = 1
    while True:
        body = client.get(
            f"/inboxes/{inbox}/paginated", params={"per_page": 100, "page": page, **params}
        ).json()
        if not body["results"]:
            return docs
        docs += body["results"]
        page += 1


@pytest.fixture(scope="module")
def inbox(shared_emulator: Emulator) -> str:
    return shared_emulator.inbox_ids[0]


@pytest.fixture(scope="module")
def everything(shared_emulator: Emulator, inbox: str) -> list[dict]:
    with httpx.Client(
        base_url=shared_emulator.base_url,
        headers={"X-API-Key": "cf_demo_key_0123456789abcdef0123456789abcdef"},
    ) as client:
        return all_pages(client, inbox)


def test_defaults(admin: httpx.Client, inbox: str, everything: list[dict]) -> None:
    response = admin.get(f"/inboxes/{inbox}/paginated")
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    body = response.json()
    assert list(body) == ["page", "per_page", "total", "results"]
    assert (body["page"], body["per_page"], body["total"]) == (1, 20, len(everything))
    assert [d["id"] for d in body["results"]] == [d["id"] for d in everything[:20]]


def test_default_order_is_newest_first_ties_by_id_descending(everything: list[dict]) -> None:
    keys = [(d["timings"]["receive_time"], d["id"]) for d in everything]
    assert keys == sorted(keys, reverse=True)
    assert len({d["id"] for d in everything}) == len(everything)


@pytest.mark.parametrize(
    ("order_by", "key", "reverse"),
    [
        ("receive_time", lambda k: (k[0], k[1]), False),
        ("-receive_time", lambda k: (k[0], k[1]), True),
        ("receive_time,id", lambda k: (k[0], k[1]), False),
        ("-receive_time,id", None, None),
        ("id", lambda k: k[1], False),
        ("-id", lambda k: k[1], True),
    ],
)
def test_order_by(
    admin: httpx.Client, inbox: str, everything: list[dict], order_by: str, key, reverse
) -> None:
    docs = all_pages(admin, inbox, order_by=order_by)
    got = [(d["timings"]["receive_time"], d["id"]) for d in docs]
    if key is None:  # newest first, ties by ascending id
        expected = sorted(got, key=lambda k: k[1])
        expected.sort(key=lambda k: k[0], reverse=True)
    else:
        expected = sorted(got, key=key, reverse=reverse)
    assert got == expected
    assert len(got) == len(everything)


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": 0},
        {"per_page": 101},
        {"per_page": "ten"},
        {"page": 0},
        {"page": -1},
        {"order_by": "filename"},
        {"order_by": "id,id"},
        {"start_receive_date": "31/12/2025"},
        {"end_receive_date": "2025-13-01"},
    ],
)
def test_bad_parameters_are_400(admin: httpx.Client, inbox: str, params: dict) -> None:
    response = admin.get(f"/inboxes/{inbox}/paginated", params=params)
    assert response.status_code == 400
    assert set(response.json()) == {"message"}


def test_per_page_bounds_accepted(admin: httpx.Client, inbox: str) -> None:
    assert (
        len(admin.get(f"/inboxes/{inbox}/paginated", params={"per_page": 1}).json()["results"]) == 1
    )
    assert (
        len(admin.get(f"/inboxes/{inbox}/paginated", params={"per_page": 100}).json()["results"])
        == 100
    )


def test_window_start_inclusive_end_exclusive(
    admin: httpx.Client, inbox: str, everything: list[dict]
) -> None:
    times = sorted({d["timings"]["receive_time"] for d in everything})
    start, end = times[10], times[40]
    docs = all_pages(admin, inbox, start_receive_date=start, end_receive_date=end)
    expected = [d["id"] for d in everything if start <= d["timings"]["receive_time"] < end]
    assert [d["id"] for d in docs] == expected
    assert docs[-1]["timings"]["receive_time"] == start
    assert all(d["timings"]["receive_time"] != end for d in docs)
    body = admin.get(
        f"/inboxes/{inbox}/paginated", params={"start_receive_date": start, "end_receive_date": end}
    ).json()
    assert body["total"] == len(expected)


def test_window_accepts_date_forms(admin: httpx.Client, inbox: str, everything: list[dict]) -> None:
    def total(**params: str) -> int:
        return admin.get(f"/inboxes/{inbox}/paginated", params=params).json()["total"]

    expected = sum(1 for d in everything if d["timings"]["receive_time"] >= "2025-12-01")
    assert total(start_receive_date="2025-12-01") == expected
    assert total(start_receive_date="2025-12-01T00:00:00") == expected
    assert total(start_receive_date="2025-12-01T00:00:00.000Z") == expected
    assert total(start_receive_date="2025-12-01T01:00:00+01:00") == expected


def test_page_past_the_end(admin: httpx.Client, inbox: str, everything: list[dict]) -> None:
    body = admin.get(f"/inboxes/{inbox}/paginated", params={"page": 1000, "per_page": 50}).json()
    assert body == {"page": 1000, "per_page": 50, "total": len(everything), "results": []}


def test_full_scan_matches_control_documents(
    shared_emulator: Emulator, inbox: str, everything: list[dict]
) -> None:
    truth = shared_emulator.control.documents(inbox)
    assert sorted(d["id"] for d in truth) == sorted(d["id"] for d in everything)
    by_id = {d["id"]: d for d in truth}
    assert all(by_id[d["id"]] == d for d in everything)


def test_bursts_larger_than_a_page_exist(everything: list[dict]) -> None:
    bursts = Counter(d["timings"]["receive_time"] for d in everything)
    assert max(bursts.values()) > 100
    in_bursts = sum(n for n in bursts.values() if n > 1)
    assert 0.2 < in_bursts / len(everything) < 0.45


def test_document_endpoint_matches_page(admin: httpx.Client, everything: list[dict]) -> None:
    for doc in everything[:5]:
        assert admin.get(f"/documents/{doc['id']}").json() == doc


def test_every_key_present(everything: list[dict]) -> None:
    saw_unreviewed = saw_reviewed = saw_missing = False
    for doc in everything:
        assert set(doc) == DOCUMENT_KEYS
        assert OBJECT_ID.match(doc["id"]) and OBJECT_ID.match(doc["inbox"])
        assert set(doc["status_data"]) == STATUS_KEYS
        assert set(doc["timings"]) == TIMING_KEYS
        for state in ("submitted", "lock", "escalate", "reject"):
            assert set(doc[state]) == {"value", "by", "since"}
        assert set(doc["prediction"]) == {"sections", "annotations", "lines"}
        for atoms in doc["prediction"]["annotations"].values():
            for atom in atoms:
                assert set(atom) == ATOM_KEYS
                saw_missing |= atom["value"] is None
        for version in doc["versions"]:
            assert set(version) == VERSION_KEYS
            assert TIMESTAMP.match(version["timestamp"])
        timings = doc["timings"]
        for key in ("receive_time", "start_time", "done_time"):
            assert TIMESTAMP.match(timings[key])
        assert timings["receive_time"] <= timings["start_time"] <= timings["done_time"]
        assert doc["versions"][0]["name"] == "predicted"
        assert doc["versions"][0]["source"] == "machine"
        if timings["feedback_time"] is None:
            saw_unreviewed = True
        else:
            saw_reviewed = True
            human = [v for v in doc["versions"] if v["source"] == "human"]
            assert timings["feedback_time"] == timings["submit_time"] == human[-1]["timestamp"]
            assert set(human[-1]["annotations"]) == set(doc["prediction"]["annotations"])
    assert saw_unreviewed and saw_reviewed and saw_missing


def test_values_are_typed_and_unicode_survives(everything: list[dict]) -> None:
    types: dict[str, set[type]] = {}
    for doc in everything:
        for name, atoms in doc["prediction"]["annotations"].items():
            for atom in atoms:
                if atom["value"] is not None:
                    types.setdefault(name, set()).add(type(atom["value"]))
                    assert isinstance(atom["confidence"], int)
                    assert 0 <= atom["confidence"] <= 100
    assert types["gross_amount"] == {float}
    assert types["reverse_charge"] == {bool}
    assert types["invoice_date"] == {str}
    names = {
        a["value"] for d in everything for a in d["prediction"]["annotations"]["supplier_name"]
    }
    assert any(not n.isascii() for n in names if n)
    assert any(not d["original_filename"].isascii() for d in everything)
