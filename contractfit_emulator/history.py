"""Replay a document's events into its versions and workflow state.

One replay feeds both the JSON renderer and the stats facts, so status flags,
version lists and evaluations are defined in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .evaluation import human_values
from .generator import ARCHIVE, ESCALATE, LOCK, REJECT, REPROCESS, REVIEW, Base, DocSpec
from .values import Value

# A workflow flag as the API shows it: (value, by, since_us)
State = tuple[bool, str | None, int | None]
_OFF: State = (False, None, None)


@dataclass(slots=True)
class VersionMeta:
    """One entry of `versions`; `human` is the submission (human) or the gold (evaluated)."""

    name: str
    source: str
    evaluated: bool
    cmp_version: str | None
    by: str | None
    t: int
    human: dict[str, list[Value]] | None = None


@dataclass(slots=True)
class History:
    """Versions and workflow state after replaying every event."""

    versions: list[VersionMeta]
    submitted: State
    lock: State = _OFF
    escalate: State = _OFF
    reject: State = _OFF
    opened_by: list[State] = field(default_factory=list)
    feedback_cmp: str | None = None
    feedback_time: int | None = None
    submit_time: int | None = None
    archived: bool = False
    submit_attempts: int = 0
    predictions: int = 1

    @property
    def last_version(self) -> str:
        """Name of the newest version that is not an evaluation copy."""
        return next(v.name for v in reversed(self.versions) if not v.evaluated)


def replay(spec: DocSpec, base: Base, reviewer_ids: list[str]) -> History:
    """Apply the spec's events in order to the freshly predicted document.

    STP documents that are not sampled are auto-submitted at `done_time` (no `by`).
    """
    done = base.done_us
    machine = VersionMeta("predicted", "machine", False, None, None, done)
    auto = not base.flagged and not base.sampling
    history = History(
        versions=[machine],
        submitted=(True, None, done) if auto else _OFF,
        submit_time=done if auto else None,
        submit_attempts=1 if auto else 0,
    )
    human: dict[str, list[Value]] | None = None
    for event in spec.events:
        kind, t = event[0], event[1]
        if kind == REVIEW:
            by = reviewer_ids[event[2]]
            human = human_values(base, event[3])
            history.versions.append(VersionMeta("submitted", "human", False, None, by, t, human))
            history.versions.append(
                VersionMeta(machine.name, "machine", True, "submitted", None, t, human)
            )
            history.submitted = (True, by, t)
            history.feedback_time = history.submit_time = t
            history.feedback_cmp = machine.name
            history.lock = _OFF
            history.submit_attempts += 1
        elif kind == REPROCESS:
            machine = VersionMeta(event[2], "machine", False, None, None, t)
            history.versions.append(machine)
            history.predictions += 1
            if human is not None:
                history.versions.append(
                    VersionMeta(machine.name, "machine", True, "submitted", None, t, human)
                )
                history.feedback_cmp = machine.name
        elif kind == REJECT:
            history.reject = (True, reviewer_ids[event[2]], t)
        elif kind == ESCALATE:
            history.escalate = (True, reviewer_ids[event[2]], t)
        elif kind == ARCHIVE:
            history.archived = True
        elif kind == LOCK:
            state: State = (True, reviewer_ids[event[2]], t)
            history.lock = state
            history.opened_by.append(state)
    return history
