"""Moves the wall clock of every Python process of a test run, when `.ci/at-date` asks.

`CONTRACTFIT_CLOCK_OFFSET` (seconds) is added to the real time, so the test process, the
emulators it starts and the connector subprocesses all agree on the (moved) time while it
keeps running. time-machine moves `time.time`, `datetime.now`, `date.today` and friends;
monotonic clocks and sleeps stay real (libfaketime breaks timed waits and sleeps).
"""

import os

_offset = os.environ.get("CONTRACTFIT_CLOCK_OFFSET")
if _offset:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_offset), tick=True).start()
