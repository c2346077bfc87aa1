"""The console `read` (protocol.py, no CDK) and the CDK-driven read emit the same messages.

The CDK path is what its standard tests and embedded users run; the console script is
what Airbyte runs. Same emulator, same config, catalog and state: the message sequences
must be equal once the timestamps are set aside.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessageSerializer

from contractfit_emulator import Emulator
from source_contractfit.airbyte.protocol import read_command
from source_contractfit.airbyte.source import SourceContractfit

from .conftest import api_key_config
from .helpers import catalog, state_input


def without_times(message: dict[str, Any]) -> dict[str, Any]:
    message = json.loads(json.dumps(message))
    message.get("trace", {}).pop("emitted_at", None)
    record = message.get("record")
    if record is not None:
        record.pop("emitted_at")
        # The CDK's serializer (omit_none) drops the top-level null keys of record data,
        # e.g. a document's `"feedback": null`; the console read keeps them, as API.md
        # says every key is present. Nested nulls survive both.
        record["data"] = {k: v for k, v in record["data"].items() if v is not None}
    state = message.get("state")
    if state is not None:  # "reviews checked until now": the two reads ran at other times
        for partition in state["stream"]["stream_state"].get("partitions", {}).values():
            partition.pop("reviews_checked_until", None)
    return message


def fast_read(tmp: Path, args: list[str]) -> list[dict[str, Any]]:
    out = io.BytesIO()
    assert read_command(args, out=out) == 0
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def cdk_read(args: list[str]) -> list[dict[str, Any]]:
    source = SourceContractfit()
    entrypoint = AirbyteEntrypoint(source)
    parsed = entrypoint.parse_args(["read", *args])
    return [orjson.loads(line) for line in entrypoint.run(parsed)]


def comparable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The CDK adds a log line about its memory monitor; logs carry timings. Compare the rest.
    return [without_times(m) for m in messages if m["type"] != "LOG"]


def test_console_read_and_cdk_read_emit_the_same_messages(
    mutable_emulator: Emulator, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    # One request at a time: inboxes read concurrently interleave in no fixed order.
    config.write_text(
        json.dumps(
            api_key_config(mutable_emulator.base_url, checkpoint_interval=50, max_concurrency=1)
        )
    )
    configured = tmp_path / "catalog.json"
    configured.write_text(
        json.dumps(catalog("documents", "document_versions", "inboxes", incremental=True))
    )
    args = ["--config", str(config), "--catalog", str(configured)]
    fast = fast_read(tmp_path, args)
    cdk = cdk_read(args)
    assert len([m for m in fast if m["type"] == "RECORD"]) > 600
    assert [m for m in fast if m["type"] == "STATE"][0]["state"]["sourceStats"]["recordCount"] > 0
    assert comparable(fast) == comparable(cdk)

    mutable_emulator.control.arrive(count=3)
    state = tmp_path / "state.json"
    states = [m["state"] for m in fast if m["type"] == "STATE"]
    state.write_text(json.dumps(state_input(states)))
    args += ["--state", str(state)]
    fast, cdk = fast_read(tmp_path, args), cdk_read(args)
    assert (
        len([m for m in fast if m["type"] == "RECORD" and m["record"]["stream"] == "documents"])
        == 3
    )
    assert comparable(fast) == comparable(cdk)
    assert AirbyteMessageSerializer.load(fast[-1])  # the CDK's own model accepts our lines
