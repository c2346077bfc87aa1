"""Airbyte's packaging conventions: main.py, icon.svg, metadata fields (issue 18, part)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import yaml

from source_contractfit.streams.catalog import STREAMS

ROOT = Path(__file__).resolve().parents[1]


def test_main_py_runs_the_source() -> None:
    done = subprocess.run(
        [sys.executable, "main.py", "spec"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    first = json.loads(done.stdout.splitlines()[0])
    assert first["type"] == "SPEC"


def test_the_icon_is_an_svg_the_metadata_names() -> None:
    root = ElementTree.parse(ROOT / "icon.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    data = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
    assert data["icon"] == "icon.svg"


def test_recommended_metadata_fields() -> None:
    data = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
    assert isinstance(data["maxSecondsBetweenMessages"], int)
    assert data["maxSecondsBetweenMessages"] > 0
    names = {stream.name for stream in STREAMS}
    assert set(data["suggestedStreams"]["streams"]) <= names


def test_the_connector_docs_page_exists_with_airbytes_sections() -> None:
    data = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
    name = data["documentationUrl"].rstrip("/").rsplit("/", 1)[-1]
    page = (ROOT / "docs" / "integrations" / "sources" / f"{name}.md").read_text()
    for section in (
        "## Prerequisites",
        "## Setup guide",
        "## Supported sync modes",
        "## Rate limits and retries",
        "## Changelog",
    ):
        assert section in page, section
    streams = {stream.name for stream in STREAMS}
    assert all(f"`{stream}`" in page for stream in streams)
    assert data["dockerImageTag"] in page.split("## Changelog", 1)[1]
