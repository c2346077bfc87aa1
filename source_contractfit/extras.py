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
#: `emulator` runs on the base install (the standard library and orjson); `all` is every
#: other one, as the demo needs.
EXTRAS: dict[str, tuple[str, ...]] = {
    "export": ("pyarrow", "duckdb"),
    "report": ("plotly",),
    "emulator": (),
}
EXTRAS["all"] = tuple(module for modules in EXTRAS.values() for module in modules)

DISTRIBUTION = "source-contractfit"


class MissingExtra(ImportError):
    """An optional extra is not installed; the message is the one line to show."""


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(what: str, *extras: str) -> None:
    """Raise `MissingExtra` naming the first of `extras` that is not installed.

    `what` is the thing that needs it ("contractfit export", "source_contractfit.export").
    """
    for extra in extras:
        absent = missing_modules(extra)
        if absent:
            names = " and ".join((", ".join(absent[:-1]), absent[-1]) if absent[:-1] else absent)
            verb = "is" if len(absent) == 1 else "are"
            raise MissingExtra(
                f"{what} needs the '{extra}' extra ({names} {verb} not installed): "
                f"pip install '{DISTRIBUTION}[{extra}]'",
                name=absent[0],
            )
