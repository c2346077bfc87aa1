"""The CDK's own standard source tests (spec, check, discover, basic read, bad catalog).

Scenarios come from acceptance-test-config.yml beside this file; the configs it names are
written by the session fixture in conftest.py, pointing at the live emulator.
"""

from __future__ import annotations

from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from source_contractfit.airbyte.source import SourceContractfit

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]


class TestContractfitStandardSuite(SourceTestSuiteBase):
    connector = SourceContractfit
