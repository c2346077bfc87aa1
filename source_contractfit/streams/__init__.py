"""What each stream is: name, endpoint, keys, cursor, JSON schema, the reader that fetches
it and how a body becomes records, described once and iterated by every front end.

Here: `base.py` (`StreamDef` and the `Reader` protocol a definition names), `metadata.py`
(the tenant's lists), `stats.py` (the per-day stats streams, one `DailyStat` each:
endpoint, flattener, keys and schema together), `documents.py` (the document family,
built on the normalizer), `versions.py` (document versions as records), `catalog.py`
(`STREAMS` in order and `select_streams`, the one selection of every front end),
`schemas/` (JSON schemas of the metadata and document streams). Not here: how a stream is
paged, partitioned or checkpointed (`read/`, whose readers the definitions name).
"""
