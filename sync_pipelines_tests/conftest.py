"""Shared pytest fixtures live in sync_pipelines_tests/fixtures/, one module per service."""

import os

# The tests select the sandbox explicitly: services without a URL are the local emulators.
os.environ["SYNC_ENV"] = "sandbox"

pytest_plugins = [
    "sync_pipelines_tests.fixtures.database",
    "sync_pipelines_tests.fixtures.dagster_storage",
    "sync_pipelines_tests.fixtures.marketo",
    "sync_pipelines_tests.fixtures.salesforce",
]
