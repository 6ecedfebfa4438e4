"""Shared pytest fixtures live in sync_pipelines_tests/fixtures/, one module per service."""

pytest_plugins = [
    "sync_pipelines_tests.fixtures.database",
    "sync_pipelines_tests.fixtures.marketo",
    "sync_pipelines_tests.fixtures.salesforce",
]
