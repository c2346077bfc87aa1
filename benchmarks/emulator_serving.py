"""Serving throughput of the emulator's paginated endpoint.

Starts the emulator in its own process (fixed seed and --now), warms the cache by
reading every page once, then reads every page of every inbox with per_page=100:
first over one keep-alive connection, then over 4 concurrent connections. Each run is
repeated and the median is printed, with the server's CPU time per 1,000 documents
(from /proc/PID/stat, so Linux only).

    PYTHONPATH=. python benchmarks/emulator_serving.py [--documents 30000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import threading
import time
from urllib.parse import urlsplit

from contractfit_emulator import ADMIN_API_KEY, EmulatorProcess

PER_PAGE = 100


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def connect(base_url: str) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(base_url)
    return http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=60
    ), parts.path


def fetch(conn: http.client.HTTPConnection, path: str) -> bytes:
    conn.request("GET", path, headers={"X-API-Key": ADMIN_API_KEY})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
    return body


def page_paths(base_url: str, inbox_ids: list[str]) -> tuple[list[str], int]:
    """Every page path of every inbox, and the total number of documents."""
    conn, prefix = connect(base_url)
    paths: list[str] = []
    total_docs = 0
    for inbox_id in inbox_ids:
        first = json.loads(fetch(conn, f"{prefix}/inboxes/{inbox_id}/paginated?per_page=1"))
        total = first["total"]
        total_docs += total
        pages = (total + PER_PAGE - 1) // PER_PAGE
        paths += [
            f"{prefix}/inboxes/{inbox_id}/paginated?per_page={PER_PAGE}&page={p}"
            for p in range(1, pages + 1)
        ]
    conn.close()
    return paths, total_docs


def run(base_url: str, paths: list[str], connections: int) -> tuple[float, int]:
    """Fetch all paths over `connections` keep-alive connections; (seconds, bytes)."""
    shares = [paths[i::connections] for i in range(connections)]
    sizes = [0] * connections
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            conn, _prefix = connect(base_url)
            for path in shares[k]:
                sizes[k] += len(fetch(conn, path))
            conn.close()
        except BaseException as exc:  # surfaced after join
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed, sum(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inboxes", type=int, default=3)
    parser.add_argument("--documents", type=int, default=30_000, help="total over inboxes")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--now", default="2026-01-01T00:00:00Z")
    args = parser.parse_args()

    started = time.perf_counter()
    with EmulatorProcess(
        seed=args.seed, inboxes=args.inboxes, documents=args.documents, now=args.now
    ) as emulator:
        print(
            f"emulator pid {emulator.pid} ready in {time.perf_counter() - started:.1f}s "
            f"({args.documents} documents in {args.inboxes} inboxes)"
        )
        paths, total_docs = page_paths(emulator.base_url, emulator.inbox_ids)
        warm_cpu = cpu_seconds(emulator.pid)
        warm_s, _ = run(emulator.base_url, paths, 1)
        print(
            f"warm-up (cold cache, renders every document): {warm_s:.2f}s, "
            f"{total_docs / warm_s:,.0f} docs/s, server CPU "
            f"{(cpu_seconds(emulator.pid) - warm_cpu) / total_docs * 1000:.3f}s per 1k docs"
        )
        for connections in (1, 4):
            rates, mbs, rps, cpu = [], [], [], []
            for _ in range(args.repeat):
                before = cpu_seconds(emulator.pid)
                seconds, size = run(emulator.base_url, paths, connections)
                cpu.append((cpu_seconds(emulator.pid) - before) / total_docs * 1000)
                rates.append(total_docs / seconds)
                mbs.append(size / seconds / 1e6)
                rps.append(len(paths) / seconds)
            print(
                f"{connections} connection(s), {len(paths)} pages x {PER_PAGE}, "
                f"median of {args.repeat}: {statistics.median(rates):,.0f} docs/s, "
                f"{statistics.median(mbs):,.1f} MB/s, {statistics.median(rps):,.1f} req/s, "
                f"server CPU {statistics.median(cpu):.4f}s per 1k docs"
            )


if __name__ == "__main__":
    main()
