"""Smoke test of the source under PyAirbyte as a local executable (run by hand).

PyAirbyte pins its own duckdb/pyarrow, so it lives in a venv of its own:

    python3 -m venv /tmp/pyab && /tmp/pyab/bin/pip install airbyte -e .
    AIRBYTE_OFFLINE_MODE=1 PATH=/tmp/pyab/bin:$PATH /tmp/pyab/bin/python \
        integration_tests/pyairbyte_smoke.py
"""

import airbyte as ab

from contractfit_emulator import ADMIN_API_KEY, EmulatorProcess

with EmulatorProcess(seed=1, inboxes=2, documents=300) as emu:
    source = ab.get_source(
        "source-contractfit",
        local_executable="source-contractfit",
        config={
            "base_url": emu.base_url,
            "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY},
        },
    )
    source.check()
    source.select_streams(["inboxes", "documents"])
    result = source.read(cache=ab.new_local_cache("contractfit_smoke"))
    documents = result["documents"].to_pandas()
    inboxes = result["inboxes"].to_pandas()
    assert len(documents) == 300 and len(inboxes) == 2, (len(documents), len(inboxes))
    print(f"PyAirbyte read {len(documents)} documents from {len(inboxes)} inboxes")
