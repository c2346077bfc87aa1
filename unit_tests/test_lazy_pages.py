"""`lazy.loads`, the exporter's page decoder: jsonbody.loads's value or jsonbody's refusal.

The C parser (`_tape.h`) takes a body whole or not at all; what it takes must decode to
exactly what jsonbody.loads gives (types included: `1` is not `1.0`, `true` is not `1`),
with each version's and prediction's `annotations`/`lines` object left as a Subtree whose
`raw()` is its JSON text. Inputs: arbitrary JSON values written two ways, byte-level
mutations of a real page, and the edges the parser must recognise and leave to jsonbody.
The rows read from Subtrees are held to the specification in test_normalize_fast.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_normalize_properties import SETTINGS, json_values, real_documents

from source_contractfit.api import jsonbody
from source_contractfit.export.normalize import Normalizer, lazy

pytestmark = pytest.mark.skipif(not lazy.AVAILABLE, reason="the C extension is not built")


def typed(value: Any) -> Any:
    """A form where equal means equal JSON: Python says 1 == 1.0 == True; this does not."""
    if type(value) is lazy.Subtree:
        return typed(jsonbody.loads(value.raw()))
    if isinstance(value, dict):
        return ("object", [(key, typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("array", [typed(item) for item in value])
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, value)


def decoded(body: bytes | bytearray) -> Any:
    """What jsonbody.loads makes of `body`, or the exception type it raises."""
    try:
        return typed(jsonbody.loads(body))
    except orjson.JSONDecodeError:
        return orjson.JSONDecodeError


def lazily(body: bytes | bytearray) -> Any:
    try:
        return typed(lazy.loads(body))
    except orjson.JSONDecodeError:
        return orjson.JSONDecodeError


def page(documents: list[Any]) -> bytes:
    return orjson.dumps({"page": 1, "per_page": 100, "total": 2, "results": documents})


@SETTINGS
@given(json_values, st.booleans())
def test_any_json_value_decodes_as_jsonbody_decodes_it(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    body = text.encode("utf-8", "surrogatepass")  # a lone surrogate raw: invalid UTF-8
    assert lazily(body) == decoded(body)


@SETTINGS
@given(st.data())
def test_a_mutated_page_decodes_as_jsonbody_decodes_it(data: st.DataObject) -> None:
    body = bytearray(page(list(real_documents()[:2])))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(body) - 1))
        action = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = data.draw(st.sampled_from(list(b'"\\{}[],:0159.eE-+ tfnu\x00\x1f\x80\xc3\xed\xff')))
        if action == "replace":
            body[at] = byte
        elif action == "insert":
            body.insert(at, byte)
        else:
            del body[at]
    assert lazily(bytes(body)) == decoded(bytes(body))


EDGES = [
    b'{"a":1,"a":2,"b":3}',  # a key twice: the last value, at the first place
    b'"\\ud83d\\ude00 \\u00e9\\n\\t\\"\\\\\\/\\b\\f\\r"',
    b'"\\ud800"',
    b'"\\udc00"',
    b'"\\ud800\\u0041"',
    b'"\\u12"',
    b'"\\x"',  # refused
    b'"\xed\xa0\x80"',
    b'"\xc0\x80"',
    b'"\xf4\x90\x80\x80"',
    b'"\xff"',
    b'"\xe2\x82"',
    b'"\x1f"',
    b'"a\nb"',
    b"[1e400]",
    b"[-1e400]",
    b"[5e-324]",
    b"[1e-400]",
    b"[2.5e-308]",
    b"[-0, -0.0, 0.0, 1E5, 1e+2, 1.50, 0.1000000000000000055511151231257827]",
    b"[123456789012345678, -123456789012345678]",
    b"[1234567890123456789]",
    b"[-9223372036854775808]",
    b"[18446744073709551616]",
    b"[01]",
    b"[1.]",
    b"[.5]",
    b"[+1]",
    b"[-]",
    b"[1e]",
    b"[1e+]",
    b"[0x10]",
    b"[NaN]",
    b"[Infinity]",
    b"[tru]",
    b"[nul]",
    b"[1,]",
    b'{"a":1,}',
    b'{"a" 1}',
    b"[]x",
    b"",
    b" \t\r\n{} \n",
    b"[" * 300 + b"]" * 300,
    b"[" * 200 + b"]" * 200,
    b'{"a":[}',
]


@pytest.mark.parametrize("body", EDGES, ids=range(len(EDGES)))
def test_edges_decode_as_jsonbody_decodes_them(body: bytes) -> None:
    assert lazily(body) == decoded(body)


def test_only_the_normalized_objects_of_documents_stay_on_the_tape() -> None:
    holder = {"annotations": {"f": []}, "lines": {"t": []}, "sections": []}
    document = {"id": "d", "versions": [holder, None, {"annotations": None}], "prediction": holder,
                "annotations": {"x": 1}, "meta_information": holder}  # fmt: skip
    value = lazy.loads(page([document, "not a document"]))
    version = value["results"][0]["versions"][0]
    assert type(version["annotations"]) is lazy.Subtree
    assert type(version["lines"]) is lazy.Subtree
    assert type(value["results"][0]["prediction"]["lines"]) is lazy.Subtree
    assert value["results"][0]["versions"][2] == {"annotations": None}
    assert value["results"][0]["annotations"] == {"x": 1}  # not a version's
    assert value["results"][0]["meta_information"]["lines"] == {"t": []}
    assert value["results"][1] == "not a document"
    assert json.loads(version["lines"].raw()) == {"t": []}
    assert typed(lazy.materialize(value["results"][0])) == typed(document)
    assert lazy.materialize(document) is document  # nothing lazy: the object itself
    # A page is an object (API.md); a bare array of documents is decoded whole.
    bare = lazy.loads(orjson.dumps([document]))
    assert type(bare[0]["versions"][0]["annotations"]) is dict


def test_materialize_leaves_the_page_as_it_was() -> None:
    value = lazy.loads(page(list(real_documents()[:1])))
    document = value["results"][0]
    built = lazy.materialize(document)
    assert type(document["versions"][0]["annotations"]) is lazy.Subtree
    assert isinstance(built["versions"][0]["annotations"], dict)
    assert typed(built) == typed(real_documents()[0])


def test_a_bytearray_body_is_copied_before_the_parse_reads_it() -> None:
    """The client reads bodies into a bytearray; the parse checks it without the GIL and
    the Subtrees read it later, so it is copied: writing it afterwards changes nothing."""
    body = bytearray(page(list(real_documents()[:1])))
    value = lazy.loads(body)
    annotations = value["results"][0]["versions"][0]["annotations"]
    before = annotations.raw()
    body[:] = b" " * len(body)
    assert annotations.raw() == before
    assert typed(lazy.materialize(value["results"][0])) == typed(real_documents()[0])


def test_a_large_annotations_object_is_checked_for_repeated_keys_in_linear_time() -> None:
    """Duplicate keys are found by hashing past 16 keys (pairwise, 40,000 keys took 2 s)."""
    many = b",".join(b'"f%d":[{"value":"v"}]' % k for k in range(40_000))
    for fields, repeated in ((many, False), (many + b',"f7":[]', True)):
        body = page([real_documents()[0]]).replace(
            b'"versions":[', b'"versions":[{"name":"x","annotations":{' + fields + b"}},", 1
        )
        document = lazy.loads(body)["results"][0]
        assert tables(document) == tables(jsonbody.loads(body)["results"][0], fast=False)
        normalizer = Normalizer()
        normalizer.add_document(lazy.loads(body)["results"][0])
        assert normalizer.fallbacks == int(repeated)


@pytest.mark.parametrize(
    "text",
    ["1.50", "100.0", "1e2", "1E+2", "0.1000000000000000055511151231257827", "0.00001",
     "0.0001", "-0.0", "0.0", "123456789012345.6", "1234567890123456.0", "9007199254740993.0",
     "0.30000000000000004", "5e-324", "2.2250738585072014e-308", "1.7976931348623157e308"],
)  # fmt: skip
def test_a_float_as_the_server_wrote_it_reads_as_its_repr(text: str) -> None:
    """`value` text is repr(float): the tape copies a float's own text only where that is
    its repr, and asks Python (with the GIL) otherwise."""
    document = real_documents()[0]
    body = page([document]).replace(b'"versions":[', b'"versions":[{"name":"x","annotations":{'
                                    b'"f":[{"value":' + text.encode() + b',"gold":'
                                    + text.encode() + b"}]}},", 1)  # fmt: skip
    normalizer = Normalizer()
    normalizer.add_document(lazy.loads(body)["results"][0])
    assert normalizer.fallbacks == 0
    batches = [batch for name, batch in normalizer.flush() if name == "fields"]
    rows = [row for batch in batches for row in batch.to_pylist()]
    number = float(text)
    first = rows[0]
    assert (first["field_name"], first["version_index"]) == ("f", 0)
    assert first["value"] == first["gold"] == repr(number)
    assert first["value_number"] == number


def tables(document: Any, **options: Any) -> dict[str, list[dict[str, Any]]]:
    normalizer = Normalizer(**options)
    normalizer.add_document(document)
    out: dict[str, list[dict[str, Any]]] = {}
    for name, batch in normalizer.flush():
        out.setdefault(name, []).extend(batch.to_pylist())
    for row in out.get("rejects", []):
        row.pop("rejected_at")
    return out


@pytest.mark.parametrize(
    "annotations",
    [b'{"f":[{"value":"a"}],"f":[{"value":"b"},{"value":"c"}]}',  # a field twice
     b'{"f":[{"value":"a","value":"b","confidence":1}]}',  # an atom key twice
     b'{"f":[{"value":"a","text":"t","text":null}],"g":null,"g":[]}'],
)  # fmt: skip
def test_a_key_twice_in_annotations_or_lines_reads_as_the_dict_keeps_it(annotations: bytes) -> None:
    """JSON allows a key twice; the decoders keep the last value at the first place. The
    tape readers see both, so they leave such objects to the Python objects' way."""
    document = real_documents()[0]
    lines = b'{"t":[{"c":{"value":"x"},"c":{"value":"y"}}],"t":null}'
    body = page([document]).replace(b'"versions":[', b'"versions":[{"name":"x","annotations":'
                                    + annotations + b',"lines":' + lines + b"},", 1)  # fmt: skip
    spec = tables(jsonbody.loads(body)["results"][0], fast=False)
    assert tables(lazy.loads(body)["results"][0]) == spec
    assert spec["fields"][0]["version_index"] == 0


REPEATED_ABOVE = [  # a key twice above the objects the parsing thread writes rows of
    b'{"results":[{"id":"a","inbox":"i","versions":[{"name":"v",'
    b'"annotations":{"f":[{"value":"x"}]},"annotations":{"g":[{"value":"y"}]}}],'
    b'"tags":["a","b","c","d","e","f"]}]}',
    b'{"results":[{"id":"a","versions":[{"lines":{"t":[{"c":{"value":1}}]}}],'
    b'"versions":[{"annotations":{"g":[{"value":2}]}}],"tags":["a","b","c","d"]}]}',
    b'{"results":[{"id":"a","versions":[{"annotations":{"f":[{"value":1}]}}]}],'
    b'"results":[{"id":"b","versions":[]}],"tags":["a","b","c","d","e"]}',
]


def test_a_key_twice_above_annotations_or_lines_frees_nothing_still_in_use() -> None:
    """The dict keeps the last value of a key twice and frees the first, with the
    Subtrees built under it; the parsing thread, which writes the rows of every Subtree it
    built, must not touch a freed one (it did, and crashed the process). In a child
    process, with Python's debug allocator, which poisons freed memory."""
    script = (
        "import sys, orjson\n"
        "from source_contractfit.api import jsonbody\n"
        "from source_contractfit.export.normalize import lazy\n"
        "for body in orjson.loads(sys.argv[1]):\n"
        "    body = body.encode()\n"
        "    got = [lazy.materialize(d) for d in lazy.loads(body)['results']]\n"
        "    assert got == jsonbody.loads(body)['results'], got\n"
        "print('ok')\n"
    )
    bodies = orjson.dumps([body.decode() for body in REPEATED_ABOVE]).decode()
    env = {**os.environ, "PYTHONMALLOC": "debug"}
    done = subprocess.run(
        [sys.executable, "-c", script, bodies], capture_output=True, text=True, env=env
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr[-2000:]
    for body in REPEATED_ABOVE:  # and the rows are the specification's
        for document in jsonbody.loads(body)["results"]:
            index = jsonbody.loads(body)["results"].index(document)
            spec = tables(document, fast=False)
            assert tables(lazy.loads(body)["results"][index]) == spec
