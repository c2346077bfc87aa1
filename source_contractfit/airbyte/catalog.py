"""Reading what Airbyte passes in: the configured catalog and the input state.

Both are the user's (or the platform's) input, so every problem is a `ConfigError` naming
what is wrong; the stream selection itself is `streams.catalog.select_streams`, shared
with the exporter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from source_contractfit.api.errors import ConfigError
from source_contractfit.streams.base import StreamDef
from source_contractfit.streams.catalog import (
    STREAMS_BY_NAME,
    NotIncremental,
    UnknownStreams,
    select_streams,
)


def configured_streams(
    configured: Iterable[tuple[str, str]],
) -> tuple[list[StreamDef], set[str]]:
    """(stream name, sync mode) pairs of a catalog -> our streams in order, the incremental
    (`catalog.select_streams`, its errors in the words of a configured catalog)."""
    try:
        return select_streams((name, mode == "incremental") for name, mode in configured)
    except UnknownStreams as error:
        known = ", ".join(sorted(STREAMS_BY_NAME))
        raise ConfigError(
            f"The configured catalog names the stream {error.names[0]!r}, which this source "
            f"does not have. Known streams: {known}. Run discover again and refresh the catalog."
        ) from None
    except NotIncremental as error:
        raise ConfigError(
            f"The configured catalog asks for stream {error.stream!r} in incremental mode, "
            "which it does not support; use full_refresh."
        ) from None


def state_blobs(messages: Any) -> dict[str, Any]:
    """Per-stream state blobs of an input state (a JSON list of STREAM state messages)."""
    if not isinstance(messages, list):
        raise ConfigError(
            f"The state file could not be read: expected a JSON list of per-stream state "
            f"messages as this connector emits them, got {type(messages).__name__}."
        )
    blobs: dict[str, Any] = {}
    for message in messages:
        kind = message.get("type") if isinstance(message, dict) else None
        stream = message.get("stream") if isinstance(message, dict) else None
        if kind != "STREAM" or not isinstance(stream, dict):
            raise ConfigError(
                f"The input state has a {kind or type(message).__name__} state message; this "
                "connector reads per-stream (STREAM) state only."
            )
        descriptor = stream.get("stream_descriptor")
        name = descriptor.get("name") if isinstance(descriptor, dict) else None
        if not isinstance(name, str):
            raise ConfigError("The input state has a STREAM message without a stream name.")
        blob = stream.get("stream_state")
        blobs[name] = dict(blob) if isinstance(blob, dict) else blob
    return blobs


def catalog_pairs(catalog: Any) -> list[tuple[str, str]]:
    streams = catalog.get("streams") if isinstance(catalog, dict) else None
    if not isinstance(streams, list):
        raise ConfigError("The configured catalog has no 'streams' list.")
    pairs = []
    for configured in streams:
        try:
            pairs.append((str(configured["stream"]["name"]), str(configured["sync_mode"])))
        except (KeyError, TypeError):
            raise ConfigError(
                "The configured catalog has a stream without 'stream.name' or 'sync_mode'."
            ) from None
    return pairs
