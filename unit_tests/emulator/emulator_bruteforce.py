"""Independent re-implementation of the stats definitions over full Document bodies.

Written from the definitions in contractfit_emulator/README.md, reading only
the JSON a client sees, so that it cross-checks the emulator's compact facts.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Any

Doc = dict[str, Any]


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def in_window(text: str, start: datetime | None, end: datetime | None) -> bool:
    t = ts(text)
    return (start is None or t >= start) and (end is None or t < end)


def received(docs: list[Doc], start: datetime | None, end: datetime | None) -> list[Doc]:
    return [d for d in docs if in_window(d["timings"]["receive_time"], start, end)]


def empty(value: Any) -> bool:
    return value is None or value == ""


def last_evaluated(doc: Doc, version_name: str) -> Doc | None:
    found = None
    for version in doc["versions"]:
        if version["is_evaluated"] and version["name"] == version_name:
            found = version
    return found


def eval_atoms(version: Doc) -> list[tuple[str, Doc]]:
    return [(field, atom) for field, atoms in version["annotations"].items() for atom in atoms]


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def confusion_body(c: Counter) -> dict[str, Any]:
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    return {
        "accuracy": ratio(c["correct"], c["count"]),
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": c["tn"],
        "count": c["count"],
    }


def field_stats(docs: list[Doc], version_name: str = "predicted") -> dict[str, Any]:
    per_field: dict[str, Counter] = defaultdict(Counter)
    fields: list[str] = []
    for doc in docs:
        for name in doc["prediction"]["annotations"]:
            if name not in fields:
                fields.append(name)
        version = last_evaluated(doc, version_name)
        if version is None:
            continue
        for name, atom in eval_atoms(version):
            c = per_field[name]
            v_empty, g_empty, ok = empty(atom["value"]), empty(atom["gold"]), atom["correct"]
            c["count"] += 1
            c["correct"] += ok
            if not v_empty:
                c["tp" if ok else "fp"] += 1
            if not g_empty and (v_empty or not ok):
                c["fn"] += 1
            if v_empty and g_empty and ok:
                c["tn"] += 1
    out = {name: confusion_body(per_field[name]) for name in fields}
    total: Counter = Counter()
    for c in per_field.values():
        total.update(c)
    out["__all_fields__"] = confusion_body(total)
    return out


def atom_page(atom: Doc) -> int:
    return atom["upper_left"][0] if atom.get("upper_left") else 0


def accuracy(
    docs: list[Doc],
    version_name: str = "predicted",
    stp_files_only: bool = False,
    stp_fields_only: bool = False,
) -> dict[str, Any]:
    d_ok = d_tot = s_ok = s_tot = 0
    fields: dict[str, list[int]] = {}
    for doc in docs:
        for name in doc["prediction"]["annotations"]:
            fields.setdefault(name, [0, 0])
        version = last_evaluated(doc, version_name)
        if version is None or (stp_files_only and doc["flag_for_review"]):
            continue
        atoms = eval_atoms(version)
        if stp_fields_only:
            atoms = [(f, a) for f, a in atoms if not a["flagged"]]
        d_tot += 1
        d_ok += all(a["correct"] for _f, a in atoms)
        starts = [s["page"] for s in version["sections"]]
        for i, first in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else math.inf
            s_tot += 1
            s_ok += all(a["correct"] for _f, a in atoms if first <= atom_page(a) < end)
        for name, atom in atoms:
            fields[name][0] += atom["correct"]
            fields[name][1] += 1
    return {
        "version_name": version_name,
        "documents": {"correct": d_ok, "total": d_tot},
        "sections": {"correct": s_ok, "total": s_tot},
        "fields": {n: {"correct": c, "total": t} for n, (c, t) in fields.items()},
    }


def flagged_fields(doc: Doc) -> set[str]:
    return {
        name
        for name, atoms in doc["prediction"]["annotations"].items()
        if any(a["flagged"] for a in atoms)
    }


def stp(docs: list[Doc], version_name: str = "predicted") -> dict[str, Any]:
    total = len(docs)
    stp_docs = [d for d in docs if not d["flag_for_review"]]
    names: list[str] = []
    for doc in docs:
        names += [n for n in doc["prediction"]["annotations"] if n not in names]
    return {
        "version_name": version_name,
        "documents": {"stp": len(stp_docs), "total": total, "rate": ratio(len(stp_docs), total)},
        "sections": {
            "stp": sum(len(d["prediction"]["sections"]) for d in stp_docs),
            "total": sum(len(d["prediction"]["sections"]) for d in docs),
        },
        "fields": {
            n: {"stp": sum(1 for d in docs if n not in flagged_fields(d)), "total": total}
            for n in names
        },
    }


def blockers(docs: list[Doc]) -> dict[str, Any]:
    counts: dict[str, Counter] = {}
    details = []
    blocked = 0
    for doc in docs:
        if not doc["flag_for_review"]:
            continue
        blocked += 1
        for name, atoms in doc["prediction"]["annotations"].items():
            flagged = [a for a in atoms if a["flagged"]]
            low = [a["confidence"] for a in flagged if not empty(a["value"])]
            missing = any(empty(a["value"]) for a in flagged)
            if low:
                counts.setdefault(name, Counter())["low_confidence"] += 1
                details.append(
                    {
                        "document_id": doc["id"],
                        "field": name,
                        "reason": "low_confidence",
                        "confidence": min(low),
                    }
                )
            if missing:
                counts.setdefault(name, Counter())["missing"] += 1
                details.append(
                    {
                        "document_id": doc["id"],
                        "field": name,
                        "reason": "missing",
                        "confidence": None,
                    }
                )
    return {
        "total_documents": len(docs),
        "blocked_documents": blocked,
        "blockers": {
            n: {"low_confidence": c["low_confidence"], "missing": c["missing"]}
            for n, c in counts.items()
        },
        "details": details,
    }


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    pos = (len(values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (pos - lo) * (values[hi] - values[lo])


def processing(docs: list[Doc], start: datetime | None, end: datetime | None) -> dict[str, Any]:
    groups: dict[int, list[float]] = defaultdict(list)
    for doc in docs:
        if in_window(doc["timings"]["start_time"], start, end):
            groups[doc["page_count"]].append(doc["timings"]["processing_period"])
    out = {}
    for pages in sorted(groups):
        values = groups[pages]
        n = len(values)
        mean = sum(values) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
        out[str(pages)] = {
            "count": n,
            "mean": mean,
            "min": min(values),
            "max": max(values),
            "std": std,
            "p50": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99),
        }
    return {"group_by": "pages", "groups": out}


def volume_status(doc: Doc, status: str) -> bool:
    if status == "received":
        return True
    if status == "to_review":
        return (
            doc["flag_for_review"] and not doc["submitted"]["value"] and not doc["reject"]["value"]
        )
    if status == "submitted":
        return doc["submitted"]["value"]
    if status == "rejected":
        return doc["reject"]["value"]
    if status == "escalated":
        return doc["escalate"]["value"]
    return doc["status_data"]["archived"]


def volume(docs: list[Doc], status: str) -> dict[str, Any]:
    days = Counter(d["timings"]["receive_time"][:10] for d in docs if volume_status(d, status))
    return {"status": status, "days": [{"date": k, "count": days[k]} for k in sorted(days)]}


def evaluated_versions(
    docs: list[Doc],
    start: datetime,
    end: datetime,
    filter_versions: bool,
    last_one_only: bool,
    version_name: str | None,
) -> dict[str, Any]:
    out = []
    pool = docs if filter_versions else received(docs, start, end)
    pool = sorted(pool, key=lambda d: (d["timings"]["receive_time"], d["id"]))
    for doc in pool:
        versions = [
            v
            for v in doc["versions"]
            if (version_name is None or v["name"] == version_name)
            and (not filter_versions or in_window(v["timestamp"], start, end))
        ]
        if not versions:
            continue
        if last_one_only:
            versions = versions[-1:]
        out.append(
            {
                "document_id": doc["id"],
                "receive_time": doc["timings"]["receive_time"],
                "versions": [
                    {
                        k: v[k]
                        for k in ("name", "source", "is_evaluated", "cmp_version", "timestamp")
                    }
                    for v in versions
                ],
            }
        )
    return {"documents": out}


def utc(text: str) -> datetime:
    return ts(text).astimezone(timezone.utc)
