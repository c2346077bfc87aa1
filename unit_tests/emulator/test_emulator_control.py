"""Control plane: arrivals, reviews, reprocessing, deletes, clock, churn, determinism."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import emulator_bruteforce as bf
import httpx

from contractfit_emulator import ADMIN_API_KEY, Emulator


def first_page(client: httpx.Client, inbox: str, **params: object) -> dict:
    return client.get(f"/inboxes/{inbox}/paginated", params={"per_page": 100, **params}).json()


def test_state(emulator: Emulator) -> None:
    state = emulator.control.state()
    assert state["now"] >= "2026-01-01T00:00:00"
    assert [i["id"] for i in state["inboxes"]] == emulator.inbox_ids
    assert sum(i["documents"] for i in state["inboxes"]) == 400
    assert state["users"]["admin"]["username"] == "demo@contract.fit"
    assert state["users"]["viewer"]["inboxes"] == [emulator.inbox_ids[0]]


def test_documents_split_over_inboxes() -> None:
    with Emulator(seed=3, inboxes=3, documents=10, now="2026-01-01T00:00:00Z") as emu:
        assert [i["documents"] for i in emu.control.state()["inboxes"]] == [4, 3, 3]


def test_arrive_now_and_at_a_given_time(emulator: Emulator, client: httpx.Client) -> None:
    inbox = emulator.inbox_ids[1]
    before = first_page(client, inbox)["total"]
    ids = emulator.control.arrive(count=3, inbox_id=inbox)
    page = first_page(client, inbox)
    assert page["total"] == before + 3
    assert {d["id"] for d in page["results"][:3]} == set(ids)  # newest first
    assert len({d["timings"]["receive_time"] for d in page["results"][:3]}) == 1
    new = page["results"][0]
    assert new["feedback"] is None and new["timings"]["feedback_time"] is None
    old = emulator.control.arrive(count=2, inbox_id=inbox, receive_time="2025-06-01T12:00:00Z")
    window = first_page(
        client,
        inbox,
        start_receive_date="2025-06-01T12:00:00Z",
        end_receive_date="2025-06-01T12:00:00.000001Z",
    )
    assert sorted(d["id"] for d in window["results"]) == sorted(old)


def test_review_shows_up_in_evaluated_versions(emulator: Emulator, client: httpx.Client) -> None:
    inbox = emulator.inbox_ids[0]
    [doc_id] = emulator.control.review(count=1, inbox_id=inbox)
    doc = client.get(f"/documents/{doc_id}").json()
    human = [v for v in doc["versions"] if v["source"] == "human"]
    evaluated = [v for v in doc["versions"] if v["is_evaluated"]]
    assert human and evaluated
    assert doc["submitted"]["value"] and doc["timings"]["feedback_time"] == human[-1]["timestamp"]
    state_now = bf.ts(emulator.control.state()["now"])
    body = client.get(
        f"/stats/{inbox}/evaluated_versions",
        params={
            "filter_versions": "true",
            "version_name": "predicted",
            "start_date": (state_now - timedelta(minutes=5)).isoformat(),
            "end_date": (state_now + timedelta(minutes=5)).isoformat(),
        },
    ).json()
    assert [d["document_id"] for d in body["documents"]] == [doc_id]
    assert body["documents"][0]["versions"][0]["is_evaluated"] is True


def test_review_by_ids_rereview_and_reprocess(emulator: Emulator, client: httpx.Client) -> None:
    inbox = emulator.inbox_ids[0]
    doc_id = first_page(client, inbox)["results"][0]["id"]
    before = client.get(f"/documents/{doc_id}").json()
    emulator.control.review(document_ids=[doc_id])
    emulator.control.advance(3600)
    emulator.control.review(document_ids=[doc_id])
    emulator.control.reprocess(document_ids=[doc_id])
    after = client.get(f"/documents/{doc_id}").json()
    names = [(v["name"], v["source"], v["is_evaluated"]) for v in after["versions"]]
    added = names[len(before["versions"]) :]
    assert added == [
        ("submitted", "human", False),
        ("predicted", "machine", True),
        ("submitted", "human", False),
        ("predicted", "machine", True),
        ("reprocessed", "machine", False),
        ("reprocessed", "machine", True),
    ]
    assert after["last_version"] == "reprocessed"
    assert after["usage_data"]["predictions"] == before["usage_data"]["predictions"] + 1
    stamps = [v["timestamp"] for v in after["versions"]]
    assert stamps == sorted(stamps)


def test_delete_gives_404(emulator: Emulator, client: httpx.Client) -> None:
    inbox = emulator.inbox_ids[0]
    total = first_page(client, inbox)["total"]
    deleted = emulator.control.delete(count=5, inbox_id=inbox)
    assert len(deleted) == 5
    assert first_page(client, inbox)["total"] == total - 5
    response = client.get(f"/documents/{deleted[0]}")
    assert response.status_code == 404 and response.json() == {"message": "Document not found"}
    assert emulator.control.delete(document_ids=[deleted[0]]) == []


def test_clock_advance(emulator: Emulator) -> None:
    before = bf.ts(emulator.control.state()["now"])
    after = bf.ts(emulator.control.advance(86400 * 3))
    assert timedelta(days=3) <= after - before < timedelta(days=3, seconds=5)


def test_churn_shifts_pages_between_requests(emulator: Emulator, client: httpx.Client) -> None:
    inbox = emulator.inbox_ids[0]
    emulator.control.churn(every=1, arrive=2, delete=1, review=1, inbox_id=inbox)
    totals = [first_page(client, inbox, page=p)["total"] for p in (1, 2, 3)]
    assert totals[1] == totals[0] + 1 and totals[2] == totals[1] + 1
    assert emulator.control.state()["churn"]["applied"] == 3
    emulator.control.churn_off()
    steady = first_page(client, inbox)["total"]
    assert first_page(client, inbox)["total"] == steady


def test_churn_every_n_and_path_filter(emulator: Emulator, client: httpx.Client) -> None:
    inbox = emulator.inbox_ids[1]
    emulator.control.churn(every=2, arrive=1, path_contains="/stats/")
    start = first_page(client, inbox)["total"]
    for _ in range(4):
        client.get(f"/stats/{inbox}/stp")
    client.get(f"/inboxes/{inbox}/paginated")  # does not match the churn path
    assert first_page(client, inbox)["total"] == start + 2  # arrivals in the request's inbox
    assert emulator.control.state()["churn"]["applied"] == 2


def test_truth_follows_mutations(emulator: Emulator) -> None:
    inbox = emulator.inbox_ids[0]
    before = emulator.control.truth(inbox_id=inbox)["inboxes"][inbox]
    emulator.control.review(count=10, inbox_id=inbox)
    after = emulator.control.truth(inbox_id=inbox)["inboxes"][inbox]
    assert after["documents_evaluated"] >= before["documents_evaluated"] + 5
    docs = emulator.control.documents(inbox)
    expected = bf.field_stats(docs)
    assert {
        k: {x: y for x, y in v.items() if x != "correct"} for k, v in after["fields"].items()
    } == {k: v for k, v in expected.items() if k != "__all_fields__"}


def test_same_seed_and_now_give_identical_bytes() -> None:
    kwargs = {"seed": 5, "inboxes": 2, "documents": 150, "now": "2025-06-30T12:00:00Z"}
    bodies = []
    for _ in range(2):
        with (
            Emulator(**kwargs) as emu,
            httpx.Client(
                base_url=emu.base_url, headers={"X-API-Key": emu.core.directory.admin.api_key}
            ) as client,
        ):
            inbox = emu.inbox_ids[1]
            bodies.append(
                client.get(
                    f"/inboxes/{inbox}/paginated", params={"per_page": 100, "page": 1}
                ).content
            )
            bodies.append(client.get(f"/stats/{inbox}").content)
    assert bodies[0] == bodies[2] and bodies[1] == bodies[3]
    with Emulator(**{**kwargs, "seed": 6}) as emu:
        assert emu.inbox_ids[1] not in bodies[0].decode()


def test_prefill_fills_the_cache_in_the_background() -> None:
    import time

    with Emulator(
        seed=2, inboxes=1, documents=120, now="2026-01-01T00:00:00Z", prefill=True
    ) as emu:
        store = emu.core.store
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(r.data is None for r in store.records.values()):
            time.sleep(0.05)
        assert all(r.data is not None for r in store.records.values())
        assert store.cache_used == sum(len(r.data or b"") for r in store.records.values())


def test_latency_delays_each_answer_in_its_own_thread(emulator: Emulator) -> None:
    """1 s per request and 2 ms per Document: four pages asked at once come back in about
    the time of one (one slow answer never holds another), and the counters say what was
    served. The margins are seconds, not a speed measurement."""
    inbox = emulator.inbox_ids[0]
    emulator.control.reset_requests()
    assert emulator.control.latency(per_request_ms=1000, per_document_ms=2) == {
        "per_request_ms": 1000.0,
        "per_document_ms": 2.0,
    }
    try:
        with httpx.Client(
            base_url=emulator.base_url, headers={"X-API-Key": ADMIN_API_KEY}, timeout=30
        ) as client:
            started = time.monotonic()
            one = first_page(client, inbox, per_page=50)
            alone = time.monotonic() - started
            started = time.monotonic()
            with ThreadPoolExecutor(4) as pool:
                pages = list(pool.map(lambda p: first_page(client, inbox, page=p), [1, 2, 3, 4]))
            together = time.monotonic() - started
    finally:
        emulator.control.latency(0, 0)
    assert alone >= 1.1  # 1 s + 50 documents x 2 ms
    assert together < 2 * alone, f"four concurrent answers took {together:.1f} s"
    served = len(one["results"]) + sum(len(p["results"]) for p in pages)
    counters = emulator.control.requests()
    assert counters["documents_served"] == served
    assert counters["paginated_per_page"] == {"50": 1, "100": 4}
    assert emulator.control.documents_served() == served


def test_burst_share_sets_the_share_of_documents_sharing_an_instant() -> None:
    for share in (0.3, 0.9):  # (0: still the one burst longer than a page, by design)
        with Emulator(seed=5, inboxes=1, documents=400, burst_share=share) as emu:
            times = Counter(d["timings"]["receive_time"] for d in emu.control.documents())
            shared = sum(n for n in times.values() if n > 1)
            assert abs(shared / 400 - share) < 0.02, (share, shared)
