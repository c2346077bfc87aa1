"""The engine: selected streams in, records and checkpoints out, for every front end.

Here: `engine.py` (read units, dispatched to the reader each stream names), `readers.py`
(the readers), `events.py` (Record, Checkpoint, StreamStatus), `walk.py` (the drift-proof
keyset walk over an inbox, and what it verifies of each page), `family.py` (one read
feeding every document stream, cursors capped at the server's present), `reviews.py`
(late reviews), `state.py` (the document streams' state blob), `dated.py` (the per-day
stats streams), `context.py` (what one sync shares), `concurrency.py` (partitions in
parallel), `gc_tuning.py`. Not here: HTTP (`api/`), Airbyte messages (`airbyte/`), sinks
(`export/`).
"""
