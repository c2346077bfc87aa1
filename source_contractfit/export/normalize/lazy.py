"""Pages whose annotations and lines stay unparsed Python-side: the exporter's decoder.

Decoding a page of documents into Python objects is most of the export's work under the
GIL, and 95% of it is the `annotations` and `lines` objects of every version, which only
the native normalizer reads. `loads` parses the page in C without the GIL (the walk's
threads then decode pages in parallel) and builds the Python objects jsonbody.loads
would, except that each such object of a version or of `prediction` is a `Subtree` of
the parsed page. The parsing thread also writes the rows of every version's Subtrees
into tables of the page, still without the GIL (`prewritten`); `AtomTable.add` copies
them from there, or reads the tape itself for a Subtree that needed Python.

It gives the same value as jsonbody.loads or leaves the body to it: a body the C parser
does not take whole (invalid JSON, an integer of 19 digits or more, a lone surrogate, a
float that overflows...; `_tape.h`) is decoded by jsonbody.loads, which then decides
exactly as for any other read. Whatever needs the Python value of a Subtree (the Python
specification, a reject's raw JSON) calls `materialize` first; so does the Normalizer
for every document that leaves the native path.
"""

from __future__ import annotations

from typing import Any

from source_contractfit.api import jsonbody
from source_contractfit.api.client import Decoder

try:
    from source_contractfit.export.normalize._native import Subtree, parse_page
except ImportError:  # built without a C compiler: pages are decoded whole
    Subtree = None
    parse_page = None

AVAILABLE = parse_page is not None
LAZY_KEYS = ("annotations", "lines")


def decoder() -> Decoder | None:
    """The exporter's page decoder: `loads` where the extension is built, else None
    (jsonbody.loads: the Python fast path reads Python objects)."""
    return loads if AVAILABLE else None


def loads(body: bytes | bytearray) -> Any:
    """The JSON value of a page (jsonbody.loads's), its big objects left as Subtrees."""
    if parse_page is not None and type(body) in (bytes, bytearray):
        # A copy of a bytearray: the parse reads it without the GIL, and the Subtrees
        # after it, so it must not change meanwhile (bytes cannot).
        value = parse_page(bytes(body) if type(body) is bytearray else body)
        if value is not None:
            return value
    return jsonbody.loads(body)


def materialize(document: Any) -> Any:
    """`document` with every Subtree replaced by its Python value (the same object when it
    holds none). The input is not changed: its versions and prediction are copied."""
    if Subtree is None or not isinstance(document, dict):
        return document
    versions, prediction = document.get("versions"), document.get("prediction")
    built_versions = _built_list(versions) if isinstance(versions, list) else versions
    built_prediction = _built(prediction)
    if built_versions is versions and built_prediction is prediction:
        return document
    out = dict(document)
    if "versions" in out:
        out["versions"] = built_versions
    if "prediction" in out:
        out["prediction"] = built_prediction
    return out


def _built_list(items: list[Any]) -> list[Any]:
    built = [_built(item) for item in items]
    return items if all(b is a for a, b in zip(built, items, strict=True)) else built


def _built(holder: Any) -> Any:
    if not isinstance(holder, dict) or not any(
        type(holder.get(key)) is Subtree for key in LAZY_KEYS
    ):
        return holder
    out = dict(holder)
    for key in LAZY_KEYS:
        value: Any = out.get(key)
        if type(value) is Subtree:
            out[key] = jsonbody.loads(value.raw())
    return out
