"""Which optional extra a command needs, and one line saying how to install it.

`pip install source-contractfit` is the Airbyte source alone (airbyte-cdk, httpx, orjson):
a `read` never needs pyarrow, DuckDB or plotly. The exporter, the analytics and the HTML
report come with extras. A command, or an import of `export`/`analytics`, whose extra is
missing stops here with `MissingExtra`, one line naming the extra, instead of a
`ModuleNotFoundError` from somewhere deep in an import chain.
"""

from __future__ import annotations

import importlib.util

#: Each extra of pyproject.toml, with the modules that tell whether it is installed.
#: `emulator` runs on the base install (the standard library and orjson).
EXTRAS: dict[str, tuple[str, ...]] = {
    "export": ("pyarrow", "duckdb"),
    "report": ("plotly",),
    "emulator": (),
}

DISTRIBUTION = "source-contractfit"


class MissingExtra(ImportError):
    """An optional extra is not installed; the message is the one line to show."""


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(what: str, *extras: str, install: str | None = None) -> None:
    """Raise `MissingExtra` naming the first of `extras` that is not installed.

    `what` is the thing that needs it ("contractfit export", "source_contractfit.export");
    `install` the extra to tell the user to install, when one extra brings all of them
    (the demo needs `all`, not first `export` and then `report`).
    """
    for extra in extras:
        absent = missing_modules(extra)
        if absent:
            names = " and ".join(absent)
            verb = "is" if len(absent) == 1 else "are"
            wanted = install or extra
            raise MissingExtra(
                f"{what} needs the '{wanted}' extra ({names} {verb} not installed): "
                f"pip install '{DISTRIBUTION}[{wanted}]'",
                name=absent[0],
            )
