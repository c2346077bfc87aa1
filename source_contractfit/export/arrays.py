"""Arrow arrays from Python lists, built from buffers rather than by `pa.array`.

The first `pa.array` over a Python list imports pandas (pyarrow checks every list for a
pandas object), 0.2 s of CPU before an export's first commit is stored; the exporter's own
lists (document ids, partition codes) need none of it. A list these do not take as it is
(None among the values, a string that is not valid UTF-8, offsets past 2 GiB) goes to
`pa.array`, which decides as before. (Parquet files are read around pyarrow.dataset for
the same reason: parquet_index.parquet_file.)
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from itertools import accumulate

import pyarrow as pa


def strings(values: Sequence[str]) -> pa.Array:
    """A `string` array of `values`."""
    try:
        encoded = [value.encode() for value in values]
        offsets = array("i", [0])
        offsets.extend(accumulate(map(len, encoded)))
    except (AttributeError, UnicodeEncodeError, OverflowError):
        return pa.array(values, pa.string())
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers)


def int64s(values: Iterable[int]) -> pa.Array:
    """An `int64` array of `values`."""
    values = list(values)
    try:
        if any(type(value) is bool for value in values):  # array("q") takes them; pa.array not
            raise TypeError
        data = array("q", values)
    except (TypeError, OverflowError):
        return pa.array(values, pa.int64())
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])
