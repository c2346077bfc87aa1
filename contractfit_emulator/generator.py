"""Seeded documents: arrival layout, machine prediction, and the review history.

A document is fully described by a small `DocSpec` (id, seed, receive time, event
list). Its content is rebuilt from that spec on demand, so the emulator holds only
specs, compact stats facts and a bounded cache of serialized bytes, even at 100k docs.
"""

from __future__ import annotations

import math
import random
from typing import Any

from .directory import Inbox
from .tenant import FIELDS, LINE_COLUMNS
from .timeutil import DAY_US, US
from .values import LAST_PAGE_FIELDS, Truth, Value, corrupt, field_text, hallucinate
from .vocab import EMAIL_SUBJECTS

HOUR_US = 3600 * US
_MASK = (1 << 64) - 1

# Event kinds of a document's history (tuples keep 100k specs small).
REVIEW = "review"  # (REVIEW, t_us, reviewer_index, reviewer_missed_an_error)
REPROCESS = "reprocess"  # (REPROCESS, t_us, version_name)
REJECT = "reject"  # (REJECT, t_us, reviewer_index)
ESCALATE = "escalate"  # (ESCALATE, t_us, reviewer_index)
ARCHIVE = "archive"  # (ARCHIVE, t_us)
LOCK = "lock"  # (LOCK, t_us, reviewer_index)

Event = tuple[Any, ...]


def mix_seed(*parts: int) -> int:
    """Combine integers into a well-mixed 64-bit seed, identical on every run."""
    acc = 0x243F6A8885A308D3
    for part in parts:
        acc = ((acc ^ (part & _MASK)) * 0x100000001B3 + 0x9E3779B97F4A7C15) & _MASK
        acc ^= acc >> 29
    return acc


class DocSpec:
    """Everything needed to rebuild one document deterministically."""

    __slots__ = ("id", "inbox", "seed", "receive_us", "burst_pos", "batch", "events")

    def __init__(
        self,
        doc_id: str,
        inbox: Inbox,
        seed: int,
        receive_us: int,
        burst_pos: int,
        batch: int | None,
        events: tuple[Event, ...] = (),
    ) -> None:
        self.id = doc_id
        self.inbox = inbox
        self.seed = seed
        self.receive_us = receive_us
        self.burst_pos = burst_pos
        self.batch = batch
        self.events = events


# ---------------------------------------------------------------- arrival layout


def _business_instant(rng: random.Random, low_us: int, high_us: int) -> int:
    """An instant in [low, high), denser on weekdays during office hours."""
    span_days = max(1, (high_us - low_us) // DAY_US + 1)
    first_day = low_us // DAY_US
    for _ in range(20):
        day = first_day + int(rng.random() * span_days)
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
        if weekday >= 5 and rng.random() > 0.2:
            continue
        if rng.random() < 0.7:
            sec = int((7.5 + rng.random() * 11) * 3600)
        else:
            sec = int(rng.random() * 86400)
        t = day * DAY_US + sec * US + int(rng.random() * US)
        if low_us <= t < high_us:
            return t
    return low_us + int(rng.random() * (high_us - low_us))


BURST_SHARE = 0.3  # the default share of documents uploaded in batches


def layout_arrivals(
    rng: random.Random, count: int, start_us: int, days: int, burst_share: float = BURST_SHARE
) -> list[tuple[int, int, int | None]]:
    """Receive times for `count` documents: ~70% alone, ~30% in batch uploads
    (`burst_share`; the same draws as before for the default).

    Returns `(receive_us, position_in_burst, batch_key)` sorted by time. Every inbox
    with at least 150 documents gets one burst larger than a page of 100.
    """
    low = start_us - days * DAY_US
    sizes: list[int] = []
    budget = round(burst_share * count) if count >= 4 else 0
    if count >= 150:
        sizes.append(min(250, max(101, min(budget, 101 + int(rng.random() * 150)))))
    remaining = budget - sum(sizes)
    while remaining >= 2:
        if rng.random() < 0.04:
            size = 100 + int(rng.random() * 151)
        else:
            size = 2 + int(rng.expovariate(1 / 10))
        size = min(size, 250, remaining)
        if remaining - size == 1:
            size += 1 if size < 250 else -1
        sizes.append(size)
        remaining -= size
    out: list[tuple[int, int, int | None]] = []
    for k, size in enumerate(sizes):
        t = _business_instant(rng, low, start_us - 2 * HOUR_US)
        out.extend((t, pos, k) for pos in range(size))
    for _ in range(count - len(out)):
        out.append((_business_instant(rng, low, start_us - 10 * 60 * US), 0, None))
    out.sort(key=lambda item: item[0])
    return out


# ---------------------------------------------------------------- document base

# A machine reading of one value: (value, confidence, page, line, char, flagged).
# A mandatory field the machine did not find gets (None, None, None, None, None, True).
Atom = tuple[Value, int | None, int | None, int | None, int | None, bool]
MISSING: Atom = (None, None, None, None, None, True)


class Base:
    """The machine side of a document: just what stats need, in compact tuples.

    Texts, line items, files and JSON dicts are derived later by `render` from a
    second random stream, so computing stats for 100k documents stays cheap.
    """

    __slots__ = (
        "seed",
        "truth",
        "page_count",
        "atoms",
        "positions",
        "flagged",
        "sections",
        "start_us",
        "done_us",
        "sampling",
        "p_low",
    )

    seed: int
    truth: Truth
    page_count: int
    atoms: dict[str, list[Atom]]
    positions: dict[str, list[tuple[int, int, int]]]
    flagged: bool
    sections: list[dict[str, Any]]
    start_us: int
    done_us: int
    sampling: bool
    p_low: float


_PAGE_WEIGHTS = (1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 5, 6, 8, 12)
# Confidence of a confidently read value: 99 minus a short exponential tail.
_HIGH_TAIL = tuple(int(-5 * math.log(1 - (k + 0.5) / 256)) for k in range(256))


def _wrong_probability(confidence: int, threshold: int) -> float:
    if confidence < 50:
        return 0.45
    if confidence < threshold:
        return 0.25
    if confidence < 90:
        return 0.04
    return 0.008


def generate_base(spec: DocSpec, format_ids: list[str]) -> Base:
    """Rebuild the machine side of a document from its spec (pure function)."""
    rng = random.Random(spec.seed)
    r = rng.random
    inbox = spec.inbox
    threshold = inbox.threshold
    low_span = threshold - 15
    base = Base()
    base.seed = spec.seed
    truth = Truth(rng, spec.receive_us)
    base.truth = truth
    page_count = _PAGE_WEIGHTS[int(r() * len(_PAGE_WEIGHTS))]
    base.page_count = page_count
    last_page = page_count - 1
    hard = r() < 0.35
    p_low = 0.15 if hard else 0.015
    base.p_low = p_low
    p_miss = 0.08 if hard else 0.02

    positions: dict[str, list[tuple[int, int, int]]] = {}
    all_atoms: dict[str, list[Atom]] = {}
    flagged = False
    for fdef in FIELDS:
        name = fdef.name
        page = last_page if name in LAST_PAGE_FIELDS else 0
        true_values = truth.fields[name]
        atoms: list[Atom] = []
        pos = []
        miss = p_miss * 0.5 if fdef.mandatory else p_miss
        for value in true_values:
            line = 1 + int(r() * 48)
            char = int(r() * 70)
            pos.append((page, line, char))
            if r() < miss:
                continue
            if r() < p_low:
                conf = 15 + int(r() * low_span)
            else:
                conf = max(threshold, 99 - _HIGH_TAIL[int(r() * 256)])
            read: Value = value
            if r() < _wrong_probability(conf, threshold):
                read = corrupt(name, value, rng)
            low = conf < threshold
            flagged = flagged or low
            atoms.append((read, conf, page, line, char, low))
        positions[name] = pos
        if not true_values and not fdef.mandatory and r() < 0.03:
            conf = 30 + int(r() * 60)
            low = conf < threshold
            flagged = flagged or low
            atoms.append(
                (hallucinate(name, rng, truth), conf, page, 1 + int(r() * 48), int(r() * 70), low)
            )
        if not atoms and fdef.mandatory:
            atoms.append(MISSING)
            flagged = True
        all_atoms[name] = atoms
    base.atoms = all_atoms
    base.positions = positions
    base.flagged = flagged

    doc_type = "credit_note" if r() < 0.08 else "invoice"
    fmt = format_ids[2] if doc_type == "credit_note" else format_ids[inbox.position % 2]
    sections = [
        {"page": 0, "document_type": doc_type, "format": fmt, "confidence": 80 + int(r() * 20)}
    ]
    if page_count >= 2 and r() < 0.15:
        sections.append(
            {
                "page": 1 + int(r() * (page_count - 1)),
                "document_type": "invoice",
                "format": format_ids[0],
                "confidence": 55 + int(r() * 45),
            }
        )
    base.sections = sections

    queue = int((0.3 + r() * 4) * US) + spec.burst_pos * int(0.9 * US)
    base.start_us = spec.receive_us + queue
    period = 1.2 + 1.8 * page_count + rng.lognormvariate(0, 0.45) * (1 + 0.4 * page_count)
    if r() < 0.02:
        period *= 4 + r() * 6  # the odd slow OCR job
    base.done_us = base.start_us + int(period * US)
    base.sampling = not flagged and r() < 0.10
    return base


# ---------------------------------------------------------------- presentation


class Dressing:
    """What only the JSON body needs: line items, files, meta information."""

    __slots__ = ("lines", "filename", "files", "meta", "ocr")

    lines: list[dict[str, tuple[Value, int]]]
    filename: str
    files: list[dict[str, Any]]
    meta: dict[str, Any]
    ocr: bool


# line column -> field whose corruption rules it follows
_LINE_KINDS = tuple(
    (col, {"description": "supplier_name", "vat_rate": "vat_rate"}.get(col, "net_amount"))
    for col, _kind in LINE_COLUMNS
)


def dress(spec: DocSpec, base: Base) -> Dressing:
    """Derive the presentation details from a second random stream of the spec."""
    rng = random.Random(mix_seed(spec.seed, 0xD2E55))
    r = rng.random
    threshold = spec.inbox.threshold
    low_span = threshold - 15
    p_low = base.p_low
    rows = []
    for row in base.truth.rows:
        cells = {}
        for col, kind in _LINE_KINDS:
            value = row[col]
            if r() < p_low:
                conf = 15 + int(r() * low_span)
            else:
                conf = max(threshold, 99 - _HIGH_TAIL[int(r() * 256)])
            if r() < _wrong_probability(conf, threshold) * 0.6:
                value = corrupt(kind, value, rng)
            cells[col] = (value, conf)
        rows.append(cells)
    out = Dressing()
    out.lines = rows
    out.ocr = r() < 0.6
    out.filename, out.files, out.meta = _files_and_meta(rng, spec, base.truth, base.page_count)
    return out


def cell_text(col: str, value: Value, style: str) -> str:
    """Printed text of a line-item cell."""
    if col == "description":
        return str(value)
    if col == "vat_rate":
        return f"{value:g}%"
    if col == "quantity":
        return f"{value:g}"
    return field_text("net_amount", value, style, 0)


def _files_and_meta(
    rng: random.Random, spec: DocSpec, truth: Truth, page_count: int
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    number = truth.number
    pick = rng.random()
    if pick < 0.55:
        filename = f"{number}.pdf"
    elif pick < 0.8:
        filename = f"Facture_{truth.supplier.split()[0]}_{number[-5:]}.pdf"
    elif pick < 0.95:
        filename = f"請求書_{truth.supplier[:4]}_{number[-5:]}.pdf"
    else:
        filename = f"scan {number[-5:]} 📎.pdf"
    filehash = f"sha256:{rng.getrandbits(256):064x}"
    leaf = {
        "filename": filename,
        "filehash": filehash,
        "page": 0,
        "page_count": page_count,
        "leaf": True,
        "embedded_attachment": False,
    }
    if spec.batch is not None:
        meta = {
            "source": "upload",
            "email_subject": None,
            "email_from": None,
            "batch_id": f"batch-{mix_seed(spec.inbox.position, spec.batch) & 0xFFFFFF:06x}",
        }
        return filename, [leaf], meta
    if rng.random() < 0.6:
        subject = EMAIL_SUBJECTS[int(rng.random() * len(EMAIL_SUBJECTS))].format(n=number)
        sender = f"billing@{truth.supplier.split()[0].lower()}.example"
        meta = {"source": "email", "email_subject": subject, "email_from": sender, "batch_id": None}
        if rng.random() < 0.3:
            container = {
                "filename": "message.eml",
                "filehash": f"sha256:{rng.getrandbits(256):064x}",
                "page": 0,
                "page_count": page_count,
                "leaf": False,
                "embedded_attachment": False,
            }
            leaf["embedded_attachment"] = True
            return filename, [container, leaf], meta
        return filename, [leaf], meta
    meta = {"source": "api", "email_subject": None, "email_from": None, "batch_id": None}
    return filename, [leaf], meta


# ---------------------------------------------------------------- history


def _review_delay(rng: random.Random) -> int:
    seconds = math.exp(rng.gauss(math.log(8 * 3600), 1.3))
    return int(min(max(seconds, 600), 45 * 86400) * US)


def plan_history(
    spec: DocSpec, base: Base, horizon_us: int, reviewer_count: int
) -> tuple[Event, ...]:
    """Reviews, rejections, reprocessing... that happened before `horizon_us` (= start)."""
    rng = random.Random(mix_seed(spec.seed, 0x5EED))
    events: list[Event] = []
    done = base.done_us

    def who() -> int:
        return int(rng.random() * reviewer_count)

    reviewed_at: int | None = None
    if base.flagged or base.sampling:
        t = done + _review_delay(rng)
        roll = rng.random() if base.flagged else 0.5
        if t < horizon_us:
            if roll < 0.04:
                events.append((REJECT, t, who()))
            elif roll < 0.08:
                events.append((ESCALATE, t, who()))
            elif roll < 0.9:
                events.append((REVIEW, t, who(), rng.random() < 0.08))
                reviewed_at = t
        elif rng.random() < 0.25:
            lock_t = horizon_us - int(rng.random() * 2 * HOUR_US)
            if lock_t > done:
                events.append((LOCK, lock_t, who()))
    if reviewed_at is not None and rng.random() < 0.03:
        t = reviewed_at + _review_delay(rng)
        if t < horizon_us:
            events.append((REVIEW, t, who(), False))
    if rng.random() < 0.05:
        t = done + int((1 + rng.random() * 240) * HOUR_US)
        if t < horizon_us:
            events.append((REPROCESS, t, "reprocessed" if rng.random() < 0.7 else "predicted"))
    submitted = reviewed_at is not None or not (base.flagged or base.sampling)
    if submitted and spec.receive_us < horizon_us - 60 * DAY_US and rng.random() < 0.1:
        last = max([done] + [e[1] for e in events])
        events.append((ARCHIVE, min(last + DAY_US, horizon_us - 1)))
    events.sort(key=lambda e: e[1])
    return tuple(events)
