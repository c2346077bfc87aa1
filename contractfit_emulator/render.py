"""Turn a document's base content and event history into the API's Document body.

Every key of the Document is always present (null when unknown), versions share one
key set, and evaluation compares machine values with the human values for real.
With `empty_evaluated_lists` (the variant of that name), an evaluated field with neither a
machine nor a human value is written `[]` instead of one both-empty placeholder atom; the
stats facts (evaluation.py pairings) and the `evaluation` summary still count it as one
correct observation (a tn), as the vendor does.
"""

from __future__ import annotations

from typing import Any

from .evaluation import evaluate_fields
from .generator import Base, DocSpec, Dressing, cell_text, dress
from .history import State, replay
from .tenant import FIELDS, LINE_COLUMNS, LINE_TABLE
from .timeutil import US, format_opt, format_us
from .values import Value, field_text, gold_string, is_empty

_EMPTY_ATOM_KEYS = ("value", "text", "confidence", "upper_left", "lower_right", "flagged")


def _version(
    name: str,
    source: str,
    evaluated: bool,
    cmp_version: str | None,
    by: str | None,
    t: int,
    annotations: dict[str, Any],
    lines: dict[str, Any],
    sections: list[dict[str, Any]],
    evaluation: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "name": name,
        "source": source,
        "is_evaluated": evaluated,
        "cmp_version": cmp_version,
        "by": by,
        "timestamp": format_us(t),
        "annotations": annotations,
        "lines": lines,
        "sections": sections,
        "evaluation": evaluation,
    }


def prediction_annotations(base: Base) -> dict[str, list[dict[str, Any]]]:
    """The machine atoms as JSON objects (value, text, confidence, coordinates, flagged)."""
    style = base.truth.style
    variant = base.truth.date_variant
    out: dict[str, list[dict[str, Any]]] = {}
    for name, atoms in base.atoms.items():
        items = []
        for value, conf, page, line, char, flagged in atoms:
            if conf is None or page is None or line is None or char is None:
                atom: dict[str, Any] = dict.fromkeys(_EMPTY_ATOM_KEYS)
                atom["flagged"] = flagged
            else:
                text = field_text(name, value, style, variant)
                atom = {
                    "value": value,
                    "text": text,
                    "confidence": conf,
                    "upper_left": [page, line, char],
                    "lower_right": [page, line, char + len(text)],
                    "flagged": flagged,
                }
            items.append(atom)
        out[name] = items
    return out


def prediction_lines(base: Base, dressing: Dressing) -> dict[str, Any]:
    """Machine line items: one `{column: {value, text, confidence}}` per row."""
    style = base.truth.style
    rows = [
        {
            col: {"value": value, "text": cell_text(col, value, style), "confidence": conf}
            for col, (value, conf) in row.items()
        }
        for row in dressing.lines
    ]
    return {LINE_TABLE: rows}


def _human_annotations(base: Base, values: dict[str, list[Value]]) -> dict[str, Any]:
    truth = base.truth
    out: dict[str, Any] = {}
    for fdef in FIELDS:
        name = fdef.name
        positions = base.positions[name]
        atoms = []
        for k, value in enumerate(values[name]):
            page, line, char = positions[k] if k < len(positions) else (0, 1, 0)
            text = field_text(name, value, truth.style, truth.date_variant)
            atoms.append(
                {
                    "value": value,
                    "text": text,
                    "textual_coord": [page, line, char, page, line, char + len(text)],
                }
            )
        out[name] = atoms
    return out


def _human_lines(base: Base) -> dict[str, Any]:
    style = base.truth.style
    rows = [
        {
            col: {"value": row[col], "text": cell_text(col, row[col], style)}
            for col, _kind in LINE_COLUMNS
        }
        for row in base.truth.rows
    ]
    return {LINE_TABLE: rows}


def _placeholder(gold: str | None, correct: bool) -> dict[str, Any]:
    atom: dict[str, Any] = dict.fromkeys(_EMPTY_ATOM_KEYS)
    atom["flagged"] = False
    atom["gold"] = gold
    atom["correct"] = correct
    return atom


def _both_empty(pairing: list[tuple[int | None, Value, bool]]) -> bool:
    """The pairing of a field with no machine atom and no human value."""
    if len(pairing) != 1:
        return False
    index, gold, ok = pairing[0]
    return index is None and is_empty(gold) and ok


def _evaluated(
    base: Base,
    machine: dict[str, Any],
    human: dict[str, list[Value]],
    empty_evaluated_lists: bool = False,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Evaluated annotations, evaluated lines, and the `evaluation` summary."""
    pairings = evaluate_fields(base, human)
    predicted = machine["annotations"]
    annotations: dict[str, Any] = {}
    total = correct = 0
    for name, pairing in pairings.items():
        atoms = predicted[name]
        items: list[dict[str, Any]] = []
        if empty_evaluated_lists and _both_empty(pairing):
            annotations[name] = items  # `[]`, still one correct observation (a tn)
            total += 1
            correct += 1
            continue
        for index, gold, ok in pairing:
            if index is None:
                items.append(_placeholder(gold_string(gold), ok))
            else:
                items.append({**atoms[index], "gold": gold_string(gold), "correct": ok})
            total += 1
            correct += ok
        annotations[name] = items
    rows = []
    for row, truth_row in zip(machine["lines"][LINE_TABLE], base.truth.rows, strict=True):
        cells = {}
        for col, _kind in LINE_COLUMNS:
            cell = row[col]
            gold = truth_row[col]
            cells[col] = {**cell, "gold": gold_string(gold), "correct": cell["value"] == gold}
        rows.append(cells)
    summary = {
        "fields_total": total,
        "fields_correct": correct,
        "document_correct": correct == total,
    }
    return annotations, {LINE_TABLE: rows}, summary


def _state(state: State) -> dict[str, Any]:
    value, by, since = state
    return {"value": value, "by": by, "since": format_opt(since)}


def render(
    spec: DocSpec, base: Base, reviewer_ids: list[str], empty_evaluated_lists: bool = False
) -> dict[str, Any]:
    """The full Document body for a spec's current history (variant: module docstring)."""
    dressing = dress(spec, base)
    history = replay(spec, base, reviewer_ids)
    sections = base.sections
    annotations = prediction_annotations(base)
    lines = prediction_lines(base, dressing)
    machine = {"annotations": annotations, "lines": lines}
    versions = []
    human_lines: dict[str, Any] | None = None
    evaluated: dict[int, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {}
    for meta in history.versions:
        evaluation = None
        if meta.source == "human" and meta.human is not None:
            human_lines = human_lines or _human_lines(base)
            ann, lns = _human_annotations(base, meta.human), human_lines
        elif meta.evaluated and meta.human is not None:
            key = id(meta.human)
            if key not in evaluated:
                evaluated[key] = _evaluated(base, machine, meta.human, empty_evaluated_lists)
            ann, lns, evaluation = evaluated[key]
        else:
            ann, lns = annotations, lines
        versions.append(
            _version(
                meta.name,
                meta.source,
                meta.evaluated,
                meta.cmp_version,
                meta.by,
                meta.t,
                ann,
                lns,
                sections,
                evaluation,
            )
        )
    feedback = None
    if history.feedback_cmp is not None:
        feedback = {"name": "submitted", "cmp_version": history.feedback_cmp, "evaluate": True}
    rejected = history.reject[0]
    done = base.done_us
    return {
        "id": spec.id,
        "inbox": spec.inbox.id,
        "original_filename": dressing.filename,
        "page_count": base.page_count,
        "files": dressing.files,
        "prediction": {"sections": sections, "annotations": annotations, "lines": lines},
        "versions": versions,
        "last_version": history.last_version,
        "feedback": feedback,
        "flag_for_review": base.flagged,
        "status_data": {
            "data": True,
            "success": True,
            "archived": history.archived,
            "escalate": history.escalate[0],
            "lock": history.lock[0],
            "reject": rejected,
            "sampling": base.sampling,
            "feedback": feedback is not None,
            "ready_accepted": True,
            "ready_attempts": 1,
            "submit_accepted": history.submitted[0],
            "submit_attempts": history.submit_attempts,
            "reject_accepted": rejected,
            "reject_attempts": 1 if rejected else 0,
        },
        "timings": {
            "receive_time": format_us(spec.receive_us),
            "start_time": format_us(base.start_us),
            "done_time": format_us(done),
            "processing_period": (done - base.start_us) / US,
            "feedback_time": format_opt(history.feedback_time),
            "submit_time": format_opt(history.submit_time),
        },
        "submitted": _state(history.submitted),
        "lock": _state(history.lock),
        "escalate": _state(history.escalate),
        "reject": _state(history.reject),
        "opened_by": [_state(s) for s in history.opened_by],
        "usage_data": {
            "pages": base.page_count,
            "ocr_pages": base.page_count if dressing.ocr else 0,
            "predictions": history.predictions,
        },
        "meta_information": dressing.meta,
    }
