"""Fixtures of the UI test: Debian's chromium under Playwright, and a Dagster webserver on the sandbox.

The webserver's environment is what a data engineer's `make dev` has: no Marketo or Salesforce URL, so
the project's sandbox emulators serve (started here, in a temporary data directory, and stopped after);
the Actions data and Dagster's storage each in a fresh PostgreSQL database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipelines.sandbox.launcher import ensure_sandbox, stop_sandbox
from sync_pipelines_tests.ui.browser import CHROMIUM_ARGS, ensure_chromium
from sync_pipelines_tests.ui.webserver import DagsterWebserver

# Variables that would point the sync at real services or other storage; the test sets its own.
_SERVICE_VARIABLES = ("MARKETO_", "SALESFORCE_", "SYNC_DATABASE_URL", "DAGSTER_POSTGRES_URL", "DAGSTER_HOME",
                      "SYNC_DATA_DIR")


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """/usr/bin/chromium, installed with apt-get when missing (as root); the test skips where it cannot be."""
    path, reason = ensure_chromium()
    if path is None:
        pytest.skip(f"UI test skipped: no browser can be installed here ({reason})")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: Path):
    """A headless chromium driven by Playwright (the system browser; Playwright's own builds are not used).

    Per module, not per session: Playwright's sync API keeps an asyncio loop running on the thread while it is
    open, and a Dagster run executed on that thread afterwards (a later test of the same xdist worker) could
    not shut its own loop down cleanly."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the `playwright` package is missing: install the test extras (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def webserver(tmp_path: Path, database_url: str, dagster_storage_url: str) -> Iterator[DagsterWebserver]:
    """dagster-webserver on a free loopback port, the code location loaded, runs stored in PostgreSQL.

    The project's sandbox emulators (Marketo and Salesforce) serve from a temporary data directory:
    with no service URL in the environment, the resources find them through SYNC_DATA_DIR. Why not
    MARKETO_BASE_URL pointing at a served emulator: with a base URL the resource's export status polls
    back off up to 30 s (production's cap); the sandbox path caps them at 0.2 s.
    """
    data_dir = tmp_path / "sync_data"
    env = {key: value for key, value in os.environ.items() if not key.startswith(_SERVICE_VARIABLES)}
    env.update(SYNC_DATA_DIR=str(data_dir), SYNC_DATABASE_URL=database_url, DAGSTER_POSTGRES_URL=dagster_storage_url)
    server = DagsterWebserver(tmp_path / "dagster_home", env)
    try:
        ensure_sandbox(data_dir)  # while the webserver loads the code location
        server.wait_until_loaded()
        yield server
    finally:
        server.stop()
        stop_sandbox(data_dir)
