"""True invoice contents, their printed text, and plausible machine mistakes.

The truth is what a careful reviewer would submit; the machine prediction is derived
from it by dropping, corrupting or hallucinating values, so evaluation outcomes follow
from real value comparisons rather than from coin flips stamped on atoms.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from .tenant import FIELDS
from .timeutil import DAY_US, day_string
from .vocab import CUSTOMERS, LINE_DESCRIPTIONS, MONTHS, OCR_CONFUSIONS, SUPPLIERS

Value = Any  # str | float | bool | None
FIELD_TYPES: dict[str, str] = {f.name: f.type for f in FIELDS}
# Fields printed on the last page (totals, payment details); the rest on page 0.
LAST_PAGE_FIELDS = frozenset(
    {"net_amount", "vat_rate", "vat_amount", "gross_amount", "iban", "payment_reference"}
)


def is_empty(value: Value) -> bool:
    """The API's notion of an empty value: null or the empty string."""
    return value is None or value == ""


def gold_string(value: Value) -> str | None:
    """A human value as the `gold` string of an evaluated atom."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_amount(value: float, style: str) -> str:
    """Print an amount the way the supplier's locale does."""
    if style == "jp":
        return f"¥{value:,.0f}"
    text = f"{value:,.2f}"
    if style == "eu":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def format_date(iso: str, variant: int) -> str:
    """Print a date in one of a few common layouts."""
    year, month, day = iso.split("-")
    if variant == 0:
        return f"{day}/{month}/{year}"
    if variant == 1:
        return f"{int(day)} {MONTHS[int(month) - 1]} {year}"
    if variant == 2:
        return f"{year}年{int(month)}月{int(day)}日"
    return iso


def field_text(field: str, value: Value, style: str, date_variant: int) -> str:
    """Raw text on the page for a typed value."""
    kind = FIELD_TYPES.get(field, "string")
    if kind == "date":
        return format_date(value, date_variant)
    if field == "vat_rate":
        return f"{value:g}%"
    if kind == "float":
        return format_amount(value, style)
    if kind == "boolean":
        return "Reverse charge / Autoliquidation" if value else "no"
    if field == "iban":
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return str(value)


def _iso_day(day_number: int) -> str:
    return day_string(day_number)


class Truth:
    """What the document really says: header fields, line rows and print style."""

    __slots__ = ("fields", "rows", "style", "date_variant", "supplier", "number")

    fields: dict[str, list[Value]]

    def __init__(self, rng: random.Random, receive_us: int) -> None:
        r = rng.random
        supplier = SUPPLIERS[int(r() * len(SUPPLIERS))]
        customer = CUSTOMERS[int(r() * len(CUSTOMERS))]
        name, vat, iban, currency, prefix, style = supplier
        self.supplier = name
        self.style = style
        self.date_variant = 2 if style == "jp" else (0, 1, 3)[int(r() * 3)]
        receive_day = receive_us // DAY_US
        invoice_day = receive_day - int(r() * 11)
        invoice_date = _iso_day(invoice_day)
        self.number = f"{prefix}-{invoice_date[:4]}-{1 + int(r() * 99998):05d}"
        reverse = r() < 0.05
        if reverse:
            rates: tuple[float, ...] = (0.0,)
        else:
            rates = _RATE_SETS[int(r() * len(_RATE_SETS))]
        rows: list[dict[str, Value]] = []
        net = vat_amount = 0.0
        used: set[float] = set()
        for _ in range(1 + int(r() * 8)):
            quantity = float(1 + int(r() * 20)) if r() < 0.8 else (1 + int(r() * 16)) / 2
            unit = (100 + int(r() * 249_900)) / 100
            if style == "jp":
                unit = float(round(unit * 100))
            amount = round(quantity * unit, 2)
            rate = rates[int(r() * len(rates))]
            used.add(rate)
            net += amount
            vat_amount += amount * rate / 100
            rows.append(
                {
                    "description": LINE_DESCRIPTIONS[int(r() * len(LINE_DESCRIPTIONS))],
                    "quantity": quantity,
                    "unit_price": unit,
                    "amount": amount,
                    "vat_rate": rate,
                }
            )
        self.rows = rows
        net = round(net, 2)
        vat_amount = round(vat_amount, 2)
        self.fields = {
            "invoice_number": [self.number],
            "invoice_date": [invoice_date],
            "due_date": (
                [_iso_day(invoice_day + _TERMS[int(r() * len(_TERMS))])] if r() < 0.9 else []
            ),
            "supplier_name": [name],
            "supplier_vat": [vat] if r() < 0.95 else [],
            "customer_name": [customer[0]],
            "customer_vat": [customer[1]] if r() < 0.8 else [],
            "iban": [iban] if r() < 0.9 else [],
            "currency": [currency],
            "net_amount": [net],
            "vat_rate": sorted(used),
            "vat_amount": [vat_amount],
            "gross_amount": [round(net + vat_amount, 2)],
            "PO_number": [f"PO-{10000 + int(r() * 89999)}"] if r() < 0.4 else [],
            "payment_reference": [_structured_reference(rng)] if r() < 0.5 else [],
            "reverse_charge": [reverse],
        }


_TERMS = (14, 30, 30, 45, 60)
_RATE_SETS: tuple[tuple[float, ...], ...] = (
    (21.0,),
    (21.0,),
    (21.0,),
    (6.0,),
    (12.0,),
    (6.0, 21.0),
    (6.0, 21.0),
    (12.0, 21.0),
    (6.0, 12.0, 21.0),
)


def _structured_reference(rng: random.Random) -> str:
    digits = rng.randrange(10**9, 10**10)
    check = digits % 97 or 97
    text = f"{digits:010d}{check:02d}"
    return f"+++{text[:3]}/{text[3:7]}/{text[7:]}+++"


def corrupt(field: str, value: Value, rng: random.Random) -> Value:
    """A plausible wrong reading of `value`, guaranteed different from it."""
    kind = FIELD_TYPES.get(field, "string")
    for _ in range(8):
        wrong = _corrupt_once(kind, field, value, rng)
        if wrong != value and not is_empty(wrong):
            return wrong
    if isinstance(value, bool):
        return not value
    if isinstance(value, float):
        return round(value + 1.0, 2)
    return f"{value}?"


def _corrupt_once(kind: str, field: str, value: Value, rng: random.Random) -> Value:
    if kind == "boolean":
        return not value
    if field == "vat_rate":
        return rng.choice((0.0, 6.0, 9.0, 12.0, 19.0, 20.0, 21.0))
    if kind == "float":
        choice = rng.randrange(3)
        if choice == 0:
            return round(value * 10, 2)
        if choice == 1:
            return round(value / 10, 2)
        return round(value + rng.choice((-1, 1)) * rng.randint(1, 900) / 100, 2)
    if kind == "date":
        year, month, day = value.split("-")
        if rng.random() < 0.5 and int(day) <= 12 and day != month:
            return f"{year}-{day}-{month}"
        shifted = date(int(year), int(month), int(day)) + timedelta(days=rng.randint(-30, 30))
        return shifted.isoformat()
    text = str(value)
    if not text:
        return "?"
    positions = [i for i, ch in enumerate(text) if ch in OCR_CONFUSIONS]
    if positions and rng.random() < 0.7:
        i = rng.choice(positions)
        return text[:i] + OCR_CONFUSIONS[text[i]] + text[i + 1 :]
    if len(text) > 3 and rng.random() < 0.5:
        i = rng.randrange(len(text) - 1)
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:-1] if len(text) > 1 else text + "0"


def hallucinate(field: str, rng: random.Random, truth: Truth) -> Value:
    """A value read where the document has none (e.g. an order number that is not one)."""
    if field == "PO_number":
        return f"PO-{rng.randrange(10000, 99999)}"
    if field == "payment_reference":
        return _structured_reference(rng)
    if field == "due_date":
        return truth.fields["invoice_date"][0]
    if field == "customer_vat":
        return CUSTOMERS[rng.randrange(len(CUSTOMERS))][1]
    if field == "supplier_vat":
        return SUPPLIERS[rng.randrange(len(SUPPLIERS))][1]
    return "N/A"
