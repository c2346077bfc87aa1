"""The I/O floor: fetch every document page with plain httpx + orjson and nothing else.

Usage: python benchmarks/floor.py BASE_URL [--page-size 100] [--concurrency 4]
                                  [--fetch-only | --all-pages]

Same pages as the connector's full read (each inbox walked in `receive_time,id` order,
`per_page` = the connector's page size), the same number of requests in flight (one
worker per inbox, at most `--concurrency` at once), the same API-key header. Each body is
parsed with orjson, the documents counted, and then dropped. Prints `DOCUMENTS n`.

`--all-pages` (for `windows.py`, the parallel page floor): each inbox's first page gives its
`total`, then every page of every inbox is fetched and parsed `--concurrency` at a time, as
if the inbox were a static snapshot (no connector may read a live inbox that way).

`--fetch-only` (for `budget.py`) parses only each inbox's first page, for its `total`, and
fetches the rest of that inbox's pages without parsing them: the HTTP transport's own cost.

The cyclic garbage collector is off: nothing outlives its page and nothing forms cycles,
so reference counting frees everything, and with the default thresholds parsing a page of
~1,300 KB triggers collections that cost about a quarter of this loop's CPU. (The
connector raises the thresholds for the same reason, `source_contractfit/read/gc_tuning.py`; a
floor that paid that tax would not be a floor.)
"""

from __future__ import annotations

import argparse
import gc
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson

from contractfit_emulator.tenant import ADMIN_API_KEY


def walk(client: httpx.Client, base_url: str, inbox: str, page_size: int) -> int:
    documents, page = 0, 1
    while True:
        response = client.get(
            f"{base_url}/inboxes/{inbox}/paginated",
            params={"page": page, "per_page": page_size, "order_by": "receive_time,id"},
        )
        response.raise_for_status()
        results = orjson.loads(response.content)["results"]
        documents += len(results)
        if len(results) < page_size:
            return documents
        page += 1


def fetch_only(client: httpx.Client, base_url: str, inbox: str, page_size: int) -> int:
    def get(page: int) -> httpx.Response:
        response = client.get(
            f"{base_url}/inboxes/{inbox}/paginated",
            params={"page": page, "per_page": page_size, "order_by": "receive_time,id"},
        )
        response.raise_for_status()
        return response

    total = int(orjson.loads(get(1).content)["total"])
    for page in range(2, -(-total // page_size) + 1):
        get(page)
    return total


def all_pages(client: httpx.Client, base_url: str, inboxes: list[str], page_size: int,
              pool: ThreadPoolExecutor) -> int:  # fmt: skip
    def get(inbox: str, page: int) -> dict[str, object]:
        response = client.get(
            f"{base_url}/inboxes/{inbox}/paginated",
            params={"page": page, "per_page": page_size, "order_by": "receive_time,id"},
        )
        response.raise_for_status()
        body: dict[str, object] = orjson.loads(response.content)
        return body

    firsts = list(pool.map(lambda inbox: get(inbox, 1), inboxes))
    documents = sum(len(first["results"]) for first in firsts)  # type: ignore[arg-type]
    rest = [
        (inbox, page)
        for inbox, first in zip(inboxes, firsts, strict=True)
        for page in range(2, -(-int(first["total"]) // page_size) + 1)  # type: ignore[call-overload]
    ]
    for body in pool.map(lambda job: get(*job), rest):
        documents += len(body["results"])  # type: ignore[arg-type]
    return documents


def main() -> None:
    gc.disable()
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--fetch-only", action="store_true")
    parser.add_argument("--all-pages", action="store_true")
    args = parser.parse_args()
    reader = fetch_only if args.fetch_only else walk
    limits = httpx.Limits(max_connections=args.concurrency)
    headers = {"X-API-Key": ADMIN_API_KEY}
    with httpx.Client(headers=headers, limits=limits, timeout=120) as client:
        inboxes = [i["id"] for i in orjson.loads(client.get(f"{args.base_url}/inboxes").content)]
        with ThreadPoolExecutor(args.concurrency) as pool:
            if args.all_pages:
                print("DOCUMENTS", all_pages(client, args.base_url, inboxes, args.page_size, pool))
                return
            counts = pool.map(lambda i: reader(client, args.base_url, i, args.page_size), inboxes)
            print("DOCUMENTS", sum(counts))


if __name__ == "__main__":
    main()
