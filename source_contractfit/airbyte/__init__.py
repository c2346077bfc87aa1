"""The Airbyte front end: `source-contractfit spec | check | discover | read`.

Here: the CDK `Source` (`source.py`: spec, check, discover, CDK-driven read), the console
read that writes the protocol without the CDK (`protocol.py`, with `catalog.py` for the
catalog and state it is given and `messages.py` for what it writes), the console entry
point (`run.py`); the spec is generated from `config.py`'s declaration. Not here: how streams
are read (`read/`), what they are (`streams/`), HTTP (`api/`). This package only turns
engine events into Airbyte messages and errors into trace messages with a failure type.
"""
