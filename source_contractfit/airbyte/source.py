"""The Airbyte front end: spec, check, discover and read over the shared engine.

We implement `Source` directly rather than the CDK's `AbstractSource` stream machinery:
partitioning, drift-proof paging and checkpoints live in our engine (shared with the
exporter), and this module only translates engine items into protocol messages and our
exceptions into trace messages with the right failure type.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    AirbyteStateType,
    AirbyteStream,
    AirbyteStreamState,
    AirbyteStreamStatus,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    FailureType,
    Status,
    StreamDescriptor,
    SyncMode,
    Type,
)
from airbyte_cdk.sources import Source
from airbyte_cdk.utils.stream_status_utils import as_airbyte_message as status_message
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_contractfit.airbyte.catalog import configured_streams, state_blobs
from source_contractfit.airbyte.messages import FAILURE_TYPES
from source_contractfit.airbyte.protocol import read_events
from source_contractfit.api.client import ContractfitClient, RetryPolicy
from source_contractfit.api.errors import (
    ConfigError,
    ContractfitError,
    NotFoundError,
    TransientError,
)
from source_contractfit.api.redact import Redactor
from source_contractfit.config import ConnectorConfig, connection_specification
from source_contractfit.read.context import ReadContext, not_the_api_root
from source_contractfit.read.events import Checkpoint, Record
from source_contractfit.streams.base import StreamDef
from source_contractfit.streams.catalog import STREAMS


def traced(error: ContractfitError, redactor: Redactor) -> AirbyteTracedException:
    """One readable trace message, masked; the failure type says whose fault it is."""
    message = redactor.mask(error.message)
    return AirbyteTracedException(
        message=message,
        internal_message=f"{type(error).__name__}: {message}",
        failure_type=FailureType(FAILURE_TYPES[error.kind]),
    )


def airbyte_stream(stream: StreamDef) -> AirbyteStream:
    modes = [SyncMode.full_refresh] + ([SyncMode.incremental] if stream.incremental else [])
    return AirbyteStream(
        name=stream.name,
        json_schema=stream.json_schema(),
        supported_sync_modes=modes,
        source_defined_cursor=True if stream.incremental else None,
        default_cursor_field=list(stream.cursor_field) if stream.cursor_field else None,
        source_defined_primary_key=[list(key) for key in stream.primary_key],
        is_resumable=stream.incremental,
    )


class SourceContractfit(Source):
    """One instance per process (the CDK's entrypoint, or PyAirbyte's subprocess)."""

    def __init__(self) -> None:
        super().__init__()
        # The one redactor of the process: the client adds what it derives (the Basic
        # token, JWTs), and every message this front end writes is masked with it.
        self.redactor = Redactor()

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        """Generated from the settings declared in `config.py`: what `check` enforces."""
        return ConnectorSpecification(
            documentationUrl="https://docs.airbyte.com/integrations/sources/contractfit",
            connectionSpecification=connection_specification(),
        )

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            parsed = ConnectorConfig.from_mapping(config)
            self.redactor.add(*parsed.credentials.secrets())
            # A check answers within seconds: a short retry budget, not the sync's.
            retry = RetryPolicy(max_attempts=3, max_total_seconds=min(parsed.max_retry_seconds, 20))
            with ContractfitClient(parsed, retry=retry, redactor=self.redactor) as client:
                username = _check_identity(client, parsed)
                inboxes = ReadContext(parsed, client).inboxes()
                if not inboxes:
                    raise ConfigError(
                        f"The credentials work (user {username!r}) but no inbox is visible: "
                        "ask an admin for a role on at least one inbox, or fix 'inbox_ids'."
                    )
        except ContractfitError as error:
            message = self.redactor.mask(error.message)
            return AirbyteConnectionStatus(status=Status.FAILED, message=message)
        logger.info("Connected as %s; %d inbox(es) to read.", username, len(inboxes))
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        try:
            ConnectorConfig.from_mapping(config)
        except ContractfitError as error:
            raise traced(error, self.redactor) from None
        return AirbyteCatalog(streams=[airbyte_stream(stream) for stream in STREAMS])

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        """The CDK-driven read (in-process use); the console script uses protocol.py."""
        try:
            parsed = ConnectorConfig.from_mapping(config)
            self.redactor.add(*parsed.credentials.secrets())
            pairs = [(c.stream.name, c.sync_mode.value) for c in catalog.streams]
            selected, incremental = configured_streams(pairs)
            messages = [AirbyteStateMessageSerializer.dump(m) for m in state or []]
            blobs = {k: v for k, v in state_blobs(messages).items() if k in incremental}
        except ContractfitError as error:
            raise traced(error, self.redactor) from None
        descriptors = {stream.name: airbyte_stream(stream) for stream in selected}
        try:
            for event in read_events(parsed, selected, blobs, logger, self.redactor):
                if isinstance(event, Record):
                    yield _record_message(event)
                elif isinstance(event, Checkpoint):
                    yield _state_message(event)
                else:
                    status = AirbyteStreamStatus(event.status)
                    yield status_message(descriptors[event.stream], status)
        except ContractfitError as error:
            raise traced(error, self.redactor) from None

    @classmethod
    def read_state(cls, state_path: str) -> list[AirbyteStateMessage]:
        """The CDK's parser, with a config error naming the problem instead of a traceback."""
        try:
            return super().read_state(state_path)
        except Exception as error:  # noqa: BLE001 - any parse failure is the same user error
            raise AirbyteTracedException(
                message=(
                    f"The state file could not be read: {error}. Expected a JSON list of "
                    "per-stream state messages as this connector emits them."
                ),
                internal_message=repr(error),
                failure_type=FailureType.config_error,
            ) from None


def _check_identity(client: ContractfitClient, config: ConnectorConfig) -> str:
    """GET /users/me, turning 'no such path' and 'unreachable' into advice about base_url."""
    try:
        me = client.get_json("users/me")
    except NotFoundError:
        raise not_the_api_root("GET /users/me", config.base_url) from None
    except TransientError as error:
        raise TransientError(
            f"{error.message} Check that 'base_url' ({config.base_url}) is right and reachable."
        ) from None
    if not isinstance(me, dict) or not isinstance(me.get("username"), str):
        raise ConfigError(
            f"GET /users/me did not return a user: is 'base_url' ({config.base_url}) "
            "the Contract.fit API?"
        )
    return str(me["username"])


def _record_message(record: Record) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.RECORD,
        record=AirbyteRecordMessage(
            stream=record.stream, data=record.data, emitted_at=int(time.time() * 1000)
        ),
    )


def _state_message(checkpoint: Checkpoint) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.STATE,
        state=AirbyteStateMessage(
            type=AirbyteStateType.STREAM,
            stream=AirbyteStreamState(
                stream_descriptor=StreamDescriptor(name=checkpoint.stream),
                stream_state=AirbyteStateBlob(checkpoint.state),
            ),
        ),
    )
