"""Compact per-document facts: exactly what the stats endpoints and ground truth read.

Kept for every live document (a few hundred bytes each) so that stats over 100k
documents never rebuild or parse full Document bodies.
"""

from __future__ import annotations

from dataclasses import dataclass

from .evaluation import evaluate_fields
from .generator import Base, DocSpec
from .history import History
from .values import is_empty

# One evaluated atom: (field, value empty, gold empty, correct, page, flagged)
AtomFact = tuple[str, bool, bool, bool, int, bool]
# One version: (name, source, is_evaluated, cmp_version, timestamp_us)
VersionFact = tuple[str, str, bool, str | None, int]


@dataclass(slots=True)
class Evaluation:
    """The last evaluated version of one name."""

    t: int
    atoms: tuple[AtomFact, ...]


@dataclass(slots=True)
class DocFacts:
    """Stats-relevant view of one document."""

    id: str
    inbox: str
    receive_us: int
    start_us: int
    processing_period: float
    page_count: int
    flag_for_review: bool
    sampling: bool
    submitted: bool
    submitted_by: str | None
    rejected: bool
    reject_by: str | None
    escalated: bool
    escalate_by: str | None
    archived: bool
    section_pages: tuple[int, ...]
    blockers: tuple[tuple[str, str, int | None], ...]  # (field, reason, min confidence)
    flagged_fields: frozenset[str]
    versions: tuple[VersionFact, ...]
    evaluations: dict[str, Evaluation]


def extract(spec: DocSpec, base: Base, history: History) -> DocFacts:
    """Facts of a document from its base content and replayed history."""
    blockers: list[tuple[str, str, int | None]] = []
    flagged_fields = set()
    for name, atoms in base.atoms.items():
        low: list[int] = []
        missing = False
        for value, conf, _page, _line, _char, flagged in atoms:
            if not flagged:
                continue
            if is_empty(value):
                missing = True
            elif conf is not None:
                low.append(conf)
        if low:
            blockers.append((name, "low_confidence", min(low)))
        if missing:
            blockers.append((name, "missing", None))
        if low or missing:
            flagged_fields.add(name)

    evaluations: dict[str, Evaluation] = {}
    cache: dict[int, tuple[AtomFact, ...]] = {}
    for meta in history.versions:
        if not meta.evaluated or meta.human is None:
            continue
        key = id(meta.human)
        if key not in cache:
            cache[key] = _atom_facts(base, meta.human)
        evaluations[meta.name] = Evaluation(meta.t, cache[key])

    return DocFacts(
        id=spec.id,
        inbox=spec.inbox.id,
        receive_us=spec.receive_us,
        start_us=base.start_us,
        processing_period=(base.done_us - base.start_us) / 1_000_000,
        page_count=base.page_count,
        flag_for_review=base.flagged,
        sampling=base.sampling,
        submitted=history.submitted[0],
        submitted_by=history.submitted[1],
        rejected=history.reject[0],
        reject_by=history.reject[1],
        escalated=history.escalate[0],
        escalate_by=history.escalate[1],
        archived=history.archived,
        section_pages=tuple(s["page"] for s in base.sections),
        blockers=tuple(blockers),
        flagged_fields=frozenset(flagged_fields),
        versions=tuple(
            (m.name, m.source, m.evaluated, m.cmp_version, m.t) for m in history.versions
        ),
        evaluations=evaluations,
    )


def _atom_facts(base: Base, human: dict) -> tuple[AtomFact, ...]:
    out: list[AtomFact] = []
    atoms = base.atoms
    for name, pairing in evaluate_fields(base, human).items():
        field_atoms = atoms[name]
        for index, gold, correct in pairing:
            if index is None:
                out.append((name, True, is_empty(gold), correct, 0, False))
            else:
                value, _conf, page, _line, _char, flagged = field_atoms[index]
                out.append((name, is_empty(value), is_empty(gold), correct, page or 0, flagged))
    return tuple(out)
