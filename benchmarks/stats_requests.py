"""Requests of the dated stats streams: a 120-day sync from empty state, then the next day.

Usage: python benchmarks/stats_requests.py [--inboxes 3] [--days 120] [--lookback 7]

Reads every dated stream (stats_fields, stats_accuracy, stats_stp,
stats_automation_blockers, stats_processing, stats_volume, usage) incrementally from the
emulator in its own process, with `start_date` = today - (days - 1). "The next day" is
the same read from the state the first sync would have left had it run yesterday (every
per-inbox cursor one day earlier). The emulator counts the requests per endpoint.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from protocol import protocol_read

from contractfit_emulator import ADMIN_API_KEY, EmulatorProcess
from source_contractfit.cli.demo import configured_catalog
from source_contractfit.streams.stats import ENDPOINTS

DATED = list(ENDPOINTS)  # every dated stream


def read(tmp: Path, state: list[dict[str, Any]] | None) -> tuple[float, list[dict[str, Any]]]:
    _, wall, final = protocol_read(tmp, state)
    return wall, final


def a_day_earlier(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for state in states:
        for partition in state["stream"]["stream_state"]["partitions"].values():
            partition["cursor"] = str(date.fromisoformat(partition["cursor"]) - timedelta(days=1))
    return states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inboxes", type=int, default=3)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--lookback", type=int, default=7)
    args = parser.parse_args()
    start = datetime.now(timezone.utc).date() - timedelta(days=args.days - 1)
    with (
        tempfile.TemporaryDirectory() as folder,
        EmulatorProcess(
            seed=42, inboxes=args.inboxes, documents=1000 * args.inboxes, days=args.days
        ) as emulator,
    ):
        tmp = Path(folder)
        config = {
            "base_url": emulator.base_url,
            "credentials": {"auth_type": "api_key", "api_key": ADMIN_API_KEY},
            "start_date": f"{start}T00:00:00Z",
            "lookback_days": args.lookback,
        }
        (tmp / "config.json").write_text(json.dumps(config))
        (tmp / "catalog.json").write_text(json.dumps(configured_catalog(DATED, incremental=True)))
        results = []
        emulator.control.reset_requests()
        wall, state = read(tmp, None)
        results.append(("empty state", emulator.control.requests(), wall))
        emulator.control.reset_requests()
        wall, _ = read(tmp, a_day_earlier(state))
        results.append(("next day", emulator.control.requests(), wall))

    print(
        f"dated stats streams, {args.inboxes} inboxes x {args.days} days, "
        f"lookback_days {args.lookback}, max_concurrency 4"
    )
    templates = sorted({t for _, counts, _ in results for t in counts["requests"]})
    print(f"{'endpoint':<45}" + "".join(f"{name:>14}" for name, _, _ in results))
    for template in templates:
        cells = "".join(
            f"{sum(counts['requests'].get(template, {}).values()):>14}" for _, counts, _ in results
        )
        print(f"{template:<45}{cells}")
    print(f"{'total requests':<45}" + "".join(f"{c['total']:>14}" for _, c, _ in results))
    print(f"{'wall seconds':<45}" + "".join(f"{w:>14.2f}" for _, _, w in results))


if __name__ == "__main__":
    main()
