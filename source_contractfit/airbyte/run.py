"""Console entrypoint `source-contractfit` (spec | check | discover | read).

`read` runs on our own protocol writer (protocol.py), without importing the CDK: that
saves its ~3 s start-up and its per-message serialization. spec, check and discover go
through the CDK's entrypoint.
"""

from __future__ import annotations

import logging
import sys

from source_contractfit.read.gc_tuning import tune_gc


def _not_the_memory_monitor(record: logging.LogRecord) -> bool:
    """The CDK's entrypoint logs its MemoryMonitor's thresholds as the first message of
    every command: noise before `spec`'s and `check`'s answer, and about a monitor of
    messages that these three commands never stream (`read` does not use the CDK)."""
    return not str(record.msg).startswith("MemoryMonitor instantiated")


def main(argv: list[str] | None = None) -> None:
    tune_gc()
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["read"]:
        from source_contractfit.airbyte.protocol import read_command

        sys.exit(read_command(args[1:]))
    from airbyte_cdk.entrypoint import launch

    logging.getLogger("airbyte").addFilter(_not_the_memory_monitor)

    from source_contractfit.airbyte.source import SourceContractfit

    launch(SourceContractfit(), args)


if __name__ == "__main__":
    main()
