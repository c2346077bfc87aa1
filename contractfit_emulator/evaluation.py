"""Compare a machine reading with the human submission, field by field.

Shared by the Document renderer and the stats facts so that the `correct` flags a
client reads and the numbers the stats endpoints return can never disagree.
"""

from __future__ import annotations

from .generator import Base
from .tenant import FIELDS
from .values import Value, is_empty

# One evaluated atom: (index of the machine atom or None for a placeholder, gold, correct)
Pairing = list[tuple[int | None, Value, bool]]


def pair(machine_values: list[Value], gold_values: list[Value]) -> Pairing:
    """Exact matches first; leftovers pair up in order; unmatched gold becomes a placeholder.

    A field with neither a machine nor a human value still yields one placeholder atom
    (both empty, correct), which is what makes true negatives countable. The renderer
    writes that pairing as `[]` under the `empty_evaluated_lists` variant; the stats
    facts count it the same either way.
    """
    remaining = list(gold_values)
    hits = []
    for value in machine_values:
        hit = not is_empty(value) and value in remaining
        if hit:
            remaining.remove(value)
        hits.append(hit)
    out: Pairing = []
    for index, (value, hit) in enumerate(zip(machine_values, hits, strict=True)):
        if hit:
            out.append((index, value, True))
        elif remaining:
            out.append((index, remaining.pop(0), False))
        else:
            out.append((index, None, is_empty(value)))
    for gold in remaining:
        out.append((None, gold, False))
    if not out:
        out.append((None, None, True))
    return out


def human_values(base: Base, missed_error: bool) -> dict[str, list[Value]]:
    """What a reviewer submits: the truth, except one accepted machine error on a miss."""
    values = {name: list(v) for name, v in base.truth.fields.items()}
    if missed_error:
        for fdef in FIELDS:
            if fdef.multiple:
                continue
            atoms = base.atoms[fdef.name]
            truth = base.truth.fields[fdef.name]
            if atoms and truth and not is_empty(atoms[0][0]) and atoms[0][0] != truth[0]:
                values[fdef.name] = [atoms[0][0]]
                break
    return values


def evaluate_fields(base: Base, human: dict[str, list[Value]]) -> dict[str, Pairing]:
    """Pairing of every field of the schema."""
    atoms = base.atoms
    return {f.name: pair([a[0] for a in atoms[f.name]], human[f.name]) for f in FIELDS}
