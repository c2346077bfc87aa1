"""Two reads of the source under PyAirbyte, into its default DuckDB cache.

Run by test_installs.py with the python of a venv made by `pip install airbyte
source-contractfit` (AIRBYTE_OFFLINE_MODE=1: no registry lookup, no telemetry):

    python pyairbyte_read.py CONFIG_JSON EXECUTABLE CONTROL_URL ARRIVALS

It reads `inboxes` and `documents` with the connector as a local executable, lets
ARRIVALS new documents arrive through the emulator's control API, and reads again: the
second read must take up from the state PyAirbyte stored in its cache. Prints one JSON
line per read: the records it processed, and the rows the cache then holds per stream.
"""

import json
import sys
from pathlib import Path

import airbyte as ab

from contractfit_emulator.control import EmulatorControl

config_path, executable, control_url, arrivals = sys.argv[1:5]
source = ab.get_source(
    "source-contractfit",
    config=json.loads(Path(config_path).read_text()),
    local_executable=executable,
)
source.check()
source.select_streams(["inboxes", "documents"])
cache = ab.get_default_cache()


def read(label: str) -> None:
    result = source.read(cache=cache)
    rows = {name: len(result[name].to_pandas()) for name in ("inboxes", "documents")}
    line = {"read": label, "processed": result.processed_records, "cache_rows": rows}
    print(json.dumps({**line, "cache": str(cache.db_path)}), flush=True)


read("first")
EmulatorControl(control_url).arrive(count=int(arrivals))
read("second")
