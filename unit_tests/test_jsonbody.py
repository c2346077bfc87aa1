"""Bodies decode without losing digits, and refuse what orjson refuses."""

from __future__ import annotations

import io

import orjson
import pytest

from source_contractfit.airbyte.messages import MessageWriter
from source_contractfit.api import jsonbody


def test_an_integer_beyond_64_bits_is_kept_exactly() -> None:
    body = b'{"results": [{"value": 123456789012345678901234567890, "n": 1.5}]}'
    assert orjson.loads(body)["results"][0]["value"] != 123456789012345678901234567890
    decoded = jsonbody.loads(body)
    assert decoded["results"][0] == {"value": 123456789012345678901234567890, "n": 1.5}


@pytest.mark.parametrize(
    "body",
    [b'{"a": NaN, "id": "1234567890123456789012"}', b"[1234567890123456789012", b"\xff" * 20],
)
def test_the_slow_path_refuses_what_orjson_refuses(body: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        jsonbody.loads(body)


def test_the_protocol_writer_writes_a_huge_integer_digit_for_digit() -> None:
    out = io.BytesIO()
    MessageWriter(out).write({"type": "RECORD", "record": {"data": {"v": 10**30, "s": "\ud800"}}})
    assert (
        out.getvalue()
        == b'{"type":"RECORD","record":{"data":{"v":1' + b"0" * 30 + b',"s":"\\ud800"}}}\n'
    )


def test_only_a_long_number_takes_the_slow_path() -> None:
    assert jsonbody.needs_exact(b'{"v":123456789012345678901}')
    assert jsonbody.needs_exact(b"[1, -1234567890123456789012]")
    assert jsonbody.needs_exact(b'{"a": [ 12345678901234567890]}')
    assert jsonbody.needs_exact(bytearray(b"[12345678901234567890]"))
    assert jsonbody.needs_exact(b"-12345678901234567890")
    # Digit runs inside strings (IBANs, hashes) and long fractions keep orjson's speed.
    assert not jsonbody.needs_exact(
        b'{"iban":"CH9300762011623852957","x":"1234567890123456789012"}'
    )
    assert not jsonbody.needs_exact(b'{"p": 0.30000000000000004, "q": 1.2345678901234567890123}')
