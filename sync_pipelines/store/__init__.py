"""The Actions database: connection, schema migrations and the bulk writers of each domain."""

from __future__ import annotations

import threading

import psycopg

from sync_pipelines.store.database import redacted
from sync_pipelines.store.migrate import migrate

_migrated_urls: set[str] = set()
_migrate_lock = threading.Lock()


class DatabaseUrlError(psycopg.OperationalError):
    """SYNC_DATABASE_URL cannot be used; the message never quotes the URL (it may hold a password)."""


def connect(url: str, *, variable: str = "SYNC_DATABASE_URL") -> psycopg.Connection:
    """A connection to the Actions database, with the schema brought up to date once per process.

    psycopg quotes a malformed connection string back in its errors, password and all: those become a
    DatabaseUrlError that names the variable instead, with no chained cause to leak through a traceback.
    """
    try:
        conn = psycopg.connect(url)
    except psycopg.Error as error:
        reason = _safe_reason(error, url)
        raise DatabaseUrlError(f"cannot connect with {variable} ({redacted(url)}): {reason}") from None
    # The syncs join and sort whole tables (1,000,000-person extracts): with the 4 MB default those
    # hashes spill to temporary files and a merge takes twice as long.
    conn.execute("SET work_mem = '256MB'")
    conn.commit()
    with _migrate_lock:
        if url not in _migrated_urls:
            migrate(conn)
            _migrated_urls.add(url)
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
