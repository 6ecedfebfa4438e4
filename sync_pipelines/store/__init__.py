"""The Actions database: connections, the schema migrations, and the SQL of every domain.

Owns: every SQL statement the sync runs, the migrations (migrations/, applied by
`python -m sync_pipelines.store.migrate`), COPY bulk loads and keyed upserts.
May import: the standard library, psycopg, pandas/pyarrow, `sync_pipelines.paths`,
`sync_pipelines.environment` and other store modules. Never a domain package (people, activities, tasks,
unsubscribes...), the sandbox, resources or definitions: the domains build on the store, not the other way
round (sync_pipelines_tests/test_layers.py checks it).
"""

from __future__ import annotations

import threading

import psycopg

from sync_pipelines.store.database import redacted

_checked_urls: set[str] = set()
_check_lock = threading.Lock()


class DatabaseUrlError(psycopg.OperationalError):
    """SYNC_DATABASE_URL cannot be used; the message never quotes the URL (it may hold a password)."""


def connect(url: str, *, variable: str = "SYNC_DATABASE_URL") -> psycopg.Connection:
    """A connection to the Actions database. The first per process and URL checks that the schema is
    current (it never migrates: see store/migrate.py) and raises SchemaNotCurrent when it is not.

    psycopg quotes a malformed connection string back in its errors, password and all: those become a
    DatabaseUrlError that names the variable instead, with no chained cause to leak through a traceback.
    """
    try:
        conn = psycopg.connect(url)
    except psycopg.Error as error:
        reason = _safe_reason(error, url)
        raise DatabaseUrlError(f"cannot connect with {variable} ({redacted(url)}): {reason}") from None
    try:
        # The syncs join and sort whole tables (1,000,000-person extracts): with the 4 MB default those
        # hashes spill to temporary files and a merge takes twice as long.
        conn.execute("SET work_mem = '256MB'")
        conn.commit()
        with _check_lock:
            if url not in _checked_urls:
                # imported here so that `python -m sync_pipelines.store.migrate` runs the module only once
                from sync_pipelines.store.migrate import check_current

                check_current(conn)
                _checked_urls.add(url)
    except BaseException:
        conn.close()
        raise
    return conn


def _safe_reason(error: psycopg.Error, url: str) -> str:
    """psycopg's message when it quotes no part of the URL's secrets, else just the error's kind."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    try:
        password = psycopg.conninfo.conninfo_to_dict(url).get("password") or ""
    except psycopg.Error:
        password = ""
    if isinstance(error, psycopg.ProgrammingError) or not message or (password and password in str(error)) or url in str(error):
        return f"{type(error).__name__} (the URL is malformed or refused; details withheld: they quote it)"
    return message
