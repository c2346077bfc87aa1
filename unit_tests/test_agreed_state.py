"""exporter.agreed_state: where sinks disagree, the state every sink holds data for."""

from __future__ import annotations

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
