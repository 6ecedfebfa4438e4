"""The Actions database: connection, schema migrations and the bulk writers of each domain."""

from __future__ import annotations

import threading

import psycopg

from sync_pipelines.store.migrate import migrate

_migrated_urls: set[str] = set()
_migrate_lock = threading.Lock()


def connect(url: str) -> psycopg.Connection:
    """A connection to the Actions database, with the schema brought up to date once per process."""
    conn = psycopg.connect(url)
    # The syncs join and sort whole tables (1,000,000-person extracts): with the 4 MB default those
    # hashes spill to temporary files and a merge takes twice as long.
    conn.execute("SET work_mem = '256MB'")
    conn.commit()
    with _migrate_lock:
        if url not in _migrated_urls:
            migrate(conn)
            _migrated_urls.add(url)
    return conn
