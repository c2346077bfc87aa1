"""The project's own docs hold what a user needs: nothing points outside a clone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_doc_points_outside_the_clone() -> None:
    documents = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *ROOT.glob("docs/**/*.md")]
    for document in documents:
        text = document.read_text(encoding="utf-8")
        assert "../shared" not in text and "API.md" not in text, document
        for target in re.findall(r"\]\(([^)#:]+)\)", text):  # relative Markdown links
            assert (document.parent / target).exists(), (document, target)


def test_the_contract_page_defines_accuracy_and_stp() -> None:
    text = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    for term in ("**Accuracy**", "straight-through (STP)", "STP rate", "precision", "recall"):
        assert term in text, term
    assert "docs/contract.md" in (ROOT / "README.md").read_text(encoding="utf-8")
