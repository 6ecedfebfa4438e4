"""Where the PostgreSQL databases are: a URL from the environment, or an embedded server.

`SYNC_DATABASE_URL` (the Actions database) and `DAGSTER_POSTGRES_URL` (Dagster's own storage) win when
set. Otherwise an embedded PostgreSQL from the `pgserver` package serves under `.sync_data/pg`, shared by
every process of the project on this machine (pgserver reuses a running instance).
"""

from __future__ import annotations

import os
import signal
import time

import psycopg

from sync_pipelines.paths import data_dir

ACTIONS_DATABASE = "actions"
DAGSTER_DATABASE = "dagster"

def embedded_database_url(database: str) -> str:
    """Start (or reuse) the embedded server and return a URL for `database`, creating it if missing."""
    try:
        import pgserver  # imported lazily: only the embedded path needs it (the `sandbox` extra)
    except ModuleNotFoundError:
        raise RuntimeError(
            "no database URL is set and the embedded PostgreSQL is not installed (it comes with the "
            "`sandbox` extra: pip install '.[sandbox]'); in production set SYNC_DATABASE_URL and DAGSTER_POSTGRES_URL"
        ) from None

    data_dir().mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir() / "pg", cleanup_mode=None)
    _create_database_if_missing(server.get_uri("postgres"), database)
    return server.get_uri(database)


def stop_embedded_server(timeout_seconds: float = 30.0) -> bool:
    """Stop the embedded server under .sync_data/pg if it runs; True when one was stopped.

    SIGINT is PostgreSQL's fast shutdown: open transactions roll back, the data stays consistent.
    """
    try:
        pid = int((data_dir() / "pg" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGINT)
    except (OSError, ValueError, IndexError):
        return False  # no pid file, or its process is gone: nothing runs
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    raise RuntimeError(f"the embedded PostgreSQL (pid {pid}) did not stop within {timeout_seconds:.0f} s")


def _create_database_if_missing(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')


def actions_database_url(configured: str | None = None) -> str:
    """The Actions database: the given URL, else `SYNC_DATABASE_URL`, else (sandbox only) the embedded server."""
    url = configured or os.environ.get("SYNC_DATABASE_URL")
    if url:
        return url
    from sync_pipelines.environment import require_sandbox

    require_sandbox("SYNC_DATABASE_URL")
    return embedded_database_url(ACTIONS_DATABASE)


def dagster_database_url() -> str:
    """Dagster's run/event/schedule storage: `DAGSTER_POSTGRES_URL`, else the embedded server."""
    url = os.environ.get("DAGSTER_POSTGRES_URL") or embedded_database_url(DAGSTER_DATABASE)
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, whose server-side parameters break
    # dagster-postgres's `NOTIFY channel, %s`; dagster-postgres is written for psycopg2.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def redacted(url: str) -> str:
    """The URL without its password, for messages; a URL that does not parse is not shown at all."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "<unparseable URL>"
    return psycopg.conninfo.make_conninfo(**{**params, "password": "***"}) if "password" in params else \
        psycopg.conninfo.make_conninfo(**params)
