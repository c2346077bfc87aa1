"""Stats endpoints cross-checked against a brute-force recomputation from full documents."""

from __future__ import annotations

from datetime import timedelta

import emulator_bruteforce as bf
import httpx
import pytest

from contractfit_emulator import Emulator

START = "2025-10-01T00:00:00Z"
END = "2025-12-20T12:30:00Z"


@pytest.fixture(scope="module")
def docs(shared_emulator: Emulator) -> dict[str, list[dict]]:
    by_inbox: dict[str, list[dict]] = {}
    for doc in shared_emulator.control.documents():
        by_inbox.setdefault(doc["inbox"], []).append(doc)
    return by_inbox


@pytest.fixture(scope="module")
def inbox(shared_emulator: Emulator) -> str:
    return shared_emulator.inbox_ids[0]


def window_docs(docs: list[dict], start: str | None = START, end: str | None = END) -> list:
    return bf.received(docs, bf.ts(start) if start else None, bf.ts(end) if end else None)


@pytest.mark.parametrize("windowed", [False, True])
def test_field_stats(admin: httpx.Client, docs: dict, inbox: str, windowed: bool) -> None:
    params = {"start_date": START, "end_date": END} if windowed else {}
    body = admin.get(f"/stats/{inbox}", params=params).json()
    expected = bf.field_stats(window_docs(docs[inbox]) if windowed else docs[inbox])
    assert body == expected
    assert body["__all_fields__"]["tn"] > 0 and body["__all_fields__"]["fp"] > 0


def test_field_stats_field_name_filter(admin: httpx.Client, docs: dict, inbox: str) -> None:
    body = admin.get(f"/stats/{inbox}", params={"field_name": "gross_amount"}).json()
    expected = bf.field_stats(docs[inbox])
    assert set(body) == {"gross_amount", "__all_fields__"}
    assert body["gross_amount"] == expected["gross_amount"]
    assert body["__all_fields__"] == expected["gross_amount"]
    assert admin.get(f"/stats/{inbox}", params={"field_name": "nope"}).status_code == 400


def test_field_stats_reprocessed_versions(admin: httpx.Client, docs: dict, inbox: str) -> None:
    body = admin.get(f"/stats/{inbox}", params={"version_name": "reprocessed"}).json()
    assert body == bf.field_stats(docs[inbox], "reprocessed")


@pytest.mark.parametrize("stp_files", [False, True])
@pytest.mark.parametrize("stp_fields", [False, True])
def test_accuracy(
    admin: httpx.Client, docs: dict, inbox: str, stp_files: bool, stp_fields: bool
) -> None:
    params = {
        "start_date": START,
        "end_date": END,
        "stp_files_only": str(stp_files).lower(),
        "stp_fields_only": str(stp_fields).lower(),
        "filter_by": "invoice",
    }
    body = admin.get(f"/stats/{inbox}/accuracy", params=params).json()
    assert body == bf.accuracy(window_docs(docs[inbox]), "predicted", stp_files, stp_fields)
    assert body["documents"]["total"] > 0


def test_accuracy_and_stp_on_a_project_scope(
    shared_emulator: Emulator, admin: httpx.Client, docs: dict
) -> None:
    project = admin.get("/projects").json()[0]["id"]
    members = [i["id"] for i in admin.get("/inboxes").json() if i["project"] == project]
    assert len(members) == 2
    pooled = [d for i in members for d in docs[i]]
    assert admin.get(f"/stats/{project}/accuracy").json() == bf.accuracy(pooled)
    assert admin.get(f"/stats/{project}/stp").json() == bf.stp(pooled)
    assert admin.get("/stats/0123456789abcdef01234567/stp").status_code == 404


def test_stp(admin: httpx.Client, docs: dict, inbox: str) -> None:
    body = admin.get(f"/stats/{inbox}/stp", params={"start_date": START, "end_date": END}).json()
    assert body == bf.stp(window_docs(docs[inbox]))
    assert 0.35 < body["documents"]["rate"] < 0.7


def test_stp_rate_over_all_inboxes_is_realistic(docs: dict) -> None:
    pooled = [d for group in docs.values() for d in group]
    rate = sum(not d["flag_for_review"] for d in pooled) / len(pooled)
    assert 0.4 <= rate <= 0.6


@pytest.mark.parametrize("detail", [False, True])
def test_automation_blockers(admin: httpx.Client, docs: dict, inbox: str, detail: bool) -> None:
    params = {"start_date": START, "end_date": END, "include_detail": str(detail).lower()}
    body = admin.get(f"/stats/{inbox}/automation_blockers", params=params).json()
    expected = bf.blockers(window_docs(docs[inbox]))
    if not detail:
        expected.pop("details")
        assert "details" not in body
    assert body == expected
    assert any(b["missing"] for b in body["blockers"].values())


def test_processing(admin: httpx.Client, docs: dict, inbox: str) -> None:
    params = {"start_date": START, "end_date": END, "group_by": "pages"}
    body = admin.get(f"/stats/{inbox}/processing", params=params).json()
    expected = bf.processing(docs[inbox], bf.ts(START), bf.ts(END))
    assert body.keys() == expected.keys() and body["groups"].keys() == expected["groups"].keys()
    for key, group in expected["groups"].items():
        for stat, value in group.items():
            assert body["groups"][key][stat] == (
                pytest.approx(value, rel=1e-12) if value is not None else None
            )
    assert admin.get(f"/stats/{inbox}/processing", params={"group_by": "x"}).status_code == 400


def test_processing_quantiles_match_numpy_linear(
    admin: httpx.Client, docs: dict, inbox: str
) -> None:
    pd = pytest.importorskip("pandas")
    body = admin.get(f"/stats/{inbox}/processing").json()
    frame = pd.DataFrame(
        [
            {"pages": str(d["page_count"]), "p": d["timings"]["processing_period"]}
            for d in docs[inbox]
        ]
    )
    for pages, group in frame.groupby("pages"):
        got = body["groups"][pages]
        assert got["p95"] == pytest.approx(group["p"].quantile(0.95), rel=1e-12)
        if len(group) > 1:
            assert got["std"] == pytest.approx(group["p"].std(), rel=1e-9)


@pytest.mark.parametrize(
    "status", ["received", "to_review", "submitted", "rejected", "escalated", "archived"]
)
def test_volume(admin: httpx.Client, docs: dict, inbox: str, status: str) -> None:
    body = admin.get(f"/stats/{inbox}/volume", params={"status": status}).json()
    assert body == bf.volume(docs[inbox], status)
    assert body["days"], f"no {status} documents generated"


def test_volume_rejects_unknown_status(admin: httpx.Client, inbox: str) -> None:
    response = admin.get(f"/stats/{inbox}/volume", params={"status": "lost"})
    assert response.status_code == 400


def test_usage(admin: httpx.Client, docs: dict) -> None:
    params = {"start_date": START, "end_date": END}
    rows = admin.get("/stats/usage", params=params).json()
    inboxes = {i["id"]: i for i in admin.get("/inboxes").json()}
    expected = []
    for inbox_id, group in docs.items():
        per_day: dict[str, list[int]] = {}
        for doc in window_docs(group):
            counts = per_day.setdefault(doc["timings"]["receive_time"][:10], [0, 0])
            counts[0] += 1
            counts[1] += doc["page_count"]
        expected += [
            {
                "inbox_id": inbox_id,
                "inbox_name": inboxes[inbox_id]["name"],
                "project_id": inboxes[inbox_id]["project"],
                "date": day,
                "documents": n,
                "pages": p,
            }
            for day, (n, p) in per_day.items()
        ]
    expected.sort(key=lambda r: (r["date"], r["inbox_id"]))
    assert rows == expected
    one = admin.get("/stats/usage", params={**params, "inbox_id": next(iter(docs))}).json()
    assert one == [r for r in expected if r["inbox_id"] == next(iter(docs))]


def test_usage_requires_both_dates(admin: httpx.Client) -> None:
    response = admin.get("/stats/usage", params={"start_date": START})
    assert response.status_code == 400
    assert "end_date" in response.json()["message"]


@pytest.mark.parametrize("filter_versions", [False, True])
@pytest.mark.parametrize("last_one_only", [False, True])
@pytest.mark.parametrize("version_name", [None, "submitted", "predicted"])
def test_evaluated_versions(
    admin: httpx.Client,
    docs: dict,
    inbox: str,
    filter_versions: bool,
    last_one_only: bool,
    version_name: str | None,
) -> None:
    start, end = "2025-11-20T00:00:00Z", "2025-12-20T00:00:00Z"
    params = {
        "start_date": start,
        "end_date": end,
        "filter_versions": str(filter_versions).lower(),
        "last_one_only": str(last_one_only).lower(),
    }
    if version_name:
        params["version_name"] = version_name
    body = admin.get(f"/stats/{inbox}/evaluated_versions", params=params).json()
    expected = bf.evaluated_versions(
        docs[inbox], bf.ts(start), bf.ts(end), filter_versions, last_one_only, version_name
    )
    assert body == expected
    assert body["documents"]


def test_evaluated_versions_window_rule(admin: httpx.Client, inbox: str) -> None:
    url = f"/stats/{inbox}/evaluated_versions"
    too_long = {"start_date": "2025-10-01T00:00:00Z", "end_date": "2025-11-01T00:00:01Z"}
    response = admin.get(url, params=too_long)
    assert response.status_code == 400
    assert "31 days" in response.json()["message"]
    exactly = {"start_date": "2025-10-01", "end_date": "2025-11-01"}
    assert admin.get(url, params=exactly).status_code == 200
    assert admin.get(url, params={"start_date": "yesterday"}).status_code == 400


def test_evaluated_versions_default_is_last_30_days(
    shared_emulator: Emulator, admin: httpx.Client, docs: dict, inbox: str
) -> None:
    body = admin.get(f"/stats/{inbox}/evaluated_versions").json()
    now = bf.ts(shared_emulator.control.state()["now"])
    expected = bf.evaluated_versions(docs[inbox], now - timedelta(days=30), now, False, True, None)
    assert body == expected


def test_document_versions(admin: httpx.Client, docs: dict, inbox: str) -> None:
    body = admin.get(f"/inboxes/{inbox}/document_versions").json()
    names: dict[str, int] = {}
    for doc in docs[inbox]:
        for name in {v["name"] for v in doc["versions"]}:
            names[name] = names.get(name, 0) + 1
    assert body == [{"name": n, "count": names[n]} for n in sorted(names)]
    assert {"predicted", "submitted", "reprocessed"} <= set(names)


def test_truth_matches_bruteforce(shared_emulator: Emulator, docs: dict) -> None:
    truth = shared_emulator.control.truth(start_date=START, end_date=END)
    assert set(truth["inboxes"]) == set(docs)
    for inbox_id, group in docs.items():
        got = truth["inboxes"][inbox_id]
        window = window_docs(group)
        assert got["document_ids"] == sorted(d["id"] for d in window)
        assert got["documents"] == len(window)
        expected = bf.field_stats(window)
        for name, stats in got["fields"].items():
            correct = stats.pop("correct")
            assert stats == expected[name]
            assert correct == round((expected[name]["accuracy"] or 0) * stats["count"])
        got["__all_fields__"].pop("correct")
        assert got["__all_fields__"] == expected["__all_fields__"]
        evaluated = [d for d in window if bf.last_evaluated(d, "predicted")]
        assert got["documents_evaluated"] == len(evaluated)
        assert got["documents_correct"] == sum(
            bf.last_evaluated(d, "predicted")["evaluation"]["document_correct"] for d in evaluated
        )
        stp_docs = [d for d in window if not d["flag_for_review"]]
        sampled = [
            d
            for d in stp_docs
            if d["status_data"]["sampling"] and bf.last_evaluated(d, "predicted")
        ]
        assert got["stp"] == {
            "total": len(window),
            "stp": len(stp_docs),
            "rate": len(stp_docs) / len(window),
            "sampled": len(sampled),
            "sampled_correct": sum(
                bf.last_evaluated(d, "predicted")["evaluation"]["document_correct"] for d in sampled
            ),
        }
        assert got["stp"]["sampled"] > 0


def test_evaluation_summary_counts_atoms(docs: dict) -> None:
    for doc in (d for group in docs.values() for d in group):
        for version in doc["versions"]:
            if not version["is_evaluated"]:
                assert version["evaluation"] is None
                continue
            atoms = [a for atoms in version["annotations"].values() for a in atoms]
            assert version["evaluation"] == {
                "fields_total": len(atoms),
                "fields_correct": sum(a["correct"] for a in atoms),
                "document_correct": all(a["correct"] for a in atoms),
            }
