"""Console entrypoint `source-contractfit` (spec | check | discover | read).

`read` runs on our own protocol writer (protocol.py), without importing the CDK: that
saves its ~3 s start-up and its per-message serialization. spec, check and discover go
through the CDK's entrypoint.
"""

from __future__ import annotations

import sys

from source_contractfit.read.gc_tuning import tune_gc


def main(argv: list[str] | None = None) -> None:
    tune_gc()
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["read"]:
        from source_contractfit.airbyte.protocol import read_command

        sys.exit(read_command(args[1:]))
    from airbyte_cdk.entrypoint import launch

    from source_contractfit.airbyte.source import SourceContractfit

    launch(SourceContractfit(), args)


if __name__ == "__main__":
    main()
