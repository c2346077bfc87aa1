"""What each stream is: name, endpoint, keys, cursor, JSON schema and how a body becomes
records, described once and iterated by every front end.

Here: `catalog.py` (the `STREAMS` registry), `stats.py` (the vendor's per-day stats:
endpoints and flatteners), `versions.py` (document versions as records), `schemas/`
(JSON schemas). Not here: how a stream is paged, partitioned or checkpointed (`read/`).
"""
