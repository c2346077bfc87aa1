"""The `contractfit` command: `export`, `sql`, `report` and `demo`, plus the progress line.

Here: `main.py` (argument parsing, dispatch), `demo.py` (emulator, Airbyte read, export,
report in one go; the only connector code that starts the emulator), `progress.py`.
Not here: the commands' own logic (`export/`, `analytics/`).
"""
