"""Stats bodies computed from document facts, following the definitions in README.md.

The HTTP handlers and the `/_control/truth` ground truth both call these functions,
so an analytics layer that matches the truth also matches the server's own stats.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from .facts import AtomFact, DocFacts
from .tenant import FIELD_NAMES
from .timeutil import date_of, format_us

VOLUME_STATUSES = ("received", "to_review", "submitted", "rejected", "escalated", "archived")


def ratio(numerator: float, denominator: float) -> float | None:
    """A rate, or None when the denominator is zero."""
    return numerator / denominator if denominator else None


class Confusion:
    """Counts of one field (or of all fields) over evaluated atoms."""

    __slots__ = ("tp", "fp", "fn", "tn", "count", "correct")

    def __init__(self) -> None:
        self.tp = self.fp = self.fn = self.tn = self.count = self.correct = 0

    def add(self, value_empty: bool, gold_empty: bool, correct: bool) -> None:
        self.count += 1
        if correct:
            self.correct += 1
        if not value_empty:
            if correct:
                self.tp += 1
            else:
                self.fp += 1
        if not gold_empty and (value_empty or not correct):
            self.fn += 1
        if value_empty and gold_empty and correct:
            self.tn += 1

    def merge(self, other: Confusion) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def body(self, with_correct: bool = False) -> dict[str, Any]:
        """The API's per-field object (ground truth also carries `correct`)."""
        tp, fp, fn = self.tp, self.fp, self.fn
        out: dict[str, Any] = {
            "accuracy": ratio(self.correct, self.count),
            "precision": ratio(tp, tp + fp),
            "recall": ratio(tp, tp + fn),
            "f1": ratio(2 * tp, 2 * tp + fp + fn),
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": self.tn,
            "count": self.count,
        }
        if with_correct:
            out["correct"] = self.correct
        return out


def field_confusions(
    facts: Iterable[DocFacts], version_name: str, fields: Sequence[str] = FIELD_NAMES
) -> tuple[dict[str, Confusion], int, int]:
    """Per-field confusion over each document's last evaluated `version_name`.

    Also returns (documents evaluated, documents with every evaluated atom correct).
    """
    wanted = set(fields)
    per_field = {name: Confusion() for name in fields}
    evaluated = correct_docs = 0
    for doc in facts:
        evaluation = doc.evaluations.get(version_name)
        if evaluation is None:
            continue
        evaluated += 1
        all_ok = True
        for name, value_empty, gold_empty, correct, _page, _flagged in evaluation.atoms:
            all_ok = all_ok and correct
            if name in wanted:
                per_field[name].add(value_empty, gold_empty, correct)
        correct_docs += all_ok
    return per_field, evaluated, correct_docs


def field_stats(
    facts: Iterable[DocFacts], version_name: str, fields: Sequence[str] = FIELD_NAMES
) -> dict[str, Any]:
    """Body of `GET /stats/{inbox_id}`: per field plus `__all_fields__`."""
    per_field, _evaluated, _correct = field_confusions(facts, version_name, fields)
    total = Confusion()
    out: dict[str, Any] = {}
    for name in fields:
        out[name] = per_field[name].body()
        total.merge(per_field[name])
    out["__all_fields__"] = total.body()
    return out


def _section_ranges(section_pages: tuple[int, ...]) -> list[tuple[int, float]]:
    """Half-open page ranges: a section runs until the next section's first page."""
    ranges: list[tuple[int, float]] = []
    for i, first in enumerate(section_pages):
        end = section_pages[i + 1] if i + 1 < len(section_pages) else math.inf
        ranges.append((first, end))
    return ranges


def accuracy_stats(
    facts: Iterable[DocFacts],
    version_name: str,
    stp_files_only: bool = False,
    stp_fields_only: bool = False,
) -> dict[str, Any]:
    """Body of `GET /stats/{scope}/accuracy`."""
    docs_total = docs_correct = sections_total = sections_correct = 0
    fields = {name: [0, 0] for name in FIELD_NAMES}  # [correct, total]
    for doc in facts:
        evaluation = doc.evaluations.get(version_name)
        if evaluation is None or (stp_files_only and doc.flag_for_review):
            continue
        atoms: Sequence[AtomFact] = evaluation.atoms
        if stp_fields_only:
            atoms = [a for a in atoms if not a[5]]
        docs_total += 1
        docs_correct += all(a[3] for a in atoms)
        for first, end in _section_ranges(doc.section_pages):
            sections_total += 1
            sections_correct += all(a[3] for a in atoms if first <= a[4] < end)
        for atom in atoms:
            counts = fields[atom[0]]
            counts[0] += atom[3]
            counts[1] += 1
    return {
        "version_name": version_name,
        "documents": {"correct": docs_correct, "total": docs_total},
        "sections": {"correct": sections_correct, "total": sections_total},
        "fields": {name: {"correct": c, "total": t} for name, (c, t) in fields.items()},
    }


def stp_stats(facts: Iterable[DocFacts], version_name: str) -> dict[str, Any]:
    """Body of `GET /stats/{scope}/stp`: over every document, reviewed or not."""
    total = stp = sections_total = sections_stp = 0
    field_stp = dict.fromkeys(FIELD_NAMES, 0)
    for doc in facts:
        total += 1
        sections = len(doc.section_pages)
        sections_total += sections
        if not doc.flag_for_review:
            stp += 1
            sections_stp += sections
        for name in FIELD_NAMES:
            if name not in doc.flagged_fields:
                field_stp[name] += 1
    return {
        "version_name": version_name,
        "documents": {"stp": stp, "total": total, "rate": ratio(stp, total)},
        "sections": {"stp": sections_stp, "total": sections_total},
        "fields": {name: {"stp": n, "total": total} for name, n in field_stp.items()},
    }


def blocker_stats(facts: Iterable[DocFacts], include_detail: bool) -> dict[str, Any]:
    """Body of `GET /stats/{inbox_id}/automation_blockers`."""
    total = blocked = 0
    counts: dict[str, dict[str, int]] = {}
    details = []
    for doc in facts:
        total += 1
        if not doc.flag_for_review:
            continue
        blocked += 1
        for name, reason, confidence in doc.blockers:
            per_reason = counts.setdefault(name, {"low_confidence": 0, "missing": 0})
            per_reason[reason] += 1
            if include_detail:
                details.append(
                    {
                        "document_id": doc.id,
                        "field": name,
                        "reason": reason,
                        "confidence": confidence,
                    }
                )
    order = {name: i for i, name in enumerate(FIELD_NAMES)}
    body: dict[str, Any] = {
        "total_documents": total,
        "blocked_documents": blocked,
        "blockers": {name: counts[name] for name in sorted(counts, key=order.__getitem__)},
    }
    if include_detail:
        body["details"] = details
    return body


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy default, DuckDB quantile_cont)."""
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (position - low) * (sorted_values[high] - sorted_values[low])


def describe(values: list[float]) -> dict[str, Any]:
    """count, mean, min, max, sample std (None below 2 values), p50/p95/p99."""
    values = sorted(values)
    n = len(values)
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return {
        "count": n,
        "mean": mean,
        "min": values[0],
        "max": values[-1],
        "std": std,
        "p50": quantile(values, 0.5),
        "p95": quantile(values, 0.95),
        "p99": quantile(values, 0.99),
    }


def processing_stats(
    facts: Iterable[DocFacts], start: int | None, end: int | None
) -> dict[str, Any]:
    """Body of `GET /stats/{inbox_id}/processing`: window on `start_time`."""
    groups: dict[int, list[float]] = {}
    for doc in facts:
        if (start is None or doc.start_us >= start) and (end is None or doc.start_us < end):
            groups.setdefault(doc.page_count, []).append(doc.processing_period)
    return {
        "group_by": "pages",
        "groups": {str(pages): describe(groups[pages]) for pages in sorted(groups)},
    }


def volume_matches(doc: DocFacts, status: str, user: str | None) -> bool:
    """Whether a document counts for a volume status (and user, where a `by` exists)."""
    if status == "received":
        return True
    if status == "to_review":
        return doc.flag_for_review and not doc.submitted and not doc.rejected
    if status == "submitted":
        return doc.submitted and (user is None or doc.submitted_by == user)
    if status == "rejected":
        return doc.rejected and (user is None or doc.reject_by == user)
    if status == "escalated":
        return doc.escalated and (user is None or doc.escalate_by == user)
    return doc.archived


def volume_stats(facts: Iterable[DocFacts], status: str, user: str | None) -> dict[str, Any]:
    """Body of `GET /stats/{inbox_id}/volume`: days with a non-zero count, sorted."""
    days = Counter(date_of(doc.receive_us) for doc in facts if volume_matches(doc, status, user))
    return {"status": status, "days": [{"date": day, "count": days[day]} for day in sorted(days)]}


def usage_rows(
    per_inbox: Iterable[tuple[dict[str, Any], Iterable[DocFacts]]],
) -> list[dict[str, Any]]:
    """Body of `GET /stats/usage`: one row per inbox and UTC receive date, by date then inbox."""
    rows = []
    for inbox, facts in per_inbox:
        per_day: dict[str, list[int]] = {}
        for doc in facts:
            counts = per_day.setdefault(date_of(doc.receive_us), [0, 0])
            counts[0] += 1
            counts[1] += doc.page_count
        for day, (documents, pages) in per_day.items():
            rows.append(
                {
                    "inbox_id": inbox["id"],
                    "inbox_name": inbox["name"],
                    "project_id": inbox["project"],
                    "date": day,
                    "documents": documents,
                    "pages": pages,
                }
            )
    rows.sort(key=lambda r: (r["date"], r["inbox_id"]))
    return rows


def evaluated_versions(
    facts: Iterable[DocFacts],
    version_name: str | None,
    last_one_only: bool,
    version_window: tuple[int, int] | None,
) -> dict[str, Any]:
    """Body of `GET /stats/{inbox_id}/evaluated_versions`.

    `facts` are already restricted to the receive window unless `version_window`
    (filter_versions=true) restricts each version's timestamp instead.
    """
    out = []
    for doc in facts:
        versions = [
            v
            for v in doc.versions
            if (version_name is None or v[0] == version_name)
            and (version_window is None or version_window[0] <= v[4] < version_window[1])
        ]
        if not versions:
            continue
        if last_one_only:
            versions = versions[-1:]
        out.append(
            {
                "document_id": doc.id,
                "receive_time": format_us(doc.receive_us),
                "versions": [
                    {
                        "name": name,
                        "source": source,
                        "is_evaluated": is_evaluated,
                        "cmp_version": cmp_version,
                        "timestamp": format_us(t),
                    }
                    for name, source, is_evaluated, cmp_version, t in versions
                ],
            }
        )
    return {"documents": out}


def version_counts(facts: Iterable[DocFacts]) -> list[dict[str, Any]]:
    """Body of `GET /inboxes/{id}/document_versions`: documents having each name."""
    counts: Counter[str] = Counter()
    for doc in facts:
        counts.update({v[0] for v in doc.versions})
    return [{"name": name, "count": counts[name]} for name in sorted(counts)]


def ground_truth(facts: list[DocFacts], version_name: str) -> dict[str, Any]:
    """One inbox of `/_control/truth`, from the same functions as the endpoints."""
    per_field, evaluated, correct_docs = field_confusions(facts, version_name)
    total = Confusion()
    for confusion in per_field.values():
        total.merge(confusion)
    stp = sum(1 for d in facts if not d.flag_for_review)
    sampled = sampled_correct = 0
    for doc in facts:
        evaluation = doc.evaluations.get(version_name)
        if doc.flag_for_review or not doc.sampling or evaluation is None:
            continue
        sampled += 1
        sampled_correct += all(a[3] for a in evaluation.atoms)
    return {
        "document_ids": sorted(d.id for d in facts),
        "documents": len(facts),
        "fields": {name: c.body(with_correct=True) for name, c in per_field.items()},
        "__all_fields__": total.body(with_correct=True),
        "documents_evaluated": evaluated,
        "documents_correct": correct_docs,
        "stp": {
            "total": len(facts),
            "stp": stp,
            "rate": ratio(stp, len(facts)),
            "sampled": sampled,
            "sampled_correct": sampled_correct,
        },
    }
