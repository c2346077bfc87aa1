"""Reading what Airbyte passes in: the configured catalog and the input state.

Both are the user's (or the platform's) input, so every problem is a `ConfigError` naming
what is wrong; the stream selection itself is `streams.catalog.select_streams`, shared
with the exporter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from source_contractfit.api.errors import ConfigError
from source_contractfit.streams.base import StreamDef
from source_contractfit.streams.catalog import (
    STREAMS_BY_NAME,
    UnknownStreams,
    select_streams,
)

logger = logging.getLogger("airbyte")


def configured_streams(
    configured: Iterable[tuple[str, str]],
) -> tuple[list[StreamDef], set[str]]:
    """(stream name, sync mode) pairs of a catalog -> our streams in order, the incremental
    (`catalog.select_streams`, its errors in the words of a configured catalog). A stream
    without a cursor asked for incrementally is read whole, and the log says so once."""
    pairs = list(configured)
    try:
        selected, incremental = select_streams(
            (name, mode == "incremental") for name, mode in pairs
        )
    except UnknownStreams as error:
        known = ", ".join(sorted(STREAMS_BY_NAME))
        raise ConfigError(
            f"The configured catalog names the stream {error.names[0]!r}, which this source "
            f"does not have. Known streams: {known}. Run discover again and refresh the catalog."
        ) from None
    whole = sorted({name for name, mode in pairs if mode == "incremental"} - incremental)
    if whole:
        logger.info(
            "The catalog asks for %s in incremental mode; %s no cursor, so %s read whole "
            "(full refresh), as the Airbyte CDK does.",
            ", ".join(whole),
            "it has" if len(whole) == 1 else "they have",
            "it is" if len(whole) == 1 else "they are",
        )
    return selected, incremental


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
