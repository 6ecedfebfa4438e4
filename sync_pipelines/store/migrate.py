"""Versioned schema migrations for the Actions database.

Each file in migrations/ is named NNNN_description.sql and runs once, in order, inside one transaction
that also records it in schema_migrations. An advisory lock serialises concurrent migrators (two runs
starting at once), so every process may call `migrate` on connect.
"""

from __future__ import annotations

from importlib import resources

import psycopg

_LOCK_KEY = 0x5C_AC_71_0A  # any constant, unique to this project


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration file, in version order."""
    found = []
    for entry in resources.files("sync_pipelines.store.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply every pending migration; returns the names applied (empty when up to date)."""
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in available_migrations():
            if version in done:
                continue
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
            applied_now.append(name)
    return applied_now
