"""Console entrypoint `source-contractfit` (spec | check | discover | read)."""

from __future__ import annotations

import sys

from airbyte_cdk.entrypoint import launch

from .runtime import tune_gc
from .source import SourceContractfit


def main(argv: list[str] | None = None) -> None:
    tune_gc()
    launch(SourceContractfit(), sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
