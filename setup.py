"""Build step of the optional native normalizer; everything else is in pyproject.toml.

`_native` is a C extension (source_contractfit/export/normalize/_native.c) that writes the
rows of `fields` and `line_items` straight into Arrow buffers, and holds the other document
tables' rows as Arrow buffers too. It is optional: where no C
compiler is at hand the build goes on without it and the exporter uses the Python fast
path (same rows, slower), so the Airbyte source installs everywhere.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "source_contractfit.export.normalize._native",
            sources=["source_contractfit/export/normalize/_native.c"],
            depends=[
                "source_contractfit/export/normalize/_tape.h",
                "source_contractfit/export/normalize/_documents.h",
            ],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
