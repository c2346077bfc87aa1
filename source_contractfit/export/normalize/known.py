"""Which keys of a Document the tables know, and where each one goes.

Every key the API may send lands in exactly one of four places, so nothing is silently
dropped by accident:

1. a column (e.g. `timings.receive_time` -> `documents.receive_time`);
2. a child table (`versions` -> document_versions/fields/line_items/sections,
   `prediction.sections` -> sections with version_index -1);
3. the row's `extra` JSON object, for KNOWN keys without a column (below, `*_EXTRA`).
   Their null values are left out, so `extra` stays small; no drift is counted;
4. IGNORED, known keys deliberately not stored (below, with the reason).

Any key not listed here is UNKNOWN: it is kept in the row's `extra` (null values too,
presence is information) and counted as drift under "<table>.<key path>", e.g.
`documents.new_top_key`, `documents.status_data.ready_attempts_v2`, `fields.ocr_engine`.
Keys nested in a Document sub-object go to the document's extra as "<object>.<key>".
`meta_information` is free-form (its JSON schema declares no properties): `source` is a
column, every other key goes to extra and none of them counts as drift.
"""

from __future__ import annotations

# Top level of a Document: columns, child tables, sub-objects handled below, ignored keys.
DOCUMENT_COLUMN_KEYS = frozenset(
    {"id", "inbox", "original_filename", "page_count", "flag_for_review", "last_version"}
)
DOCUMENT_IGNORED = frozenset(
    {
        "files",  # upload bookkeeping (file names, hashes); original_filename is the column
        "opened_by",  # who has the review screen open right now: UI state, not history
        "feedback",  # evaluation settings ({name, cmp_version, evaluate}); the versions show them
    }
)
DOCUMENT_CHILDREN = frozenset({"versions", "prediction"})


class Nested:
    """How the keys of one Document sub-object are spread over columns, extra and ignored."""

    def __init__(
        self,
        columns: frozenset[str],
        extra: frozenset[str] = frozenset(),
        ignored: frozenset[str] = frozenset(),
        open_keys: bool = False,
    ) -> None:
        self.columns = columns
        self.extra = extra
        self.ignored = ignored
        self.open_keys = open_keys  # free-form object: unknown keys are not drift


_STATE = Nested(frozenset({"value"}), extra=frozenset({"by", "since"}))
DOCUMENT_NESTED: dict[str, Nested] = {
    "timings": Nested(
        frozenset(
            {"receive_time", "start_time", "done_time", "processing_period"}
            | {"feedback_time", "submit_time"}
        )
    ),
    "status_data": Nested(
        frozenset({"sampling", "archived"}),
        # Pipeline flags and retry counters: the lock/escalate/reject/submitted objects and
        # the timings carry the facts analytics need; these only describe internal steps.
        ignored=frozenset(
            {"data", "success", "escalate", "lock", "reject", "feedback"}
            | {"ready_accepted", "ready_attempts", "submit_accepted", "submit_attempts"}
            | {"reject_accepted", "reject_attempts"}
        ),
    ),
    "usage_data": Nested(frozenset({"pages"}), extra=frozenset({"ocr_pages", "predictions"})),
    "submitted": Nested(frozenset({"value", "by"}), extra=frozenset({"since"})),
    "lock": _STATE,
    "escalate": _STATE,
    "reject": _STATE,
    "meta_information": Nested(frozenset({"source"}), open_keys=True),
}
DOCUMENT_KEYS = DOCUMENT_COLUMN_KEYS | DOCUMENT_IGNORED | DOCUMENT_CHILDREN | set(DOCUMENT_NESTED)

# prediction: sections -> sections table; annotations and lines are IGNORED because they
# repeat the latest machine version, which the fields/line_items tables hold.
PREDICTION_KEYS = frozenset({"sections", "annotations", "lines"})

VERSION_KEYS = frozenset(
    {"name", "source", "is_evaluated", "cmp_version", "timestamp", "by"}
    | {"annotations", "lines", "sections", "evaluation"}
)
EVALUATION_KEYS = frozenset({"fields_total", "fields_correct", "document_correct"})
SECTION_KEYS = frozenset({"page", "document_type", "format", "confidence"})
# Atoms and cells. `textual_coord` ([page, line, char, page, line, char], human versions)
# fills the coordinate columns when upper_left/lower_right are absent, else goes to extra.
ATOM_KEYS = frozenset(
    {"value", "text", "confidence", "upper_left", "lower_right", "textual_coord"}
    | {"flagged", "gold", "correct"}
)
