"""Fixtures of the people tests that follow Marketo changes: a Dagster instance, and an Actions database
where the admin has started the sync."""

import dagster as dg
import pytest

from sync_pipelines import store
from sync_pipelines.store.sync_control import start_sync


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


@pytest.fixture
def started_database(database_url, monkeypatch):
    """The Actions database of the environment (SYNC_DATABASE_URL), with the sync started."""
    with store.connect(database_url) as conn:
        start_sync(conn)
    monkeypatch.setenv("SYNC_DATABASE_URL", database_url)
    return database_url
