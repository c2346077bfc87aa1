"""Version records: one per entry of a Document's `versions` list.

Names repeat (a reprocessed document may hold `predicted` twice), so a version is keyed by
its position in the list, `(document_id, version_index)`, as API.md says.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

VERSION_KEYS = ("name", "source", "is_evaluated", "cmp_version", "timestamp", "by", "evaluation")


def version_records(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    versions = document.get("versions") or []
    for index, version in enumerate(versions):
        if not isinstance(version, dict):
            continue
        record: dict[str, Any] = {
            "document_id": document["id"],
            "inbox_id": document.get("inbox"),
            "version_index": index,
        }
        for key in VERSION_KEYS:
            record[key] = version.get(key)
        yield record
