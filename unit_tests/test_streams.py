"""Stream definitions: readers chosen by the definition, one definition per stats stream,
one selection for every front end, and the typed events a read yields."""

from __future__ import annotations

import io
import logging
from collections.abc import Hashable, Iterator, Mapping, Sequence
from importlib import resources
from typing import Any

import jsonschema
import orjson
import pytest

from source_contractfit.airbyte.catalog import configured_streams
from source_contractfit.airbyte.messages import MessageWriter
from source_contractfit.api.errors import ConfigError
from source_contractfit.export.exporter import export_streams
from source_contractfit.export.normalize import COLUMNS, PRIMARY_KEYS, STREAM_TABLE_COLUMNS, TABLES
from source_contractfit.read.engine import plan, read_unit
from source_contractfit.read.events import Checkpoint, Item, Record, StreamStatus
from source_contractfit.read.readers import (
    DatedReader,
    DocumentFamilyReader,
    InboxesReader,
    InboxListReader,
    ListReader,
)
from source_contractfit.streams.base import Reader, StreamDef
from source_contractfit.streams.catalog import (
    STREAMS,
    STREAMS_BY_NAME,
    UnknownStreams,
    select_streams,
)
from source_contractfit.streams.stats import DAILY_STATS, ENDPOINTS, DailyStat

FAMILY = ("documents", "document_versions", "document_fields", "document_line_items")


# ---- reader dispatch ----------------------------------------------------------------------


class FakeReader(Reader):
    """Records which units it was handed; `shared` readers make one unit of their streams."""

    def __init__(self, shared: bool = False) -> None:
        self.shared = shared
        self.calls: list[tuple[list[str], Any, dict[str, Any]]] = []

    def unit_key(self, stream: StreamDef) -> Hashable:
        return ("fake", id(self)) if self.shared else super().unit_key(stream)

    def read(
        self, streams: Sequence[StreamDef], ctx: Any, states: Mapping[str, Any]
    ) -> Iterator[Item]:
        self.calls.append(([s.name for s in streams], ctx, dict(states)))
        for stream in streams:
            yield Record(stream.name, {"id": stream.name})
            yield Checkpoint(stream.name, {"was": states.get(stream.name)})


def definition(name: str, reader: Reader) -> StreamDef:
    return StreamDef(
        name=name,
        path=name,
        primary_key=(("id",),),
        reader=reader,
        description=name,
        schema=lambda: {},
    )


def test_plan_groups_streams_by_their_readers_unit_in_order() -> None:
    single, shared = FakeReader(), FakeReader(shared=True)
    a, c = definition("a", single), definition("c", single)
    b, d = definition("b", shared), definition("d", shared)
    assert plan([a, b, c, d]) == [[a], [b, d], [c]]
    assert plan([]) == []


def test_read_unit_hands_the_unit_to_the_reader_its_definitions_name() -> None:
    shared = FakeReader(shared=True)
    b, d = definition("b", shared), definition("d", shared)
    ctx = object()
    items = list(read_unit([b, d], ctx, {"d": {"x": 1}}))  # type: ignore[arg-type]
    assert shared.calls == [(["b", "d"], ctx, {"d": {"x": 1}})]
    assert items == [
        Record("b", {"id": "b"}),
        Checkpoint("b", {"was": None}),
        Record("d", {"id": "d"}),
        Checkpoint("d", {"was": {"x": 1}}),
    ]
    assert list(read_unit([b], ctx)) == [Record("b", {"id": "b"}), Checkpoint("b", {"was": None})]  # type: ignore[arg-type]


def test_read_unit_refuses_streams_of_different_units() -> None:
    single = FakeReader()
    with pytest.raises(ValueError, match="share"):
        read_unit([definition("a", single), definition("c", single)], object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one stream at a time"):
        ListReader().read([STREAMS_BY_NAME["users"], STREAMS_BY_NAME["roles"]], object(), {})  # type: ignore[arg-type]


class FakeContext:
    def __init__(self, inboxes: list[dict[str, Any]]) -> None:
        self._inboxes = inboxes

    def inboxes(self) -> list[dict[str, Any]]:
        return self._inboxes


def test_the_inboxes_stream_is_the_resolved_inboxes() -> None:
    inboxes = [{"id": "i1", "name": "A", "project": None}, {"id": "i2", "name": "B"}]
    items = list(read_unit([STREAMS_BY_NAME["inboxes"]], FakeContext(inboxes)))  # type: ignore[arg-type]
    assert items == [Record("inboxes", inbox) for inbox in inboxes]


def test_each_definition_names_its_reader() -> None:
    kinds = {name: type(stream.reader) for name, stream in STREAMS_BY_NAME.items()}
    assert kinds == {
        "projects": ListReader,
        "inboxes": InboxesReader,
        **dict.fromkeys(FAMILY, DocumentFamilyReader),
        **dict.fromkeys(ENDPOINTS, DatedReader),
        **dict.fromkeys(("users", "roles", "formats", "reports"), ListReader),
        "document_version_names": InboxListReader,
    }
    assert len({id(STREAMS_BY_NAME[name].reader) for name in FAMILY}) == 1


def test_the_catalog_plans_the_document_family_as_one_unit() -> None:
    units = plan(STREAMS)
    assert [len(unit) for unit in units] == [1, 1, 4, *[1] * (len(STREAMS) - 6)]
    assert [s.name for s in units[2]] == list(FAMILY)
    assert [s for unit in units for s in unit] == list(STREAMS)


# ---- a stats stream is one definition -------------------------------------------------------


@pytest.mark.parametrize("stat", DAILY_STATS, ids=lambda stat: stat.name)
def test_a_stats_stream_is_one_definition(stat: DailyStat) -> None:
    stream = STREAMS_BY_NAME[stat.name]
    assert ENDPOINTS[stat.name] is stat
    assert isinstance(stream.reader, DatedReader) and stream.reader.endpoint is stat
    assert stream.description == stat.description and stream.path == stat.path
    assert stream.cursor_field == ("date",) and stream.incremental
    assert stream.partitioned_by_inbox
    key = ("inbox_id", "date", *stat.keys)
    assert stream.primary_key == tuple((column,) for column in key)
    # The schema: generated from the columns declared with the stream, no file beside it.
    schema = stream.json_schema()
    assert schema == stat.json_schema() and stream.json_schema() is schema
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["description"] == stat.schema_description
    assert list(schema["properties"]) == [*key, *(name for name, _ in stat.values)]
    for column in key:
        assert schema["properties"][column]["type"] == "string"
    schemas = resources.files("source_contractfit.streams").joinpath("schemas")
    assert not schemas.joinpath(f"{stat.name}.json").is_file()
    # The exporter's table follows: columns, key, non-nullable key columns.
    assert [name for name, _ in COLUMNS[stat.name]] == [*schema["properties"], "extra"]
    assert PRIMARY_KEYS[stat.name] == key
    table = TABLES[stat.name]
    assert [table.field(column).nullable for column in key] == [False] * len(key)
    # A zero row (a day without data) is a valid record of the stream.
    if stat.zero is not None:
        inbox = {"id": "i1", "name": "Inbox", "project": "p1"}
        for variant in stat.variants:
            jsonschema.validate(stat.zero(inbox, "2026-01-02", variant), schema)


def test_every_plain_stream_has_a_table_and_the_document_family_none() -> None:
    assert set(STREAM_TABLE_COLUMNS) == {s.name for s in STREAMS if s.has_table}
    assert {s.name for s in STREAMS if not s.has_table} == set(FAMILY)
    assert {s.name for s in STREAMS if s.derived_from == "documents"} == set(FAMILY[1:])


# ---- one selection -----------------------------------------------------------------------------


def names(streams: list[StreamDef]) -> list[str]:
    return [stream.name for stream in streams]


def test_selection_keeps_catalog_order_and_the_incremental_streams() -> None:
    assert select_streams() == (list(STREAMS), set())
    selected, incremental = select_streams(
        [("usage", True), ("document_fields", False), ("projects", False), ("documents", True)]
    )
    assert names(selected) == ["projects", "documents", "document_fields", "usage"]
    assert incremental == {"usage", "documents"}


def test_selection_through_the_source_of_derived_streams() -> None:
    selected, _ = select_streams([("document_line_items", False)], derived_via_source=True)
    assert names(selected) == ["documents"]
    everything, _ = select_streams(derived_via_source=True)
    assert names(everything) == [s.name for s in STREAMS if s.name not in FAMILY[1:]]


def test_selection_names_every_unknown_stream() -> None:
    with pytest.raises(UnknownStreams) as unknown:
        select_streams([("projects", False), ("invoices", False), ("bills", False)])
    assert unknown.value.names == ["invoices", "bills"]
    with pytest.raises(UnknownStreams):
        select_streams([("projects", True), ("invoices", False)])
    selected, incremental = select_streams([("projects", True)])
    assert names(selected) == ["projects"] and incremental == set()


def test_the_exporter_selection_and_its_words() -> None:
    assert names(export_streams(None)) == names(select_streams(derived_via_source=True)[0])
    assert names(export_streams(["usage", "document_versions"])) == ["documents", "usage"]
    known = ", ".join(s.name for s in STREAMS)
    with pytest.raises(ConfigError) as caught:
        export_streams(["invoices", "documents", "bills"])
    assert caught.value.message == f"Unknown stream(s) invoices, bills. Known streams: {known}."


def test_the_airbyte_selection_and_its_words() -> None:
    selected, incremental = configured_streams(
        [("documents", "incremental"), ("document_fields", "full_refresh")]
    )
    assert names(selected) == ["documents", "document_fields"] and incremental == {"documents"}
    known = ", ".join(sorted(STREAMS_BY_NAME))
    with pytest.raises(ConfigError) as caught:
        configured_streams([("invoices", "full_refresh"), ("bills", "full_refresh")])
    assert caught.value.message == (
        f"The configured catalog names the stream 'invoices', which this source does not "
        f"have. Known streams: {known}. Run discover again and refresh the catalog."
    )


def test_incremental_asked_of_a_stream_without_cursor_reads_it_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PyAirbyte asks incremental of every stream; the CDK reads such a stream whole."""
    with caplog.at_level(logging.INFO, logger="airbyte"):
        selected, incremental = configured_streams(
            [
                ("documents", "incremental"),
                ("document_fields", "incremental"),
                ("inboxes", "incremental"),
            ]
        )
    assert names(selected) == ["inboxes", "documents", "document_fields"]
    assert incremental == {"documents"}
    assert [r.getMessage() for r in caplog.records] == [
        "The catalog asks for document_fields, inboxes in incremental mode; they have no "
        "cursor, so they are read whole (full refresh), as the Airbyte CDK does."
    ]


# ---- typed events ---------------------------------------------------------------------------


def test_the_writer_turns_each_event_into_its_message() -> None:
    out = io.BytesIO()
    writer = MessageWriter(out)
    for event in (
        StreamStatus("usage", "STARTED"),
        Record("usage", {"n": 1}),
        Record("usage", {"n": 2}),
        Checkpoint("usage", {"state_version": 1}),
    ):
        writer.event(event)
    messages = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [m["type"] for m in messages] == ["TRACE", "RECORD", "RECORD", "STATE"]
    status = messages[0]["trace"]
    assert status["type"] == "STREAM_STATUS"
    assert status["stream_status"] == {"stream_descriptor": {"name": "usage"}, "status": "STARTED"}
    assert messages[2]["record"]["stream"] == "usage" and messages[2]["record"]["data"] == {"n": 2}
    assert messages[3]["state"] == {
        "type": "STREAM",
        "stream": {"stream_descriptor": {"name": "usage"}, "stream_state": {"state_version": 1}},
        "sourceStats": {"recordCount": 2.0},
    }
