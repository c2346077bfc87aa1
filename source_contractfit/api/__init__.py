"""The Contract.fit API client: the only code that speaks HTTP.

Here: `client.py` (retries, timeouts, size cap, concurrency limit, the server's clock),
`auth.py` (Basic, JWT, API key), `errors.py` (exceptions that say whose fault a failure
is), `redact.py` (masking every secret the process knows). Not here: paging a live inbox
(`read/walk.py`), what an endpoint's body means (`streams/`).
"""
