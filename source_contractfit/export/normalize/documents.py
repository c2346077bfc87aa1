"""One Document -> rows of documents, document_versions, fields, line_items and sections.

Pure and all-or-nothing: `normalize_document` either returns every row of the document
or raises one `NormalizationError` naming the first problem, so a caller never stores
half a document. Where keys go (columns, child tables, `extra`, ignored) is in known.py.
Versions are keyed by position (`version_index`); `prediction.sections` use index -1.

`fields` has one row per annotation atom (`occurrence` = its index in the field's list),
and one row with `occurrence = -1` (`EMPTY_LIST_OCCURRENCE`) for a field whose list is
empty (`[]`: present, nothing found), so "present but empty" stays one observation: every
value column of that row is null, and `correct` is true in a version with `is_evaluated:
true` (API.md: both empty is a true negative; a server may write `[]` there instead of a
placeholder atom), null otherwise. A field whose value is `null` has no row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from source_contractfit.export.normalize.atoms import NULL_VALUES, atom_values
from source_contractfit.export.normalize.drift import Extra, collect_unknown, extra_json
from source_contractfit.export.normalize.known import (
    DOCUMENT_KEYS,
    DOCUMENT_NESTED,
    EVALUATION_KEYS,
    PREDICTION_KEYS,
    SECTION_KEYS,
    VERSION_KEYS,
    Nested,
)
from source_contractfit.export.normalize.schemas import DOCUMENT_TABLE_COLUMNS
from source_contractfit.export.normalize.values import (
    NormalizationError,
    boolean,
    clean,
    integer,
    key_label,
    key_text,
    kind,
    mapping,
    number,
    sequence,
    text,
    timestamp,
)

Row = dict[str, Any]
PREDICTION_VERSION = -1
# `fields.occurrence` of the one row standing for an empty list (never an atom's index).
EMPTY_LIST_OCCURRENCE = -1


@dataclass
class Normalized:
    """Rows per table of one input, and the drift it showed."""

    rows: dict[str, list[Row]]
    drift: Counter[str] = field(default_factory=Counter)


def document_rows(
    document: Any, inbox_projects: Mapping[str, str] | None = None
) -> dict[str, list[Row]]:
    """Table name -> rows of one Document; raises NormalizationError."""
    return normalize_document(document, inbox_projects).rows


def field_rows(document: Any) -> list[Row]:
    """Rows of the `fields` table: one per atom of every version, one (occurrence -1) per `[]`."""
    return _only(document, "fields")


def line_item_rows(document: Any) -> list[Row]:
    """Rows of the `line_items` table (one per cell of every version's tables)."""
    return _only(document, "line_items")


def _only(document: Any, table: str) -> list[Row]:
    # The whole document is checked, so these streams reject exactly what the tables do.
    return normalize_document(document).rows[table]


def normalize_document(
    document: Any, inbox_projects: Mapping[str, str] | None = None
) -> Normalized:
    """Every row of one Document plus its drift; raises NormalizationError."""
    doc_id, inbox = identity(document)
    out = Normalized({name: [] for name in DOCUMENT_TABLE_COLUMNS})
    versions = _versions(doc_id, inbox, document, out.rows, out.drift)
    prediction, predicted = prediction_sections(doc_id, inbox, document, out.drift)
    out.rows["sections"] += predicted
    row = document_row(doc_id, inbox, document, prediction, predicted, versions, out.drift,
                       inbox_projects)  # fmt: skip
    out.rows["documents"].append(row)
    return out


def prediction_sections(
    doc_id: str, inbox: str | None, document: dict[str, Any], drift: Counter[str]
) -> tuple[dict[str, Any], list[Row]]:
    """The document's `prediction` object and its sections rows (version_index -1)."""
    prediction = mapping(document.get("prediction"), "prediction") or {}
    try:
        sections = sequence(prediction.get("sections"), "sections")
        return prediction, _sections(doc_id, inbox, PREDICTION_VERSION, sections, drift)
    except NormalizationError as error:
        raise error.within("prediction") from None


def document_row(
    doc_id: str, inbox: str | None, document: dict[str, Any], prediction: dict[str, Any],
    predicted: list[Row], versions: list[Row], drift: Counter[str],
    inbox_projects: Mapping[str, str] | None,
) -> Row:  # fmt: skip
    """The `documents` row, once the versions and the predicted sections are known."""
    project = inbox_projects.get(inbox) if inbox_projects and inbox is not None else None
    first = predicted[0] if predicted else {}
    row = _document_row(doc_id, document, prediction, drift)
    row.update(
        inbox_id=inbox,
        project_id=clean(project) if isinstance(project, str) else None,
        document_type=first.get("document_type"),
        format_id=first.get("format_id"),
        versions_count=len(versions),
        evaluated=any(v["is_evaluated"] is True for v in versions),
        document_correct=next(
            (
                v["document_correct"]
                for v in reversed(versions)
                if v["is_evaluated"] is True and v["name"] == "predicted"
            ),
            None,
        ),
    )
    return row


def identity(document: Any) -> tuple[str, str | None]:
    if not isinstance(document, dict):
        raise NormalizationError(f"a document must be an object, got {kind(document)}")
    doc_id = document.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise NormalizationError(f"expected a non-empty string, got {kind(doc_id)}", ("id",))
    return text(doc_id, "id") or doc_id, text(document.get("inbox"), "inbox")


def _document_row(
    doc_id: str, document: dict[str, Any], prediction: dict[str, Any], drift: Counter[str]
) -> Row:
    extra: Extra = {}
    collect_unknown(document, DOCUMENT_KEYS, extra, drift, "documents")
    collect_unknown(prediction, PREDICTION_KEYS, extra, drift, "documents", "prediction.")
    parts = {
        key: _nested(document, key, spec, extra, drift) for key, spec in DOCUMENT_NESTED.items()
    }

    def read(part: str, key: str, convert: Callable[[Any, str], Any]) -> Any:
        return convert(parts[part].get(key), f"{part}.{key}")

    flag = boolean(document.get("flag_for_review"), "flag_for_review")
    receive = read("timings", "receive_time", timestamp)
    feedback = read("timings", "feedback_time", timestamp)
    return {
        "id": doc_id,
        "inbox_id": None,
        "project_id": None,
        "original_filename": text(document.get("original_filename"), "original_filename"),
        "page_count": integer(document.get("page_count"), "page_count"),
        "document_type": None,
        "format_id": None,
        "flag_for_review": flag,
        "is_stp": None if flag is None else not flag,
        "sampling": read("status_data", "sampling", boolean),
        "submitted": read("submitted", "value", boolean),
        "submitted_by": read("submitted", "by", text),
        "rejected": read("reject", "value", boolean),
        "escalated": read("escalate", "value", boolean),
        "locked": read("lock", "value", boolean),
        "archived": read("status_data", "archived", boolean),
        "last_version": text(document.get("last_version"), "last_version"),
        "versions_count": 0,
        "evaluated": False,
        "document_correct": None,
        "receive_time": receive,
        "start_time": read("timings", "start_time", timestamp),
        "done_time": read("timings", "done_time", timestamp),
        "processing_period": read("timings", "processing_period", number),
        "feedback_time": feedback,
        "submit_time": read("timings", "submit_time", timestamp),
        "review_latency_seconds": (
            (feedback - receive).total_seconds() if receive and feedback else None
        ),
        "pages": read("usage_data", "pages", integer),
        "source": read("meta_information", "source", text),
        "extra": extra_json(extra),
    }


def _nested(
    document: dict[str, Any], key: str, spec: Nested, extra: Extra, drift: Counter[str]
) -> dict[str, Any]:
    """The sub-object (empty when null); its non-column keys go to extra per known.py."""
    obj = mapping(document.get(key), key)
    if not obj:
        return {}
    for name, value in obj.items():
        if name in spec.columns or name in spec.ignored:
            continue
        if name in spec.extra or spec.open_keys:
            if value is not None:
                extra[f"{key}.{key_text(name)}"] = value
            continue
        label = f"{key}.{key_text(name)}"
        extra[label] = value
        drift[f"documents.{label}"] += 1
    return obj


def _versions(
    doc_id: str, inbox: str | None, document: dict[str, Any], rows: dict[str, list[Row]],
    drift: Counter[str],
) -> list[Row]:  # fmt: skip
    """Version rows (returned) and their fields, line_items and sections (added to rows)."""
    out: list[Row] = []
    for index, version in enumerate(sequence(document.get("versions"), "versions")):
        try:
            out.append(_version(doc_id, inbox, index, version, rows, drift))
        except NormalizationError as error:
            raise error.within(f"versions[{index}]") from None
    rows["document_versions"] += out
    return out


def _version(
    doc_id: str, inbox: str | None, index: int, version: Any, rows: dict[str, list[Row]],
    drift: Counter[str],
) -> Row:  # fmt: skip
    row, base = version_row(doc_id, inbox, index, version, drift)
    if base is None:
        return row
    rows["fields"] += _fields(base, version, drift)
    rows["line_items"] += _line_items(base, version, drift)
    rows["sections"] += version_sections(doc_id, inbox, index, version, drift)
    return row


def version_row(
    doc_id: str, inbox: str | None, index: int, version: Any, drift: Counter[str]
) -> tuple[Row, Row | None]:
    """The `document_versions` row, and the columns its fields and line items start with
    (None for a null version, which keeps its position and has no children)."""
    row: Row = {"document_id": doc_id, "version_index": index, "inbox_id": inbox}
    if version is None:  # keeps its position; nothing to read
        return {**row, **dict.fromkeys(_VERSION_VALUE_COLUMNS)}, None
    if not isinstance(version, dict):
        raise NormalizationError(f"expected an object or null, got {kind(version)}")
    evaluation = mapping(version.get("evaluation"), "evaluation") or {}
    extra: Extra = {}
    collect_unknown(version, VERSION_KEYS, extra, drift, "document_versions")
    collect_unknown(evaluation, EVALUATION_KEYS, extra, drift, "document_versions", "evaluation.")
    name = text(version.get("name"), "name")
    is_evaluated = boolean(version.get("is_evaluated"), "is_evaluated")
    row.update(
        name=name,
        source=text(version.get("source"), "source"),
        is_evaluated=is_evaluated,
        cmp_version=text(version.get("cmp_version"), "cmp_version"),
        timestamp=timestamp(version.get("timestamp"), "timestamp"),
        by=text(version.get("by"), "by"),
        fields_total=integer(evaluation.get("fields_total"), "evaluation.fields_total"),
        fields_correct=integer(evaluation.get("fields_correct"), "evaluation.fields_correct"),
        document_correct=boolean(evaluation.get("document_correct"), "evaluation.document_correct"),
        extra=extra_json(extra),
    )
    base: Row = {
        "document_id": doc_id,
        "version_index": index,
        "inbox_id": inbox,
        "version_name": name,
        "is_evaluated": is_evaluated,
    }
    return row, base


_VERSION_VALUE_COLUMNS = tuple(name for name, _ in DOCUMENT_TABLE_COLUMNS["document_versions"][3:])


def _fields(base: Row, version: dict[str, Any], drift: Counter[str]) -> list[Row]:
    out: list[Row] = []
    annotations = mapping(version.get("annotations"), "annotations") or {}
    for field_name, atoms in annotations.items():
        path = ("annotations", key_label(field_name))
        try:
            items = sequence(atoms, "")
        except NormalizationError as error:
            raise NormalizationError(error.problem, path) from None
        name = key_text(field_name)
        if not items and atoms is not None:  # `[]`: one observation, both sides empty
            out.append(_empty_list_row(base, name))
            continue
        for occurrence, atom in enumerate(items):
            try:
                values = atom_values(atom, "fields", drift)
            except NormalizationError as error:
                raise error.within(*path, f"[{occurrence}]") from None
            out.append({**base, "field_name": name, "occurrence": occurrence, **values})
    return out


def _empty_list_row(base: Row, name: str) -> Row:
    """The row of a field whose list is `[]`: no value, correct when judged (a tn)."""
    correct = True if base["is_evaluated"] is True else None
    return {
        **base,
        "field_name": name,
        "occurrence": EMPTY_LIST_OCCURRENCE,
        **NULL_VALUES,
        "correct": correct,
    }


def _line_items(base: Row, version: dict[str, Any], drift: Counter[str]) -> list[Row]:
    out: list[Row] = []
    lines = mapping(version.get("lines"), "lines") or {}
    for table_name, table_rows in lines.items():
        path = ("lines", key_label(table_name))
        try:
            items = sequence(table_rows, "")
        except NormalizationError as error:
            raise NormalizationError(error.problem, path) from None
        table = key_text(table_name)
        for row_index, cells in enumerate(items):
            if cells is None:
                continue
            if not isinstance(cells, dict):
                problem = f"expected a row object or null, got {kind(cells)}"
                raise NormalizationError(problem, (*path, f"[{row_index}]"))
            for column_name, cell in cells.items():
                try:
                    values = atom_values(cell, "line_items", drift)
                except NormalizationError as error:
                    raise error.within(*path, f"[{row_index}]", key_label(column_name)) from None
                out.append(
                    {
                        **base,
                        "table_name": table,
                        "row_index": row_index,
                        "column_name": key_text(column_name),
                        **values,
                    }
                )
    return out


def version_sections(
    doc_id: str, inbox: str | None, index: int, version: dict[str, Any], drift: Counter[str]
) -> list[Row]:
    """The sections rows of one (non-null) version."""
    return _sections(doc_id, inbox, index, sequence(version.get("sections"), "sections"), drift)


def _sections(
    doc_id: str, inbox: str | None, version_index: int, sections: list[Any], drift: Counter[str]
) -> list[Row]:
    out: list[Row] = []
    for index, section in enumerate(sections):
        row: Row = {
            "document_id": doc_id,
            "version_index": version_index,
            "inbox_id": inbox,
            "section_index": index,
        }
        if section is None:  # keeps its position
            row.update(dict.fromkeys(("page", "document_type", "format_id", "confidence", "extra")))
            out.append(row)
            continue
        try:
            if not isinstance(section, dict):
                raise NormalizationError(f"expected an object or null, got {kind(section)}")
            extra: Extra = {}
            collect_unknown(section, SECTION_KEYS, extra, drift, "sections")
            row.update(
                page=integer(section.get("page"), "page"),
                document_type=text(section.get("document_type"), "document_type"),
                format_id=text(section.get("format"), "format"),
                confidence=number(section.get("confidence"), "confidence"),
                extra=extra_json(extra),
            )
        except NormalizationError as error:
            raise error.within("sections", f"[{index}]") from None
        out.append(row)
    return out
