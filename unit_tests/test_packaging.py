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


# Airbyte's CheckConnectorUsesHTTPSOnly, as its rule reads: no line of a committed file
# outside the test folders holds "http://", but a comment, a loopback or JSON-schema URL,
# or a line marked `ignore-https-check` (our only plain-HTTP URLs are the emulator's).
_HTTPS_SKIPPED_DIRS = {".venv", "tests", "unit_tests", "integration_tests", "build"}
_HTTPS_SKIPPED_SUFFIXES = {".svg", ".pyc", ".gz", ".jar"}
_HTTPS_ALLOWED = ("http://localhost", "http://json-schema.org", "ignore-https-check")
_COMMENT = {".py": "#", ".yml": "#", ".yaml": "#", ".md": "<!--"}


def _plain_http_lines(files: list[Path], root: Path = ROOT) -> list[str]:
    found = []
    for path in files:
        if _HTTPS_SKIPPED_DIRS & set(path.parts[:-1]) or path.suffix in _HTTPS_SKIPPED_SUFFIXES:
            continue
        comment = _COMMENT.get(path.suffix)
        for number, line in enumerate((root / path).read_text(errors="replace").splitlines(), 1):
            if "http://" not in line or (comment and line.strip().startswith(comment)):
                continue
            if any(allowed in line for allowed in _HTTPS_ALLOWED):
                continue
            found.append(f"{path}:{number}: {line.strip()[:120]}")
    return found


def test_no_plain_http_url_outside_loopback() -> None:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(listed) > 100
    assert _plain_http_lines([Path(name) for name in listed]) == []


def test_the_https_rule_finds_a_plain_url(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(
        "see http://example.com/api\n<!-- http://example.com -->\nhttp://localhost:8000\n"
    )
    assert _plain_http_lines([Path("docs/page.md")], tmp_path) == [
        "docs/page.md:1: see http://example.com/api"
    ]
    (tmp_path / "unit_tests").mkdir()
    (tmp_path / "unit_tests" / "x.md").write_text("http://example.com\n")
    assert _plain_http_lines([Path("unit_tests/x.md")], tmp_path) == []  # tests are skipped


def _metadata_schema() -> dict[str, object]:
    """Airbyte's published JSON schema of metadata.yaml; nested `$id`s dropped so that
    jsonschema resolves the one document offline."""
    from importlib.resources import files

    text = files("airbyte_connector_models.metadata.v0") / "ConnectorMetadataDefinitionV0.json"
    schema = json.loads(text.read_text())

    def strip(node: object, top: bool) -> object:
        if isinstance(node, dict):
            return {
                k: strip(v, False) for k, v in node.items() if top or k not in ("$id", "$schema")
            }
        if isinstance(node, list):
            return [strip(v, False) for v in node]
        return node

    stripped = strip(schema, True)
    assert isinstance(stripped, dict)
    stripped.pop("$id", None)
    return stripped


def test_metadata_is_valid_for_airbytes_own_models() -> None:
    """ValidateMetadata's schema step: Airbyte's JSON schema and its pydantic model."""
    import jsonschema
    from airbyte_connector_models.metadata.v0.connector_metadata_definition_v0 import (
        ConnectorMetadataDefinitionV0,
    )

    metadata = yaml.safe_load((ROOT / "metadata.yaml").read_text())
    validator = jsonschema.Draft7Validator(_metadata_schema())
    assert [error.message for error in validator.iter_errors(metadata)] == []
    model = ConnectorMetadataDefinitionV0.model_validate(metadata)
    data = model.data
    assert data.releases is not None and data.releases.breaking_changes is None
    assert data.releases.rollout_configuration is not None
    assert data.docker_image_tag == _pyproject_version()
    # The same schema refuses what Airbyte refuses: it is really checking.
    broken = {**metadata, "data": {**metadata["data"], "suggestedStreams": ["documents"]}}
    assert list(validator.iter_errors(broken)) != []


def _pyproject_version() -> str:
    import tomllib

    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])
