"""HTTP requests and wall time of an incremental sync after 1% of documents changed.

Usage: python benchmarks/incremental_requests.py [--documents 30000] [--inboxes 3]

Reads `documents` + `document_versions` incrementally (default settings: page_size 100,
lookback_days 7, max_concurrency 4) from the emulator in its own process:
1. a full sync from an empty state;
2. 1% of documents arrive (the hourly case);
3. 1% of documents change: half new arrivals, half reviews of the newest documents
   waiting for review (a review UI lists newest first);
4. 1% of documents reviewed uniformly at random over all history (the worst case: every
   reviewed document sits in a different part of the inbox).
After each change an incremental sync runs from the previous state. Requests are counted
by the emulator (every /api request, including retries and logins).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from protocol import protocol_read

from contractfit_emulator import ADMIN_API_KEY, EmulatorProcess
from source_contractfit.cli.demo import configured_catalog
from source_contractfit.timeutil import format_datetime, parse_datetime


def sync(tmp: Path, state: list[dict[str, Any]] | None) -> tuple[int, float, list[dict[str, Any]]]:
    """Run one read; returns (documents emitted, wall seconds, final state input)."""
    records, wall, final = protocol_read(tmp, state)
    return records["documents"], wall, final


def arrive_spread(control: Any, inbox: str, count: int, now: datetime) -> None:
    """`count` processed arrivals in ten batch uploads over the last ten minutes."""
    for batch in range(10):
        size = count // 10 + (1 if batch < count % 10 else 0)
        received = format_datetime(now - timedelta(minutes=10 - batch))
        control.arrive(inbox_id=inbox, count=size, receive_time=received)


def newest_waiting(emulator: EmulatorProcess, inbox_id: str, count: int) -> list[str]:
    waiting = [
        d
        for d in emulator.control.documents(inbox_id=inbox_id)
        if d["flag_for_review"] and not d["submitted"]["value"] and not d["reject"]["value"]
    ]
    waiting.sort(key=lambda d: d["timings"]["receive_time"], reverse=True)
    return [d["id"] for d in waiting[:count]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inboxes", type=int, default=3)
    parser.add_argument("--documents", type=int, default=30000)
    args = parser.parse_args()
    changed = args.documents // 100
    per_inbox = changed // args.inboxes

    with (
        tempfile.TemporaryDirectory() as folder,
        EmulatorProcess(seed=42, inboxes=args.inboxes, documents=args.documents) as emulator,
    ):
        tmp = Path(folder)
        config = {
            "base_url": emulator.base_url,
            "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY},
        }
        (tmp / "config.json").write_text(json.dumps(config))
        catalog = configured_catalog(["documents", "document_versions"], incremental=True)
        (tmp / "catalog.json").write_text(json.dumps(catalog))
        control = emulator.control
        inboxes = control.inbox_ids()
        rows = []

        control.reset_requests()
        docs, wall, state = sync(tmp, None)
        full_requests = control.requests()["total"]
        rows.append(("full sync from empty state", docs, full_requests, wall))

        time.sleep(1.1)  # the emulator's clock starts on a whole second
        now = parse_datetime(control.state()["now"])
        for inbox in inboxes:
            arrive_spread(control, inbox, per_inbox, now)
        control.reset_requests()
        docs, wall, state = sync(tmp, state)
        rows.append(("1% changed: arrivals", docs, control.requests()["total"], wall))

        time.sleep(1.1)
        now = parse_datetime(control.state()["now"])
        for inbox in inboxes:
            waiting = newest_waiting(emulator, inbox, per_inbox - per_inbox // 2)
            control.review(document_ids=waiting)
            arrive_spread(control, inbox, per_inbox // 2, now)
        control.reset_requests()
        docs, wall, state = sync(tmp, state)
        requests = control.requests()["total"]
        rows.append(("1% changed: arrivals + newest reviews", docs, requests, wall))

        time.sleep(1.1)
        control.review(count=changed)
        control.reset_requests()
        docs, wall, state = sync(tmp, state)
        rows.append(("1% reviewed at random", docs, control.requests()["total"], wall))

        control.reset_requests()
        docs, wall, state = sync(tmp, state)
        rows.append(("no change", docs, control.requests()["total"], wall))

    print(
        f"{args.inboxes} inboxes x {args.documents // args.inboxes} documents; streams "
        "documents + document_versions; page_size 100, lookback_days 7, max_concurrency 4"
    )
    constant = rows[-1][2]  # what a sync costs when nothing changed
    print(
        f"{'sync':<40} {'documents':>9} {'requests':>8} {'% of full':>9} "
        f"{'beyond no-change, % of full':>28} {'wall s':>7}"
    )
    for name, docs, requests, wall in rows:
        share = 100 * requests / full_requests
        extra = 100 * (requests - constant) / full_requests
        print(f"{name:<40} {docs:>9} {requests:>8} {share:>8.1f}% {extra:>27.1f}% {wall:>7.2f}")


if __name__ == "__main__":
    main()
