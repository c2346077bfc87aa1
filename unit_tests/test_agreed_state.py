"""exporter.agreed_state: where sinks disagree, the state every sink holds data for."""

from __future__ import annotations

import pytest

from source_contractfit.export.exporter import agreed_state
from source_contractfit.export.sinks import StoredState


def test_the_sink_with_the_lowest_sequence_is_behind_in_every_stream() -> None:
    duck = StoredState(7, {"documents": {"cursor": "b"}, "usage": {"day": 2}})
    parquet = StoredState(5, {"documents": {"cursor": "a"}, "usage": {"day": 1}})
    assert agreed_state([duck, parquet]) == {"documents": {"cursor": "a"}, "usage": {"day": 1}}
    assert agreed_state([parquet, duck]) == {"documents": {"cursor": "a"}, "usage": {"day": 1}}


def test_a_stream_some_sink_has_no_state_for_is_read_anew() -> None:
    ahead = StoredState(7, {"usage": {"day": 2}})
    behind = StoredState(5, {"documents": {"cursor": "a"}, "usage": {"day": 1}})
    assert agreed_state([ahead, behind]) == {"usage": {"day": 1}}
    assert agreed_state([behind, ahead]) == {"usage": {"day": 1}}


def test_at_one_sequence_only_the_states_all_hold_are_kept() -> None:
    duck = StoredState(5, {"documents": {"cursor": "b"}, "usage": {"day": 2}, "x": None})
    parquet = StoredState(5, {"usage": {"day": 2}, "x": {}})
    assert agreed_state([duck, parquet]) == {"usage": {"day": 2}}
    assert agreed_state([parquet, duck]) == {"usage": {"day": 2}}


def test_one_sink_is_its_own_agreement() -> None:
    only = StoredState(3, {"documents": {"cursor": "a"}})
    assert agreed_state([only]) == {"documents": {"cursor": "a"}}


class _Sink:
    """A sink's stored state only; `fail` makes replace_state raise (a crash there)."""

    def __init__(self, name: str, stored: StoredState, fail: bool = False) -> None:
        self.name, self.stored, self.fail = name, stored, fail

    def load_state(self) -> StoredState:
        return self.stored

    def replace_state(self, streams: dict[str, object], sequence: int) -> None:
        if self.fail:
            raise OSError("killed")
        self.stored = StoredState(sequence, dict(streams))


def _starting_state(sinks: list[_Sink]) -> tuple[int, dict[str, object]]:
    from source_contractfit.export.exporter import Exporter

    exporter = Exporter.__new__(Exporter)
    exporter.sinks = sinks  # type: ignore[assignment]
    return exporter._starting_state()


def test_a_start_cut_short_while_agreeing_never_lends_the_newer_state() -> None:
    """The sink behind is rewritten last: were it rewritten first, it would stand above
    the other, which would then be the lowest and hand the next run its newer cursor."""
    duck = _Sink("duckdb", StoredState(7, {"documents": {"cursor": "a"}}))
    parquet = _Sink("parquet", StoredState(8, {"documents": {"cursor": "b"}}))
    duck.fail = True  # cut short after the first rewrite
    with pytest.raises(OSError):
        _starting_state([duck, parquet])
    assert parquet.stored == StoredState(9, {"documents": {"cursor": "a"}})  # ahead: first
    duck.fail = False
    assert _starting_state([duck, parquet]) == (9, {"documents": {"cursor": "a"}})
    assert duck.stored.streams == parquet.stored.streams == {"documents": {"cursor": "a"}}


def test_sinks_that_agree_are_not_rewritten() -> None:
    same = {"documents": {"cursor": "a"}}
    duck = _Sink("duckdb", StoredState(7, dict(same)), fail=True)
    parquet = _Sink("parquet", StoredState(9, dict(same)), fail=True)
    assert _starting_state([duck, parquet]) == (9, same)
